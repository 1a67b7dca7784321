package coordinator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// TestHedgedWriteProperty: with hedging on and the write hedge delay known,
// a put whose primaries other than the coordinating one are stuck writing
// gets, once the delay passes (the test decides when: no wall clock), a
// hinted replica on a fallback beside each stuck primary and answers with W
// nodes while the primaries still write; their writes then land, and the
// hints deliver as no-ops. A healthy put hedges nothing, and with hedging
// off (the control) a stuck put hedges nothing and waits. (A put that
// never hedges while stuck hangs this test until go test's -timeout: a
// failure, with no wall-clock limit in the test.)
func TestHedgedWriteProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nodes := rapid.IntRange(5, 6).Draw(rt, "nodes")
		key := fmt.Sprintf("k%d", rapid.IntRange(0, 1000).Draw(rt, "key"))
		mode := rapid.SampledFrom([]string{"healthy", "stuck", "off"}).Draw(rt, "mode")
		rmw := rapid.Bool().Draw(rt, "read-modify-write")
		e := newEnv(t, nodes)
		co, fire := e.hedgedCoordinator(rt, mode != "off")
		for i := 0; i < hedgeMinSamples; i++ {
			co.writeHedge.observe(e.cluster.Nodes[i%nodes].ID, time.Millisecond)
		}
		token := ""
		if rmw {
			token = mustPut(t, co, key, "", "v0", Options{}).Context
			e.takeHints()
		}
		prim := e.primaries(key)

		// The first PUT is the commit; every later PUT to a primary other
		// than the committing one blocks until released.
		var mu sync.Mutex
		committed := kv.Location{}
		blocked := make(chan kv.Location, 8)
		release := make(chan struct{})
		var landed atomic.Int32 // stuck primaries' writes that completed
		stuck := mode != "healthy"
		e.store.SetHook(func(_ context.Context, op kvmem.Op, loc kv.Location, name string) error {
			if op != kvmem.OpPut || !stuck {
				return nil
			}
			mu.Lock()
			if committed == (kv.Location{}) {
				committed = loc
			}
			isStuck := loc != committed && name == kv.DataName(key)
			mu.Unlock()
			if isStuck {
				blocked <- loc
				<-release
				landed.Add(1)
			}
			return nil
		})
		res := make(chan error, 1)
		go func() {
			_, err := co.Put(context.Background(), key, token, val("v1"), Options{})
			res <- err
		}()
		switch mode {
		case "stuck":
			<-blocked
			<-blocked           // both other primaries are writing
			fire <- time.Time{} // and the hedge delay passes
			if err := <-res; err != nil {
				rt.Fatalf("hedged put: %v", err)
			}
			if n := landed.Load(); n != 0 {
				rt.Fatalf("the put answered after %d stuck writes landed; want before", n)
			}
			if n := co.Stats().HedgedWrites.Load(); n != 2 {
				rt.Fatalf("%d hedged writes, want 2 (one per stuck primary)", n)
			}
		case "off":
			<-blocked
			<-blocked
			close(release) // nothing hedges: the put waits for them
			if err := <-res; err != nil {
				rt.Fatalf("put: %v", err)
			}
			if len(fire) != 0 || co.Stats().HedgedWrites.Load() != 0 {
				rt.Fatal("hedging off: a write was hedged")
			}
		case "healthy":
			if err := <-res; err != nil {
				rt.Fatalf("put: %v", err)
			}
			if n := co.Stats().HedgedWrites.Load(); n != 0 {
				rt.Fatalf("healthy: %d hedged writes", n)
			}
		}
		if mode == "stuck" {
			close(release)
		}
		co.Wait()
		e.store.SetHook(nil)
		for _, id := range prim {
			if vals := e.values(id, key); len(vals) != 1 || vals[0] != "v1" {
				rt.Fatalf("%s: primary %s holds %v, want [v1]", mode, id, vals)
			}
		}
		hints := e.takeHints()
		want := 0
		if mode == "stuck" {
			want = 2
		}
		if len(hints) != want {
			rt.Fatalf("%s: %d hints queued, want %d", mode, len(hints), want)
		}
		for _, h := range hints {
			if err := co.DeliverHint(context.Background(), h); err != nil {
				rt.Fatalf("deliver %+v: %v", h, err)
			}
		}
		g := mustGet(t, co, key, Options{R: QuorumAll})
		if vals := liveValues(g.Siblings); len(vals) != 1 || vals[0] != "v1" {
			rt.Fatalf("%s: get = %v, want [v1]", mode, vals)
		}
	})
}
