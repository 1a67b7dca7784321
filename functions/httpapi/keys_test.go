package httpapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"pgregory.net/rapid"
)

const noAuthEvent = "apigw-v2-request-no-authorizer.json"

// listKeys pages through GET /keys with the given query and returns every key.
func listKeys(t *testing.T, h *Handler, query string) []string {
	t.Helper()
	var out []string
	after := ""
	for range 100 {
		q := query
		if after != "" {
			q += "&after=" + after
		}
		r := do(t, h, event(t, noAuthEvent, "GET", "/keys?"+strings.TrimPrefix(q, "&"), nil, nil))
		var p client.KeysPage
		if r.StatusCode != 200 || r.Headers["Content-Type"] != "application/json" || json.Unmarshal([]byte(r.Body), &p) != nil || p.Keys == nil {
			t.Fatalf("GET /keys?%s: %d %s", q, r.StatusCode, r.Body)
		}
		out = append(out, p.Keys...)
		if p.Next == "" {
			return out
		}
		after = p.Next
	}
	t.Fatal("more than 100 pages")
	return nil
}

// TestKeysRoute: GET /keys lists the live keys (a deleted one is gone, a key
// with a slash or non-ASCII bytes comes back as written), in byte order,
// filtered by prefix, the same whole or page by page; bad parameters answer
// 400 bad_request naming them.
func TestKeysRoute(t *testing.T) {
	h := testHandler(t)
	for _, k := range []string{"b", "a%2Fx", "caf%C3%A9", "a", "ab", "gone"} {
		if r := do(t, h, event(t, noAuthEvent, "PUT", "/kv/"+k, []byte("v"), nil)); r.StatusCode != 204 {
			t.Fatalf("PUT %s: %d %s", k, r.StatusCode, r.Body)
		}
	}
	if r := do(t, h, event(t, noAuthEvent, "DELETE", "/kv/gone", nil, nil)); r.StatusCode != 204 {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	want := []string{"a", "a/x", "ab", "b", "café"}
	if got := listKeys(t, h, ""); !slices.Equal(got, want) {
		t.Errorf("all keys: %q, want %q", got, want)
	}
	for _, limit := range []string{"1", "2", "3"} {
		if got := listKeys(t, h, "limit="+limit); !slices.Equal(got, want) {
			t.Errorf("pages of %s: %q, want %q", limit, got, want)
		}
	}
	if got := listKeys(t, h, "prefix=a&limit=2"); !slices.Equal(got, []string{"a", "a/x", "ab"}) {
		t.Errorf("prefix a: %q", got)
	}
	if got := listKeys(t, h, "prefix=zz"); len(got) != 0 {
		t.Errorf("prefix zz: %q", got)
	}
	for _, q := range []string{"limit=0", "limit=10001", "limit=x", "after=%%%", "after=not+base64!", "foo=1", "r=2"} {
		r := do(t, h, event(t, noAuthEvent, "GET", "/keys?"+q, nil, nil))
		var e client.ErrorBody
		if r.StatusCode != 400 || json.Unmarshal([]byte(r.Body), &e) != nil || e.Code != client.CodeBadRequest {
			t.Errorf("GET /keys?%s: %d %s, want 400 bad_request", q, r.StatusCode, r.Body)
		}
	}
	if r := do(t, h, event(t, noAuthEvent, "PUT", "/keys", nil, nil)); r.StatusCode != 405 || r.Headers["Allow"] != "GET" {
		t.Errorf("PUT /keys: %d %v", r.StatusCode, r.Headers)
	}
	// /metrics is cartwheel serve's alone: the Lambda handler has no such route.
	if r := do(t, h, event(t, noAuthEvent, "GET", "/metrics", nil, nil)); r.StatusCode != 404 || !strings.Contains(r.Body, client.CodeNoRoute) {
		t.Errorf("GET /metrics through the handler: %d %s", r.StatusCode, r.Body)
	}
	if client.MaxKeysLimit != coordinator.MaxListLimit {
		t.Errorf("client.MaxKeysLimit %d != coordinator.MaxListLimit %d", client.MaxKeysLimit, coordinator.MaxListLimit)
	}
}

// TestHealthRoutes: /healthz answers 200; /readyz answers 200 with its checks
// while every partition has 2 primaries up, and 503 naming the failed check
// once two nodes are down (4 nodes, N=3: some partition has both).
func TestHealthRoutes(t *testing.T) {
	h := testHandler(t)
	health := func(path string) (int, client.Health) {
		t.Helper()
		r := do(t, h, event(t, noAuthEvent, "GET", path, nil, nil))
		var b client.Health
		if r.Headers["Content-Type"] != "application/json" || json.Unmarshal([]byte(r.Body), &b) != nil {
			t.Fatalf("GET %s: %d %s", path, r.StatusCode, r.Body)
		}
		return r.StatusCode, b
	}
	if code, b := health("/healthz"); code != 200 || b.Status != "ok" {
		t.Errorf("healthz: %d %+v", code, b)
	}
	if code, b := health("/readyz"); code != 200 || b.Status != "ok" || !strings.HasPrefix(b.Checks["membership"], "ok") || !strings.HasPrefix(b.Checks["replicas"], "ok") {
		t.Errorf("readyz: %d %+v", code, b)
	}
	for _, n := range []string{"n1", "n2"} {
		if r := do(t, h, event(t, noAuthEvent, "PUT", "/admin/nodes/"+n+"/state", []byte(`{"state":"down"}`), nil)); r.StatusCode != 200 {
			t.Fatalf("set %s down: %d %s", n, r.StatusCode, r.Body)
		}
	}
	if code, b := health("/readyz"); code != 503 || b.Status != "unavailable" || !strings.HasPrefix(b.Checks["replicas"], "failed") || !strings.Contains(b.Checks["replicas"], "n1, n2") {
		t.Errorf("readyz with two nodes down: %d %+v", code, b)
	}
	if code, _ := health("/healthz"); code != 200 {
		t.Errorf("healthz with two nodes down: %d", code)
	}
}

// TestKeysToken: a cursor survives its token for any key and snapshot id,
// and only tokens decode.
func TestKeysToken(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		c := coordinator.ListCursor{
			Snapshot: rapid.StringMatching(`[0-9a-f]{0,16}`).Draw(rt, "snapshot"),
			After:    rapid.StringN(1, 64, -1).Draw(rt, "after"),
		}
		got, ok := keysAfter(keysToken(c))
		if !ok || got != c {
			rt.Fatalf("%+v -> %q -> %+v, %v", c, keysToken(c), got, ok)
		}
	})
	for _, bad := range []string{"!", "YQ", "Cg"} { // not base64url; "a" (no newline); "\n" (no key)
		if _, ok := keysAfter(bad); ok {
			t.Errorf("keysAfter(%q) accepted", bad)
		}
	}
}
