package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// hedgedCoordinator builds a coordinator hedging at the 0.95 quantile (or
// not, the control) whose hedge delay passes when the test sends on fire.
func (e *env) hedgedCoordinator(rt *rapid.T, on bool) (co *Coordinator, fire chan time.Time) {
	fire = make(chan time.Time, 1)
	deps := e.deps()
	deps.After = func(time.Duration) <-chan time.Time { return fire }
	cfg := e.config()
	// Two phases, so that a put's first PUT is its commit and the others
	// are the ones a test holds (a one-round put writes all at once; the
	// model's hedged mode runs hedging and one round together).
	cfg.OneRoundPut = false
	if on {
		cfg.HedgeQuantile = 0.95
	}
	co, err := New(cfg, deps)
	if err != nil {
		rt.Fatal(err)
	}
	return co, fire
}

// TestHedgedReadProperty: with hedging on and a delay known, a get asks R
// replicas first; when they answer it asks nobody else; when one of them is
// slow it asks the others once the hedge delay passes (the test decides
// when: no wall clock); when one fails it asks them at once, without
// waiting for the delay. Every get returns the value written. With hedging
// off (the control) every get asks all N at once.
func TestHedgedReadProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nodes := rapid.IntRange(3, 5).Draw(rt, "nodes")
		key := fmt.Sprintf("k%d", rapid.IntRange(0, 1000).Draw(rt, "key"))
		mode := rapid.SampledFrom([]string{"healthy", "slow", "failed", "off"}).Draw(rt, "mode")
		victim := rapid.IntRange(0, 1).Draw(rt, "victim") // one of the first R
		e := newEnv(t, nodes)
		co, fire := e.hedgedCoordinator(rt, mode != "off")
		fired := false
		prim := e.primaries(key)
		// The same observed latency for every node: the first R asked are
		// the first R primaries, and the delay is known.
		for i := 0; i < hedgeMinSamples; i++ {
			co.hedge.observe(e.cluster.Nodes[i%len(e.cluster.Nodes)].ID, time.Millisecond)
		}
		if _, err := co.Put(context.Background(), key, "", val("v"), Options{}); err != nil {
			rt.Fatal(err)
		}
		co.Wait()

		var mu sync.Mutex
		gets := map[kv.Location]int{}
		release := make(chan struct{})
		vloc := e.loc(prim[victim])
		e.store.SetHook(func(ctx context.Context, op kvmem.Op, loc kv.Location, _ string) error {
			if op != kvmem.OpGet {
				return nil
			}
			mu.Lock()
			gets[loc]++
			mu.Unlock()
			if loc != vloc {
				return nil
			}
			switch mode {
			case "slow":
				<-release
			case "failed":
				return errors.New("injected read failure")
			}
			return nil
		})
		if mode == "slow" {
			fire <- time.Time{} // the delay passes while the victim is still reading
			fired = true
		}
		g, err := co.Get(context.Background(), key, Options{})
		close(release)
		co.Wait()
		if err != nil {
			rt.Fatalf("%s get: %v", mode, err)
		}
		if vals := liveValues(g.Siblings); len(vals) != 1 || vals[0] != "v" {
			rt.Fatalf("%s get = %v, want [v]", mode, vals)
		}
		third := gets[e.loc(prim[2])]
		hedged := co.Stats().HedgedReads.Load()
		switch mode {
		case "healthy":
			if third != 0 || hedged != 0 || len(fire) != 0 {
				rt.Fatalf("healthy: third replica asked %d times, %d hedged reads; want neither", third, hedged)
			}
		case "slow", "failed":
			if third != 1 || hedged != 1 {
				rt.Fatalf("%s: third replica asked %d times, %d hedged reads; want 1 and 1", mode, third, hedged)
			}
			if mode == "failed" && fired {
				rt.Fatal("failed: the hedge waited for the delay")
			}
		case "off":
			for _, id := range prim {
				if gets[e.loc(id)] != 1 {
					rt.Fatalf("off: replica %s asked %d times, want 1 (all at once)", id, gets[e.loc(id)])
				}
			}
		}
	})
}

// TestHedgeDelayIsTheObservedQuantile: no delay before hedgeMinSamples
// latencies, then the configured quantile of the recent ones; a node's
// latency is a running mean of its own samples.
func TestHedgeDelayIsTheObservedQuantile(t *testing.T) {
	h := newHedger(0.9, 0)
	for i := 1; i < hedgeMinSamples; i++ {
		h.observe("a", time.Duration(i)*time.Millisecond)
	}
	if d := h.current(); d != 0 {
		t.Fatalf("delay before %d samples = %v, want 0", hedgeMinSamples, d)
	}
	h.observe("a", hedgeMinSamples*time.Millisecond) // samples 1..64 ms
	if d := h.current(); d != 58*time.Millisecond {  // index int(0.9*64) = 57 of the sorted samples
		t.Fatalf("delay = %v, want 58ms", d)
	}
	if l := h.nodeLatency("b"); l != 0 {
		t.Fatalf("unknown node's latency = %v", l)
	}
	if off := newHedger(0, 0); off.current() != 0 {
		t.Fatal("a hedger with quantile 0 hedges")
	}
}

// TestHedgeDelayIgnoresOneSlowNode: with one node of four ten times
// slower (a third of the samples and more), the delay is the quantile of
// a typical node, not of the slow one; with a quantile over all samples it
// would be the slow node's latency, and requests waiting on it would hedge
// only after they had waited for it.
func TestHedgeDelayIgnoresOneSlowNode(t *testing.T) {
	h := newHedger(0.95, 0)
	for i := 0; i < 4*nodeWindow; i++ {
		for j, id := range []string{"a", "b", "c", "slow"} {
			d := time.Duration(10+i%10) * time.Millisecond // 10..19 ms
			if j == 3 {
				d *= 10
			}
			h.observe(id, d)
		}
	}
	if d := h.current(); d != 19*time.Millisecond {
		t.Fatalf("delay = %v, want 19ms (a fast node's 0.95 quantile)", d)
	}
}

// TestPutCoordinatesOnTheFastestReplica: with hedging on, among equally
// ranked candidates a put commits first at the replica with the lowest
// observed latency, whichever primary that is; with hedging off, at the
// first primary (the control).
func TestPutCoordinatesOnTheFastestReplica(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := newEnv(t, 3)
		on := rapid.Bool().Draw(rt, "hedging")
		cfg := e.config()
		if on {
			cfg.HedgeQuantile = 0.95
		}
		co, err := New(cfg, e.deps())
		if err != nil {
			rt.Fatal(err)
		}
		key := fmt.Sprintf("k%d", rapid.IntRange(0, 1000).Draw(rt, "key"))
		prim := e.primaries(key)
		fast := rapid.IntRange(0, 2).Draw(rt, "fastest")
		for i := 0; i < hedgeMinSamples; i++ {
			for j, id := range prim {
				d := 50 * time.Millisecond
				if j == fast {
					d = time.Millisecond
				}
				co.hedge.observe(id, d)
			}
		}
		var mu sync.Mutex
		var first kv.Location
		e.store.SetHook(func(_ context.Context, op kvmem.Op, loc kv.Location, _ string) error {
			mu.Lock()
			defer mu.Unlock()
			if op == kvmem.OpPut && first == (kv.Location{}) {
				first = loc
			}
			return nil
		})
		if _, err := co.Put(context.Background(), key, "", val("v"), Options{}); err != nil {
			rt.Fatal(err)
		}
		co.Wait()
		want := prim[0]
		if on {
			want = prim[fast]
		}
		if first != e.loc(want) {
			rt.Fatalf("hedging %v: committed first at %v, want %s", on, first, want)
		}
	})
}
