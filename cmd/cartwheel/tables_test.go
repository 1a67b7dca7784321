package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestAdminTables: the admin commands print tables by default and the JSON
// document with --json, against a real server with a node down, a pending
// plan and a hinted replica.
func TestAdminTables(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	base := startServer(t, "")
	cw := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"--url", base}, args...), strings.NewReader("v"), &out, &errb)
		if code != want {
			t.Fatalf("cartwheel %s: exit %d, want %d (%s)", strings.Join(args, " "), code, want, errb.String())
		}
		return out.String()
	}
	has := func(what, out string, patterns ...string) {
		t.Helper()
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(out) {
				t.Errorf("%s: no match for %q in:\n%s", what, p, out)
			}
		}
	}
	isJSON := func(what, out string) {
		t.Helper()
		if !json.Valid([]byte(out)) {
			t.Errorf("%s --json: not JSON: %.200s", what, out)
		}
	}
	// Find a key whose first primary is n1, then take n1 down and write it.
	var key string
	for i := 0; key == ""; i++ {
		k := "tbl-" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
		var pl preflistView
		if err := json.Unmarshal([]byte(cw(0, "preflist", k, "--json")), &pl); err != nil {
			t.Fatal(err)
		}
		if pl.Replicas[0].Node == "n1" {
			key = k
		}
	}
	has("preflist", cw(0, "preflist", key), `partition \d+ of 4096`, `#\s+NODE\s+ZONE\s+ROLE`, `(?m)^1\s+n1\s+a\s+primary$`)
	has("fault", cw(0, "fault", "n1", "down"), `^n1: down\n$`)
	cw(0, "put", key, "--w", "all") // the fallback's hinted replica counts toward W
	has("fault list", cw(0, "fault"), `NODE\s+FAULT`, `n1\s+down`)
	has("hints", cw(0, "hints"), `Hint queue: \d+ waiting`, `(?m)^n1\s+\?\s+could not list`, `n1: 1`)
	has("nodes", cw(0, "nodes"), `NODE\s+ZONE\s+STATE\s+OWNERSHIP\s+PARTITIONS\s+REPLICAS\s+HINTS\s+FAULT\s+ERRORS\s+P99`,
		`(?m)^n1\s+a\s+active\s+20\.0%\s+8\d\d\s+\d+\s+\?\s+down\s+[1-9]\d*/[1-9]\d*\s+[\d.]+ ms\s+1$`, `(?m)^n2\s+b\s+active\s.*\s0/[1-9]\d*\s+[\d.]+ ms\s+1$`, `5 nodes, 4096 partitions; ring epoch 1 \(ring changes\), membership epoch \d+`)
	has("node state", cw(0, "node", "state", "n2", "down"), `node n2 down \(membership epoch \d+\); no partition moves`)
	has("nodes", cw(0, "nodes"), `(?m)^n2\s+b\s+down\s`)
	cw(0, "node", "state", "n2", "active")
	has("stats", cw(0, "stats"), `requests\s+gets \d+, puts [1-9]`, `latency since start\s+get p50`, `hints\s+queued [1-9]`)
	added := cw(0, "node", "add", "n9", "--zone", "c")
	has("node add", added, `planned: \d+ partitions move \(their replicas change; \d+ of them change owner\)`)
	if m := regexp.MustCompile(`planned: (\d+) partitions move`).FindStringSubmatch(added); m != nil {
		has("plan after node add", cw(0, "plan"), ` `+m[1]+` partitions move`) // the same count as node add's
	}
	has("ring", cw(0, "ring"), `Q=4096 partitions, N=3 R=2 W=2`, `AFTER THE PENDING CHANGE`, `(?m)^n9\s+0\s+0\.0%\s+\d+ \(16\.7%\)$`)
	has("nodes", cw(0, "nodes"), `A ring change is pending`)
	has("plan clear", cw(0, "plan", "clear"), `Ring change cancelled \(membership epoch \d+\): \d+ partitions stay`)
	cw(exitRejected, "plan", "clear") // 409: nothing pending
	if out := cw(0, "nodes"); strings.Contains(out, "n9") {
		t.Errorf("n9 is still listed after the plan that added it was cancelled:\n%s", out)
	}
	cw(0, "node", "add", "n9", "--zone", "c")
	has("node remove", cw(0, "node", "remove", "n9"), `This cancelled the pending ring change \(n9 was only in that plan\)`)
	if out := cw(0, "nodes"); strings.Contains(out, "n9") {
		t.Errorf("n9 is still listed after its removal:\n%s", out)
	}
	cw(0, "fault", "n1", "clear")
	has("repair", cw(0, "repair"), `run\s+done`, `anti-entropy\s+4096 partitions compared`, `hints\s+queue: \d+ delivered`)
	has("reap", cw(0, "reap"), `anti-entropy\s+4096 partitions compared`)
	for _, c := range [][]string{{"nodes"}, {"ring"}, {"stats"}, {"repair"}, {"reap"}, {"fault"}, {"preflist", key}, {"hints"}} {
		isJSON(c[0], cw(0, append(c, "--json")...))
	}
	has("version", cw(0, "--version"), `^cartwheel \S+ \(commit [^)]*go1\.\d+`)
}
