package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
)

// A departed node whose storage does not answer keeps its clean-up through
// every repair; DELETE /admin/cleanups/{node} forgets it (200 with the
// partition count, logged at warn), and answers 404 when there is nothing
// to forget and 409 for a member. GET /admin/plan lists the clean-ups.
func TestForgetCleanupsRoute(t *testing.T) {
	h := testHandler(t)
	var logs bytes.Buffer
	h.d.Log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		if r, _ := admin(t, h, "PUT", "/kv/"+k, "v"); r.StatusCode != 204 {
			t.Fatalf("put: %d", r.StatusCode)
		}
	}
	withRepair(t, h, 0)
	if r, _ := admin(t, h, "DELETE", "/admin/nodes/n4", ""); r.StatusCode != 200 {
		t.Fatalf("remove: %d %s", r.StatusCode, r.Body)
	}
	if r, _ := admin(t, h, "DELETE", "/admin/cleanups/n4", ""); r.StatusCode != 409 || !strings.Contains(r.Body, `"still_member"`) {
		t.Fatalf("forget a leaving member: %d %s", r.StatusCode, r.Body)
	}
	// Its storage goes for good before the commit's clean-up can list it.
	loc := kv.Location{Bucket: "b", Prefix: "n4/"}
	if err := h.d.Faults.Set(loc, faults.Mode{Kind: "down"}); err != nil {
		t.Fatal(err)
	}
	if r, _ := admin(t, h, "POST", "/admin/commit", ""); r.StatusCode != 200 {
		t.Fatalf("commit: %d %s", r.StatusCode, r.Body)
	}
	c, err := h.d.Members.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n4, ok := c.Departed("n4"); !ok || n4.Location != loc {
		t.Fatalf("no departed clean-up after the commit: %+v", c.Cleanups)
	}
	var ps []int
	for _, cl := range c.Cleanups {
		if cl.Node.ID == "n4" && cl.Departed {
			ps = cl.Partitions
		}
	}
	// Its storage is gone: the repair job cannot list it, and the clean-up stays.
	if r, _ := admin(t, h, "POST", "/admin/repair", ""); r.StatusCode != 200 {
		t.Fatalf("repair: %d %s", r.StatusCode, r.Body)
	}
	if c, _ = h.d.Members.Load(ctx); !hasDeparted(c, "n4") {
		t.Fatal("the clean-up of an unreachable node finished")
	}
	r, out := admin(t, h, "GET", "/admin/plan", "")
	if r.StatusCode != 200 || !strings.Contains(r.Body, `{"node":"n4","departed":true,"partitions":[`) {
		t.Fatalf("plan does not show n4's clean-up: %d %s", r.StatusCode, r.Body)
	}
	if _, isList := out["cleanups"].([]any); !isList {
		t.Fatalf("cleanups: %T", out["cleanups"])
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"DELETE", "/admin/cleanups/n1", 409, "still_member"},
		{"DELETE", "/admin/cleanups/nosuch", 404, "not_found"},
		{"GET", "/admin/cleanups/n4", 405, "method_not_allowed"},
	} {
		if r, out := admin(t, h, tc.method, tc.path, ""); r.StatusCode != tc.status || out["error"] != tc.code {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, r.StatusCode, r.Body)
		}
	}
	before, _ := h.d.Members.Load(ctx)
	if before.Epoch != c.Epoch {
		t.Fatal("a refused forget changed the record")
	}
	r, out = admin(t, h, "DELETE", "/admin/cleanups/n4", "")
	if r.StatusCode != 200 || out["node"] != "n4" || out["partitions"] != float64(len(ps)) {
		t.Fatalf("forget: %d %s (want %d partitions)", r.StatusCode, r.Body, len(ps))
	}
	after, _ := h.d.Members.Load(ctx)
	if hasDeparted(after, "n4") || after.Epoch != before.Epoch+1 {
		t.Fatalf("record after forget: epoch %d -> %d, cleanups %+v", before.Epoch, after.Epoch, after.Cleanups)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "node=n4") {
		t.Fatalf("not logged at warn:\n%s", logs.String())
	}
	if r, out = admin(t, h, "DELETE", "/admin/cleanups/n4", ""); r.StatusCode != 404 || out["error"] != "not_found" {
		t.Fatalf("forget again: %d %s", r.StatusCode, r.Body)
	}
	if r, _ = admin(t, h, "GET", "/admin/plan", ""); strings.Contains(r.Body, `"node":"n4"`) {
		t.Fatalf("plan still shows n4: %s", r.Body)
	}
	// Every acknowledged write is still readable from the current owners.
	for _, k := range []string{"a", "b", "c", "d"} {
		if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/kv/"+k+"?r=3", nil, nil)); r.StatusCode != 200 {
			t.Fatalf("%s: %d", k, r.StatusCode)
		}
	}
}

func hasDeparted(c kv.Cluster, id string) bool {
	_, ok := c.Departed(id)
	return ok
}
