package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/internal/setcheck"
)

// startLWWServer is startServer for a cluster created with serve --lww.
func startLWWServer(t *testing.T, endpoint string) string {
	t.Helper()
	return startServerWith(t, endpoint, func(o *serveOptions) { o.lww = true })
}

// finalSet reads a set with r=3 straight from the API, independently of the checker.
func finalSet(t *testing.T, base, key string) map[int64]bool {
	t.Helper()
	r := call(t, "GET", base+"/kv/"+url.PathEscape(key)+"?r=3", nil, "Accept", "application/json")
	if r.status != 200 && r.status != 300 {
		t.Fatalf("read %s: %d %s", key, r.status, r.body)
	}
	out := map[int64]bool{}
	for _, v := range values(t, r) {
		elems, err := setcheck.ParseSet([]byte(v))
		if err != nil {
			t.Fatalf("%s holds a value that is not a set: %v", key, err)
		}
		for _, e := range elems {
			out[e] = true
		}
	}
	return out
}

// TestSetCheck runs a short set check with the nemesis against the local
// server: nothing acknowledged may be lost. Then the same workload against a
// last-write-wins cluster, which loses writes: the test reports how many.
func TestSetCheck(t *testing.T) {
	for name, ep := range endpoints(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("Siblings", func(t *testing.T) {
				// Ring changes settle quickly here, and a ring of 256
				// partitions transfers in a fraction of a second, so the
				// check's ring-change nemesis commits several while the
				// clients write.
				checkSiblings(t, startServerWith(t, ep, func(o *serveOptions) { o.planSettle, o.q = 300*time.Millisecond, 256 }))
			})
			t.Run("LWW", func(t *testing.T) { checkLWW(t, startLWWServer(t, ep)) })
		})
	}
}

func checkSiblings(t *testing.T, base string) {
	out := filepath.Join(t.TempDir(), "report.json")
	// Bounded by time, not operations: on an idle machine 600 operations
	// took 0.7 s, before the ring-change nemesis's first commit.
	code, stdout, stderr := cli(t, base, "", "check", "--duration", "4s", "--clients", "4", "--keys", "3",
		"--nemesis-interval", "150ms", "--ring-changes", "--max-latency", "50ms", "--settle", "90s", "--seed", "7", "--prefix", "check-test", "--out", out)
	if code != 0 {
		t.Fatalf("check: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("set check:\n%s", stdout)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep setcheck.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("--out is not a JSON report: %v", err)
	}
	switch {
	case rep.Mode != "siblings" || rep.N != 3 || rep.Nodes != 5 || len(rep.Sets) != 3:
		t.Fatalf("report describes the wrong run: %+v", rep)
	case rep.Acknowledged == 0:
		t.Fatalf("nothing acknowledged: %+v", rep)
	case rep.Lost != 0 || rep.Unexpected != 0:
		t.Fatalf("lost %d, unexpected %d: %+v", rep.Lost, rep.Unexpected, rep.Sets)
	case rep.Nemesis.Actions["down"] < 2 || rep.Nemesis.Sloppy == 0 || rep.Nemesis.MaxDown != 2:
		t.Fatalf("the nemesis injected too little: %+v", rep.Nemesis)
	case rep.Nemesis.InjectedFailures <= 0:
		t.Fatalf("no replica request failed by injection: %+v", rep.Nemesis)
	case rep.Nemesis.Ring == nil || rep.Nemesis.Ring.Commits < 1 || rep.Nemesis.Ring.Added == 0:
		t.Fatalf("the ring-change nemesis did too little: %+v", rep.Nemesis.Ring)
	case !strings.Contains(stdout, "PASS"):
		t.Fatalf("table has no verdict:\n%s", stdout)
	}
	// Independently of the checker: each set, read with r=3, holds at least
	// what the report found (a late hint may still add an unacknowledged
	// element), and no fault is left behind.
	for _, s := range rep.Sets {
		if got := finalSet(t, base, s.Key); len(got) < s.Present || len(got) < s.Acknowledged {
			t.Fatalf("%s holds %d elements; the report says %d present, %d acknowledged", s.Key, len(got), s.Present, s.Acknowledged)
		}
	}
	if r := call(t, "GET", base+"/admin/faults", nil); r.status != 200 || strings.TrimSpace(string(r.body)) != `{"faults":{}}` {
		t.Fatalf("faults left behind: %d %s", r.status, r.body)
	}
	// Nor a node or a ring change: the ring is as it was.
	var nodes struct {
		Nodes []struct {
			ID string `json:"id"`
		} `json:"nodes"`
	}
	if r := call(t, "GET", base+"/admin/nodes", nil); r.status != 200 || json.Unmarshal(r.body, &nodes) != nil || len(nodes.Nodes) != 5 {
		t.Fatalf("nodes after the check: %d %s", r.status, r.body)
	}
	for _, n := range nodes.Nodes {
		if n.ID == setcheck.RingNode {
			t.Fatalf("the ring-change nemesis left its node behind: %+v", nodes)
		}
	}
	if r := call(t, "GET", base+"/admin/plan", nil); r.status != 200 || strings.Contains(string(r.body), `"pending":true`) {
		t.Fatalf("a ring change left pending: %d %s", r.status, r.body)
	}
	// A siblings cluster is not last-write-wins: --lww is refused.
	if code, _, stderr := cli(t, base, "", "check", "--lww", "--ops", "1"); code != exitUsage || !strings.Contains(stderr, "serve --lww") {
		t.Fatalf("check --lww on a siblings cluster: exit %d %s", code, stderr)
	}
	if code, _, _ := cli(t, base, "", "check", "--duration", "0"); code != exitUsage {
		t.Fatalf("unbounded check: exit %d, want %d", code, exitUsage)
	}
}

func checkLWW(t *testing.T, base string) {
	// Refused without --lww: the check would fail on losses LWW is known to cause.
	if code, _, stderr := cli(t, base, "", "check", "--ops", "1"); code != exitUsage || !strings.Contains(stderr, "--lww") {
		t.Fatalf("check on an LWW cluster without --lww: exit %d %s", code, stderr)
	}
	code, stdout, stderr := cli(t, base, "", "check", "--lww", "--json", "--duration", "3s", "--ops", "400",
		"--nemesis=false", "--settle", "60s", "--seed", "7", "--prefix", "check-lww")
	if code != 0 {
		t.Fatalf("check --lww: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rep setcheck.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output is not a report: %v\n%s", err, stdout)
	}
	if rep.Mode != "lww" || rep.Acknowledged == 0 || rep.Unexpected != 0 || rep.Nemesis.Enabled {
		t.Fatalf("report %+v", rep)
	}
	// Without the nemesis there are no hints: the sets are exactly as reported.
	for _, s := range rep.Sets {
		if got := finalSet(t, base, s.Key); len(got) != s.Present {
			t.Fatalf("%s holds %d elements; the report says %d", s.Key, len(got), s.Present)
		}
	}
	t.Logf("LWW lost %d of %d acknowledged elements (%.1f%%) in %d operations with %d concurrent clients",
		rep.Lost, rep.Acknowledged, rep.LostPercent, rep.Operations, rep.Clients)
	// Four clients on three keys collide constantly; with a hundred
	// acknowledged writes, last-write-wins dropping none is not plausible.
	if rep.Acknowledged >= 100 && rep.Lost == 0 {
		t.Fatalf("LWW lost nothing of %d acknowledged writes by %d concurrent clients: is LWW on?", rep.Acknowledged, rep.Clients)
	}
}
