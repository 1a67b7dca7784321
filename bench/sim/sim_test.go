package sim

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// small is a configuration that runs every part in a fraction of a second.
func small(dir string) Config {
	c := DefaultConfig()
	c.Nodes, c.Q = 30, 256
	c.LatencyOps = 1000
	c.BalanceKeys, c.BalanceTrials = 5000, 1
	c.BalanceSets = []BalanceSet{{Nodes: 12, Theta: 0.8, Qs: []int{64, 256}}}
	c.Carts, c.Sessions = 2000, 2000
	c.VersionScenarios = []VersionScenario{
		{Name: "busy", Rate: 200, Theta: 0.9},
		{Name: "failures", Rate: 50, Theta: 0.5, MTBFHours: 0.01, MTTRMinutes: 0.5},
	}
	c.MoveKeys, c.MoveQs = 5000, []int{256}
	c.OutDir = dir
	c.Command = "go test"
	return c
}

// TestDeterministic runs every part twice with one seed: the same tables
// (times aside), and the files exist with their sections.
func TestDeterministic(t *testing.T) {
	var outs [2][]byte
	for i := range outs {
		dir := t.TempDir()
		var buf bytes.Buffer
		res, err := Run(small(dir), &buf)
		if err != nil {
			t.Fatal(err)
		}
		res.Seconds = nil
		if outs[i], err = json.Marshal(res); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"sim.json", "sim.md"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []string{"(a) Quorum latency", "(b) Section 6.2", "(c) Section 6.3", "(d) Data moved", "**paper**", "Time per part (run in parallel): a (latency) "} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if strings.Contains(buf.String(), "map[") {
			t.Error("output shows a Go map")
		}
		md, _ := os.ReadFile(filepath.Join(dir, "sim.md"))
		for name, out := range map[string]string{"output": buf.String(), "sim.md": string(md)} {
			if !strings.Contains(out, "(e) Geography") {
				t.Errorf("%s lacks the geography part", name)
			}
			if m := regexp.MustCompile(`(?i)\bissues? #?\d+`).FindString(out); m != "" {
				t.Errorf("%s names %q: the tracker's numbers mean nothing to a reader", name, m)
			}
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("two runs with the same seed differ")
	}
}

// TestModelChecks checks facts the model must reproduce whatever the seed:
// a (3,2) read's median is one GET's median, strategy 3 balances at least as
// well as the paper says relative to strategy 2, concurrent sessions create
// siblings that reads see, and a join moves about the joiner's share.
func TestModelChecks(t *testing.T) {
	c := small("")
	c.Seed = 7
	res, err := Run(c, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Latency.Rows {
		if r.Op == "get (3,2)" && (r.P50VsOne < 0.9 || r.P50VsOne > 1.1 || r.TheoryP50 != res.Latency.Rows[0].TheoryP50) {
			t.Errorf("(3,2) read median: %+v", r)
		}
		if r.Op == "put (3,3)" && r.SimP50 <= res.Latency.Rows[1].SimP50 {
			t.Errorf("(3,3) put faster than one PUT: %+v", r)
		}
	}
	if q := res.Latency.GetP99IsGetQuantile; q < 94 || q > 94.2 {
		t.Errorf("(3,2) p99 is one GET's p%.2f, want 94.1", q)
	}
	busy := res.Versions.Rows[0]
	if busy.Reads == 0 || busy.Counts[0] == 0 || busy.Counts[1] == 0 {
		t.Errorf("busy scenario saw no divergence: %+v", busy)
	}
	fail := res.Versions.Rows[1]
	if fail.NodeFailures == 0 || fail.HintedWrites == 0 || fail.HintsDelivered == 0 {
		t.Errorf("failure scenario: %+v", fail)
	}
	for _, r := range res.Movement.Rows {
		if r.Strategy == 3 && (r.PartitionsMoved < int(r.IdealPartitions) || float64(r.PartitionsMoved) > r.IdealPartitions+1) {
			t.Errorf("claim moved %d partitions, ideal %.1f", r.PartitionsMoved, r.IdealPartitions)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, mut := range []func(*Config){
		func(c *Config) { c.Nodes = 2 },
		func(c *Config) { c.Q = 1000 },
		func(c *Config) { c.GetP99Ms = c.GetP50Ms },
		func(c *Config) { c.Parts = []string{"z"} },
		func(c *Config) { c.VersionScenarios = []VersionScenario{{Rate: 0}} },
	} {
		c := DefaultConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

// TestProgress: with Progress set, each part reports when it is done.
func TestProgress(t *testing.T) {
	c := small("")
	var progress bytes.Buffer
	c.Progress = &progress
	c.ProgressEvery = time.Millisecond // the ticker writes to the same writer as the parts (a race before)
	if _, err := Run(c, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), " s elapsed; running ") {
		t.Errorf("progress lacks the periodic line:\n%s", progress.String())
	}
	for _, p := range []string{"a (latency)", "b (load balance)", "c (versions)", "d (data moved)"} {
		if !strings.Contains(progress.String(), "sim: part "+p+" done in ") {
			t.Errorf("progress lacks part %s:\n%s", p, progress.String())
		}
	}
}
