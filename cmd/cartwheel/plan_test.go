package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// planServer answers the ring-change admin routes with canned JSON.
func planServer(t *testing.T, plan, transfers string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "GET /admin/plan":
			_, _ = w.Write([]byte(plan))
		case "GET /admin/transfers":
			_, _ = w.Write([]byte(transfers))
		case "POST /admin/commit":
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"transfers_pending","message":"1 of 2 moving partitions transferred; run it again"}`))
		case "POST /admin/reap":
			_, _ = w.Write([]byte(`{"antiEntropy":{"reaped":3}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPlanCommands(t *testing.T) {
	base := planServer(t,
		`{"epoch":7,"pending":true,"moves":2,"done":1,"nodes":[{"id":"n1","state":"active","owned":32,"planned":22,"replicas":48,"plannedReplicas":40,"gains":0,"losses":8},{"id":"n4","state":"active","owned":0,"planned":10,"replicas":0,"plannedReplicas":8,"gains":8,"losses":0}]}`,
		`{"epoch":7,"pending":true,"moves":2,"done":1,"transfers":[{"partition":3,"from":["n1"],"to":["n4"],"done":true},{"partition":9,"from":["n2"],"to":["n4"],"done":false}]}`)
	code, out, errs := cli(t, base, "", "plan")
	if code != 0 || !strings.Contains(out, "1 of 2 moving partitions transferred") || !strings.Contains(out, "n4") || !strings.Contains(out, "losses") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasSuffix(strings.Join(strings.Fields(lines[2]), " "), "n1 active 32 22 48 40 0 8") {
		t.Fatalf("plan table:\n%s", out)
	}
	code, out, _ = cli(t, base, "", "transfers")
	if flat := strings.Join(strings.Fields(out), " "); code != 0 || !strings.Contains(flat, "9 n2 n4 waiting") || strings.Contains(flat, "3 n1 n4 done") {
		t.Fatalf("transfers:\n%s", out)
	}
	if code, out, _ = cli(t, base, "", "transfers", "--all"); code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), "3 n1 n4 done") {
		t.Fatalf("transfers --all:\n%s", out)
	}
	if code, out, _ = cli(t, base, "", "plan", "--json"); code != 0 || !strings.Contains(out, `"plannedReplicas": 40`) {
		t.Fatalf("plan --json:\n%s", out)
	}
	if code, _, errs = cli(t, base, "", "plan", "commit"); code != exitRejected || !strings.Contains(errs, "run it again") {
		t.Fatalf("plan commit: exit %d %s", code, errs)
	}
	if code, out, _ = cli(t, base, "", "reap"); code != 0 || !strings.Contains(out, "3 reaped") {
		t.Fatalf("reap: exit %d %s", code, out)
	}
}

func TestPlanStatusLines(t *testing.T) {
	for _, tc := range []struct{ plan, want string }{
		{`{"epoch":3,"pending":false}`, "No ring change pending (membership epoch 3)."},
		{`{"epoch":3,"pending":true,"settling":true,"moves":5}`, "settling before transfers start"},
		{`{"epoch":3,"pending":true,"moves":5,"done":5}`, "the next repair commits it"},
	} {
		base := planServer(t, tc.plan, tc.plan)
		if code, out, _ := cli(t, base, "", "transfers"); code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d %q", tc.plan, code, out)
		}
	}
	base := planServer(t, `not json`, `{}`)
	if code, _, errs := cli(t, base, "", "plan"); code != exitError || !strings.Contains(errs, "bad answer") {
		t.Fatalf("bad answer: exit %d %s", code, errs)
	}
	if code, _, _ := cli(t, "http://127.0.0.1:1", "", "plan"); code == 0 {
		t.Fatal("plan against no server succeeded")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"internal","message":"boom"}`, 500)
	}))
	defer srv.Close()
	if code, _, errs := cli(t, srv.URL, "", "plan"); code != exitError || !strings.Contains(errs, "boom") {
		t.Fatalf("server error: exit %d %s", code, errs)
	}
}
