package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/internal/setcheck"
)

// TestRegionCut runs `check --region-cut b` against a local server shaped
// like make run's (6 nodes in zones a, b, c of one region): no node's
// location names region b, so the cut takes zone b's nodes down (an AZ
// outage) from a quarter to three quarters of the run, with the clients
// spread over two coordinator URLs. Nothing acknowledged may be lost, the cut
// must have failed replica requests, and no fault may be left behind.
func TestRegionCut(t *testing.T) {
	base := startServerWith(t, "", func(o *serveOptions) { o.nodes = 6 })
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := cli(t, base, "", "check", "--region-cut", "b", "--nemesis=false", "--coordinators", base+"/",
		"--duration", "3s", "--clients", "4", "--keys", "3", "--settle", "60s", "--seed", "11", "--prefix", "region-cut", "--out", out)
	if code != 0 {
		t.Fatalf("check --region-cut b: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("set check with a zone cut:\n%s", stdout)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep setcheck.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("--out is not a JSON report: %v", err)
	}
	g := rep.Region
	switch {
	case g == nil:
		t.Fatalf("the report has no region part: %s", b)
	case g.CutAt < 0 || g.HealedAt < g.CutAt || g.Error != "":
		t.Fatalf("the region nemesis did not cut and heal: %+v", g)
	case !strings.Contains(g.Name, "zone b") || !strings.Contains(g.Name, "n2") || !strings.Contains(g.Name, "n5") || strings.Contains(g.Name, "n1"):
		t.Fatalf("the cut took the wrong nodes: %q", g.Name)
	case g.Coordinators != 2:
		t.Fatalf("the clients used %d coordinators, want 2 (--url and --coordinators)", g.Coordinators)
	case rep.Nemesis.Enabled || rep.Nemesis.Faults() != 0:
		t.Fatalf("the random nemesis ran with --nemesis=false: %+v", rep.Nemesis)
	case rep.Acknowledged == 0:
		t.Fatalf("nothing acknowledged: %+v", rep)
	case rep.Lost != 0 || rep.Unexpected != 0:
		t.Fatalf("lost %d, unexpected %d: %+v", rep.Lost, rep.Unexpected, rep.Sets)
	case rep.Nemesis.InjectedFailures <= 0:
		t.Fatalf("no replica request failed by injection: the cut did not take effect: %+v", rep.Nemesis)
	case !strings.Contains(stdout, "region nemesis") || !strings.Contains(stdout, "replica requests failed by injection"):
		t.Fatalf("the table does not show the region cut:\n%s", stdout)
	}
	if r := call(t, "GET", base+"/admin/faults", nil); r.status != 200 || strings.TrimSpace(string(r.body)) != `{"faults":{}}` {
		t.Fatalf("faults left behind: %d %s", r.status, r.body)
	}
	for _, s := range rep.Sets {
		if got := finalSet(t, base, s.Key); len(got) < s.Acknowledged {
			t.Fatalf("%s holds %d elements; %d were acknowledged", s.Key, len(got), s.Acknowledged)
		}
	}

	// Usage errors, before anything is cut.
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--region-cut", "nope"}, "zones: a, b, c"},
		{[]string{"--region-cut", "b", "--region-cut-at", "5s"}, "not within --duration"},
		{[]string{"--region-cut", "b", "--duration", "0", "--ops", "5"}, "--region-cut-for"},
		{[]string{"--region-cut-for", "1s"}, "need --region-cut"},
		{[]string{"--coordinators", "localhost:8080"}, "--coordinators"},
	} {
		args := append([]string{"check", "--duration", "2s", "--nemesis=false"}, c.args...)
		if code, _, stderr := cli(t, base, "", args...); code != exitUsage || !strings.Contains(stderr, c.says) {
			t.Errorf("cartwheel %s: exit %d, want %d saying %q: %s", strings.Join(args, " "), code, exitUsage, c.says, stderr)
		}
	}
	if r := call(t, "GET", base+"/admin/faults", nil); strings.TrimSpace(string(r.body)) != `{"faults":{}}` {
		t.Fatalf("a refused check left faults: %s", r.body)
	}
}

// TestRegionCutInterrupted: a check interrupted while its cut is on (as by
// Ctrl-C) still brings the region back.
func TestRegionCutInterrupted(t *testing.T) {
	base := startServerWith(t, "", func(o *serveOptions) { o.nodes = 6 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--url", base, "check", "--region-cut", "c", "--region-cut-at", "10ms", "--region-cut-for", "1m",
			"--duration", "1m", "--nemesis=false", "--clients", "2"}, strings.NewReader(""), &out, &errb)
	}()
	// Wait until the cut is on, then interrupt.
	for {
		r := call(t, "GET", base+"/admin/faults", nil)
		if strings.Contains(string(r.body), `"n3":{"mode":"down"}`) && strings.Contains(string(r.body), `"n6":{"mode":"down"}`) {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("the check ended (exit %d) before its cut was seen: %s %s", code, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != exitError || !strings.Contains(errb.String(), "interrupted") {
		t.Fatalf("interrupted check: exit %d, %s", code, errb.String())
	}
	if r := call(t, "GET", base+"/admin/faults", nil); strings.TrimSpace(string(r.body)) != `{"faults":{}}` {
		t.Fatalf("the interrupted check left its cut: %s", r.body)
	}
}

// TestRegionMembers: a region matches node locations first; a zone only
// when no location names it.
func TestRegionMembers(t *testing.T) {
	node := func(id, zone, region string) regionNode {
		n := regionNode{ID: id, Zone: zone}
		n.Location.Region = region
		return n
	}
	nodes := []regionNode{
		node("n1", "use1-az4", ""), node("n2", "use1-az5", ""),
		node("eu1", "eu-west-1", "eu-west-1"), node("eu2", "eu-west-1b", "eu-west-1"),
		node("ap1", "ap-southeast-2", ""),
	}
	for _, c := range []struct {
		name, by string
		ids      []string
	}{
		{"eu-west-1", "region", []string{"eu1", "eu2"}},
		{"use1-az5", "zone", []string{"n2"}},
		{"ap-southeast-2", "zone", []string{"ap1"}},
	} {
		ids, by, err := regionMembers(nodes, c.name)
		if err != nil || by != c.by || strings.Join(ids, ",") != strings.Join(c.ids, ",") {
			t.Errorf("%s: %v by %s (%v), want %v by %s", c.name, ids, by, err, c.ids, c.by)
		}
	}
	for _, name := range []string{"", "us-east-1"} {
		_, _, err := regionMembers(nodes, name)
		if ee, ok := err.(*exitErr); !ok || ee.code != exitUsage || !strings.Contains(ee.msg, "regions: eu-west-1") ||
			!strings.Contains(ee.msg, "zones: ap-southeast-2, eu-west-1, eu-west-1b, use1-az4, use1-az5") {
			t.Errorf("%q: %v", name, err)
		}
	}
}
