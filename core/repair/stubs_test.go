package repair

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
)

// hintedThenDelivered writes key through its fallback (every primary down)
// and delivers the hint, which leaves a stub on the fallback; it returns the
// fallback and the stub's name.
func (h *harness) hintedThenDelivered(key string) (string, string) {
	h.t.Helper()
	ctx := context.Background()
	prim := h.primaries(key)
	for _, id := range prim {
		h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, id, kv.StateDown) })
	}
	if _, err := h.co.Put(ctx, key, "", coordinator.Value{Data: []byte("v")}, coordinator.Options{W: 1}); err != nil {
		h.t.Fatal(err)
	}
	h.co.Wait()
	for _, id := range prim {
		h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, id, kv.StateActive) })
	}
	if res, err := h.co.DrainHints(ctx, 0); err != nil || res.Delivered < 1 {
		h.t.Fatalf("drain = %+v, %v", res, err)
	}
	w, _ := newWorld(h.cluster())
	fb := w.owners.Walk(key)[3]
	name := kv.HintName(prim[0], key)
	b, err := h.store.Get(ctx, h.loc(fb), name)
	if err != nil || !kv.IsStub(b.Data) {
		h.t.Fatalf("no stub left on %s: %v", fb, err)
	}
	return fb, name
}

// A young stub is passed over by the sweep without a read; one older than
// half the reap grace is deleted; and a deleted key whose hint left a stub
// is still reaped, one run later than without it at most.
func TestSweepStubs(t *testing.T) {
	h := newHarness(t, 4)
	fb, name := h.hintedThenDelivered("cart")
	var gets atomic.Int64
	h.hook(fb, kvmem.OpGet, func(_ context.Context, n string) error {
		if strings.HasPrefix(n, kv.HintPrefix) {
			gets.Add(1)
		}
		return nil
	})
	rep := h.run(h.repairer())
	if rep.Handoff.Found != 0 || gets.Load() != 0 {
		t.Fatalf("a young stub was read (%d GETs) or reported as a hinted replica: %+v", gets.Load(), rep.Handoff)
	}
	if _, err := h.store.Get(context.Background(), h.loc(fb), name); err != nil {
		t.Fatalf("a young stub was deleted: %v", err)
	}
	// The key is deleted; once its tombstone is past the grace period the
	// stub is long expired: the sweep deletes it, and the reaper goes on.
	h.del("cart")
	h.clock.Advance(2 * time.Hour)
	reaped := 0
	for i := 0; i < 2 && reaped == 0; i++ {
		rep = h.run(h.repairer(func(c *Config) { c.ReapScanEvery = 0 }))
		reaped += rep.AntiEntropy.Reaped
	}
	if reaped != 1 {
		t.Fatalf("the deleted key was not reaped in two runs: %+v", rep.AntiEntropy)
	}
	if _, err := h.store.Get(context.Background(), h.loc(fb), name); err == nil {
		t.Fatal("the expired stub is still there")
	}
}

// A leaving node's stubs are deleted at once: it will not stand in again.
func TestSweepStubsOnLeavingNode(t *testing.T) {
	h := newHarness(t, 5)
	fb, name := h.hintedThenDelivered("cart")
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, fb) })
	h.run(h.repairer())
	if _, err := h.store.Get(context.Background(), h.loc(fb), name); err == nil {
		t.Fatal("a leaving node's stub was kept")
	}
}
