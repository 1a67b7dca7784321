package coordinator

import (
	"slices"
	"sort"
	"testing"
	"time"
)

// ---- health ---------------------------------------------------------------

func TestHealthHysteresis(t *testing.T) {
	const base = 10 * time.Second
	h := &health{after: 2, base: base, nodes: map[string]*nodeHealth{}}
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	h.record("a", false, at(0))
	if h.suspect("a", at(0)) {
		t.Fatal("suspect after 1 failure with SuspectAfter=2")
	}
	h.record("a", false, at(0))
	if !h.suspect("a", at(0)) || !h.suspect("a", at(base-1)) || h.suspect("a", at(base)) {
		t.Fatal("2 failures: want suspect for exactly the base period")
	}
	// Failures during the suspicion period do not extend it.
	h.record("a", false, at(5*time.Second))
	if h.suspect("a", at(base)) {
		t.Fatal("a failure while suspect extended the period")
	}
	// Each failed probe after a period doubles it, up to 8x.
	now := base
	for _, period := range []time.Duration{2 * base, 4 * base, 8 * base, 8 * base, 8 * base} {
		h.record("a", false, at(now))
		if !h.suspect("a", at(now+period-1)) || h.suspect("a", at(now+period)) {
			t.Fatalf("probe failed at %v: want suspect for %v", now, period)
		}
		now += period
	}
	if got := h.suspects(at(now - 1)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("suspects = %v", got)
	}
	// One success forgets everything.
	h.record("a", true, at(now))
	if h.suspect("a", at(now)) || len(h.nodes) != 0 {
		t.Fatal("a success did not clear the node")
	}
	h.record("a", false, at(now))
	if h.suspect("a", at(now)) {
		t.Fatal("one failure after a success made the node suspect")
	}
	h.record("a", false, at(now))
	if !h.suspect("a", at(now+base-1)) || h.suspect("a", at(now+base)) {
		t.Fatal("after a success the period restarts at the base")
	}
	// A success for an unknown node is a no-op; nodes are independent.
	h.record("b", true, at(now))
	if h.suspect("b", at(now)) || len(h.suspects(at(now))) != 1 {
		t.Fatalf("suspects = %v", h.suspects(at(now)))
	}
}

func TestSuspectsRoutedAround(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord(func(c *Config) { c.SuspectAfter = 1; c.SuspectFor = 10 * time.Second })
	key := "flaky"
	prim := e.primaries(key)
	mustPut(t, co, key, "", "v", Options{})
	if s := co.Suspects(); len(s) != 0 {
		t.Fatalf("suspects on a healthy cluster: %v", s)
	}
	e.down(prim[0], true)
	e.down(prim[2], true)
	mustGet(t, co, key, Options{R: 1})
	want := []string{prim[0], prim[2]}
	sort.Strings(want)
	if got := co.Suspects(); !slices.Equal(got, want) {
		t.Fatalf("Suspects = %v, want %v (sorted)", got, want)
	}
	// While suspect, requests go to fallbacks instead: no request reaches them.
	e.faults.ResetCounts()
	before0, before2 := e.store.Counts(e.loc(prim[0])), e.store.Counts(e.loc(prim[2]))
	if g := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("get around suspects = %v", liveValues(g.Siblings))
	}
	if e.faults.Injected() != 0 {
		t.Fatalf("%d requests went to suspect nodes", e.faults.Injected())
	}
	if e.store.Counts(e.loc(prim[0])) != before0 || e.store.Counts(e.loc(prim[2])) != before2 {
		t.Fatal("suspect nodes were contacted")
	}
	// After the period they are tried again; the recovered one is cleared.
	e.clock.Advance(10 * time.Second)
	if got := co.Suspects(); len(got) != 0 {
		t.Fatalf("Suspects after the period = %v", got)
	}
	e.down(prim[0], false)
	mustGet(t, co, key, Options{R: 3})
	if got := co.Suspects(); !slices.Equal(got, []string{prim[2]}) {
		t.Fatalf("Suspects after a probe = %v, want only the still-down %s", got, prim[2])
	}
	// Its second period is twice as long.
	e.clock.Advance(19 * time.Second)
	if got := co.Suspects(); !slices.Equal(got, []string{prim[2]}) {
		t.Fatalf("second period ended early: %v", got)
	}
	e.clock.Advance(time.Second)
	if got := co.Suspects(); len(got) != 0 {
		t.Fatalf("second period did not end: %v", got)
	}
}
