package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/repair"
)

// withRepair gives the test handler a repair job over its own ports.
func withRepair(t *testing.T, h *Handler, settle time.Duration) {
	t.Helper()
	cfg := repair.DefaultConfig()
	cfg.PlanSettle = settle
	var n uint64
	r, err := repair.New(cfg, repair.Deps{
		Store: h.d.Faults, Members: h.d.Members, Handoff: h.d.Coord, Now: time.Now,
		Rand: func() uint64 { n++; return n },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d.Jobs = repairJobs{r}
}

// repairJobs runs a core repair job as the handler's Jobs (functions/jobs
// does the same in production, and records runs in the stats).
type repairJobs struct{ r *repair.Repairer }

func (j repairJobs) Repair(ctx context.Context) (repair.Report, error) { return j.r.Run(ctx) }
func (j repairJobs) Plan(ctx context.Context) (repair.Plan, error)     { return j.r.Plan(ctx) }
func (j repairJobs) Commit(ctx context.Context) (repair.Report, error) { return j.r.Commit(ctx) }
func (j repairJobs) Reap(ctx context.Context) (repair.Report, error)   { return j.r.Reap(ctx) }

func admin(t *testing.T, h *Handler, method, path string, body string) (Response, map[string]any) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", method, path, b, nil))
	var out map[string]any
	if r.Body != "" {
		if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, r.Body)
		}
	}
	return r, out
}

func TestPlanRoutesWithoutRepairJob(t *testing.T) {
	h := testHandler(t)
	r, out := admin(t, h, "GET", "/admin/plan", "")
	if r.StatusCode != 200 || out["pending"] != false || len(out["nodes"].([]any)) != 4 {
		t.Fatalf("plan: %d %s", r.StatusCode, r.Body)
	}
	// Adding a node plans the change (owners unchanged), and says how much moves.
	r, out = admin(t, h, "POST", "/admin/nodes", `{"id":"n5","zone":"b"}`)
	if r.StatusCode != 200 || out["moved"].(float64) == 0 {
		t.Fatalf("add node: %d %s", r.StatusCode, r.Body)
	}
	r, out = admin(t, h, "GET", "/admin/transfers", "")
	if r.StatusCode != 200 || out["pending"] != true || out["moves"].(float64) == 0 || out["done"].(float64) != 0 {
		t.Fatalf("transfers: %d %s", r.StatusCode, r.Body)
	}
	if !strings.Contains(r.Body, `"to":["n5"]`) {
		t.Fatalf("no partition moves to the new node: %s", r.Body)
	}
	for _, path := range []string{"/admin/commit", "/admin/reap"} {
		if r, out := admin(t, h, "POST", path, ""); r.StatusCode != 501 || out["error"] != "not_available" {
			t.Fatalf("POST %s without a repair job: %d %s", path, r.StatusCode, r.Body)
		}
	}
	for _, tc := range []struct{ method, path string }{
		{"POST", "/admin/plan"}, {"DELETE", "/admin/transfers"}, {"GET", "/admin/commit"}, {"GET", "/admin/reap"},
	} {
		if r, _ := admin(t, h, tc.method, tc.path, ""); r.StatusCode != 405 {
			t.Fatalf("%s %s: %d", tc.method, tc.path, r.StatusCode)
		}
	}
	h.d.Members.(*kvmem.Membership).SetDown(true)
	if r, _ := admin(t, h, "GET", "/admin/plan", ""); r.StatusCode < 500 {
		t.Fatalf("plan without membership: %d", r.StatusCode)
	}
}

func TestPlanTransfersCommit(t *testing.T) {
	h := testHandler(t)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if r, _ := admin(t, h, "PUT", "/kv/"+k, "v"); r.StatusCode != 204 {
			t.Fatalf("put: %d", r.StatusCode)
		}
	}
	withRepair(t, h, time.Hour)
	if r, out := admin(t, h, "POST", "/admin/commit", ""); r.StatusCode != 409 || out["error"] != "no_plan" {
		t.Fatalf("commit without a plan: %d %s", r.StatusCode, r.Body)
	}
	admin(t, h, "POST", "/admin/nodes", `{"id":"n5","zone":"b"}`)
	// The plan is too recent to transfer.
	r, out := admin(t, h, "POST", "/admin/commit", "")
	if r.StatusCode != 409 || out["error"] != "transfers_pending" {
		t.Fatalf("commit while settling: %d %s", r.StatusCode, r.Body)
	}
	if _, out = admin(t, h, "GET", "/admin/plan", ""); out["settling"] != true || out["pending"] != true {
		t.Fatalf("plan: %v", out)
	}
	withRepair(t, h, 0)
	r, _ = admin(t, h, "POST", "/admin/repair", "")
	if r.StatusCode != 200 || !strings.Contains(r.Body, `"committed":true`) || !strings.Contains(r.Body, `"delivered"`) {
		t.Fatalf("repair: %d %s", r.StatusCode, r.Body)
	}
	if _, out = admin(t, h, "GET", "/admin/plan", ""); out["pending"] != false {
		t.Fatalf("still pending after the repair: %v", out)
	}
	// Remove it again, then commit explicitly.
	admin(t, h, "DELETE", "/admin/nodes/n5", "")
	if _, out = admin(t, h, "GET", "/admin/transfers", ""); out["pending"] != true {
		t.Fatalf("removal not planned: %v", out)
	}
	if r, _ = admin(t, h, "POST", "/admin/commit", ""); r.StatusCode != 200 || !strings.Contains(r.Body, `"committed":true`) {
		t.Fatalf("commit: %d %s", r.StatusCode, r.Body)
	}
	if r, _ = admin(t, h, "GET", "/admin/nodes", ""); strings.Contains(r.Body, `"n5"`) {
		t.Fatalf("n5 still a member: %s", r.Body)
	}
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/kv/"+k+"?r=3", nil, nil)); r.StatusCode != 200 {
			t.Fatalf("%s lost after the ring changes: %d", k, r.StatusCode)
		}
	}
	if r, out = admin(t, h, "POST", "/admin/reap", ""); r.StatusCode != 200 || out["antiEntropy"] == nil {
		t.Fatalf("reap: %d %s", r.StatusCode, r.Body)
	}
	h.d.Members.(*kvmem.Membership).SetDown(true)
	for _, path := range []string{"/admin/commit", "/admin/reap"} {
		if r, _ := admin(t, h, "POST", path, ""); r.StatusCode < 500 {
			t.Fatalf("POST %s without membership: %d", path, r.StatusCode)
		}
	}
}
