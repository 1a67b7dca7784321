package httpapi

import (
	"testing"
)

// TestCancelPlanRoute: DELETE /admin/plan cancels a pending ring change
// (ownership unchanged, the added node gone); with none pending it answers
// 409 no_plan.
func TestCancelPlanRoute(t *testing.T) {
	h := testHandler(t)
	if r, out := admin(t, h, "DELETE", "/admin/plan", ""); r.StatusCode != 409 || out["error"] != "no_plan" {
		t.Fatalf("cancel without a plan: %d %s", r.StatusCode, r.Body)
	}
	r, out := admin(t, h, "POST", "/admin/nodes", `{"id":"n5","zone":"b"}`)
	if r.StatusCode != 200 {
		t.Fatalf("add node: %d %s", r.StatusCode, r.Body)
	}
	planned := out["moved"].(float64)
	r, out = admin(t, h, "DELETE", "/admin/plan", "")
	if r.StatusCode != 200 || out["moved"].(float64) != planned {
		t.Fatalf("cancel: %d %s (planned %v moves)", r.StatusCode, r.Body, planned)
	}
	if r, out := admin(t, h, "GET", "/admin/plan", ""); r.StatusCode != 200 || out["pending"] != false {
		t.Fatalf("plan after cancel: %d %s", r.StatusCode, r.Body)
	}
	_, out = admin(t, h, "GET", "/admin/nodes", "")
	for _, n := range out["nodes"].([]any) {
		if n := n.(map[string]any); n["id"] == "n5" {
			t.Fatalf("the node the cancelled plan added is still a member: %v", n)
		}
	}
}

// TestAdminMethodNotAllowed: a wrong method on an admin resource answers 405
// with the resource's real methods in Allow.
func TestAdminMethodNotAllowed(t *testing.T) {
	h := testHandler(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "/admin/ring", "GET"},
		{"PUT", "/admin/nodes", "GET, POST"},
		{"GET", "/admin/nodes/n1", "DELETE"},
		{"GET", "/admin/nodes/n1/state", "PUT"},
		{"GET", "/admin/repair", "POST"},
		{"POST", "/admin/stats", "GET"},
		{"POST", "/admin/plan", "GET, DELETE"},
	} {
		r, out := admin(t, h, tc.method, tc.path, "")
		if r.StatusCode != 405 || r.Headers["Allow"] != tc.allow || out["message"] != "method not allowed; use "+tc.allow {
			t.Errorf("%s %s: %d Allow %q %s, want 405 Allow %q", tc.method, tc.path, r.StatusCode, r.Headers["Allow"], r.Body, tc.allow)
		}
	}
	// A slow fault needs a latency.
	if r, out := admin(t, h, "PUT", "/admin/faults/n1", `{"mode":"slow"}`); r.StatusCode != 400 || out["error"] != "bad_request" {
		t.Errorf("slow fault without latency: %d %s", r.StatusCode, r.Body)
	}
	if r, _ := admin(t, h, "PUT", "/admin/faults/n1", `{"mode":"slow","latencyMs":20}`); r.StatusCode != 200 {
		t.Errorf("slow fault with latency: %d %s", r.StatusCode, r.Body)
	}
}
