package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// ---- hinted handoff ----------------------------------------------------------

// hinted makes a hinted replica of key for intended (marked down during the
// put) and returns its hint; intended is active again afterwards.
func (e *env) hinted(co *Coordinator, key, intended, value string) kv.Hint {
	e.t.Helper()
	e.setState(intended, kv.StateDown)
	mustPut(e.t, co, key, "", value, Options{})
	e.setState(intended, kv.StateActive)
	hints := e.takeHints()
	if len(hints) != 1 || hints[0].Intended != intended || hints[0].Key != key {
		e.t.Fatalf("setup: hints %+v, want one for %s", hints, intended)
	}
	if _, ok := e.object(hints[0].Fallback, kv.HintName(intended, key), key); !ok {
		e.t.Fatalf("setup: no hinted replica on %s", hints[0].Fallback)
	}
	return hints[0]
}

func TestDeliverHint(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "handoff"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[1], "v")
	if got := e.values(prim[1], key); got != nil {
		t.Fatalf("setup: %s already holds %v", prim[1], got)
	}
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if got := e.values(prim[1], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("after delivery %s holds %v", prim[1], got)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); ok {
		t.Fatal("the hinted replica was not removed")
	}
	if co.Stats().HintsDelivered.Load() != 1 {
		t.Fatalf("HintsDelivered = %d", co.Stats().HintsDelivered.Load())
	}
	// At-least-once: delivering it again is a no-op.
	e.faults.ResetCounts()
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	if c := e.faults.Counts(); c.Put != 0 || c.Delete != 0 || co.Stats().HintsDelivered.Load() != 1 {
		t.Fatalf("second delivery did %+v, delivered count %d", c, co.Stats().HintsDelivered.Load())
	}
}

// Delivery merges, never overwrites: a newer version at the intended node
// stays, and a concurrent one becomes a sibling.
func TestDeliverHintMerges(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "merge"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[2], "hinted")
	// A concurrent blind write reaches every primary, prim[2] included.
	mustPut(t, co, key, "", "concurrent", Options{W: 3})
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if got := e.values(prim[2], key); !slices.Equal(got, []string{"concurrent", "hinted"}) {
		t.Fatalf("%s holds %v, want both versions", prim[2], got)
	}
}

func TestDeliverHintIntendedDown(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "wait"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	e.setState(prim[0], kv.StateDown)
	if err := co.DeliverHint(context.Background(), h); !errors.Is(err, ErrNotReady) {
		t.Fatalf("delivery to a down node = %v, want ErrNotReady", err)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok {
		t.Fatal("the hinted replica was removed without delivery")
	}
	if e.values(prim[0], key) != nil {
		t.Fatal("delivered to a down node")
	}
}

// A node this coordinator merely suspects is tried: the delivery is the probe,
// and its success clears the suspicion.
func TestDeliverHintProbesSuspect(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord(func(c *Config) { c.SuspectAfter = 1; c.SuspectFor = time.Minute })
	key := "probe"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	co.health.record(prim[0], false, e.clock.Now())
	if !slices.Equal(co.Suspects(), []string{prim[0]}) {
		t.Fatalf("setup: suspects %v", co.Suspects())
	}
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatalf("delivery to a suspect node: %v", err)
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("%s holds %v", prim[0], got)
	}
	if s := co.Suspects(); len(s) != 0 {
		t.Fatalf("a successful delivery left suspects %v", s)
	}
}

// The intended node left the cluster: the replica goes to the key's current
// primaries instead.
func TestDeliverHintIntendedDeparted(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "departed"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	e.removeNode(prim[0])
	now := e.primaries(key)
	if slices.Contains(now, prim[0]) {
		t.Fatal("setup: removed node still a primary")
	}
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	for _, id := range now {
		if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
			t.Fatalf("current primary %s holds %v", id, got)
		}
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); ok {
		t.Fatal("the hinted replica was not removed")
	}
}

func TestDeliverHintIntendedDepartedNoPrimaryUp(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "departed-down"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	e.removeNode(prim[0])
	for _, id := range e.primaries(key) {
		e.setState(id, kv.StateDown)
	}
	err := co.DeliverHint(context.Background(), h)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "departed") {
		t.Fatalf("delivery with every current primary down = %v, want ErrNotReady", err)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok {
		t.Fatal("the hinted replica was removed without delivery")
	}
}

// The fallback left the cluster: its replica cannot be reached; the hint is
// dropped (acknowledged) with a warning.
func TestDeliverHintFallbackGone(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	if err := co.DeliverHint(context.Background(), kv.Hint{Key: "k", Intended: "n1", Fallback: "ghost"}); err != nil {
		t.Fatalf("hint from a departed fallback = %v, want nil", err)
	}
	if !e.logs.has("hint from a node no longer in the cluster") {
		t.Fatal("no warning logged")
	}
	if e.faults.Counts().Total() != 0 {
		t.Fatal("a hint from a departed fallback touched the store")
	}
}

func TestDeliverHintErrors(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "errors"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	ctx := context.Background()

	if err := co.DeliverHint(ctx, kv.Hint{Key: "", Intended: "n1", Fallback: "n2"}); !errors.Is(err, kv.ErrBadKey) {
		t.Fatalf("empty key = %v, want ErrBadKey", err)
	}
	// The fallback cannot be read.
	e.down(h.Fallback, true)
	if err := co.DeliverHint(ctx, h); err == nil || !errors.Is(err, faults.ErrInjected) {
		t.Fatalf("unreadable fallback = %v", err)
	}
	e.down(h.Fallback, false)
	// The intended node cannot be written: its failure is recorded.
	co2 := e.coord(func(c *Config) { c.SuspectAfter = 1; c.SuspectFor = time.Minute })
	e.down(prim[0], true)
	if err := co2.DeliverHint(ctx, h); err == nil || !strings.Contains(err.Error(), "deliver hint to "+prim[0]) {
		t.Fatalf("unwritable intended node = %v", err)
	}
	if !slices.Equal(co2.Suspects(), []string{prim[0]}) {
		t.Fatalf("failed delivery not recorded: suspects %v", co2.Suspects())
	}
	e.down(prim[0], false)
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok {
		t.Fatal("a failed delivery removed the hinted replica")
	}
	// Delivered but the hinted replica cannot be removed (replaced by its
	// stub, a conditional PUT): an error, and the next attempt completes it.
	e.hookOn(h.Fallback, kvmem.OpPut, func(context.Context, string) error { return errors.New("put refused") })
	if err := co.DeliverHint(ctx, h); err == nil || !strings.Contains(err.Error(), "remove delivered hint") {
		t.Fatalf("undeletable hinted replica = %v", err)
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("not delivered before the failed removal: %v", got)
	}
	e.store.SetHook(nil)
	if err := co.DeliverHint(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); ok {
		t.Fatal("the hinted replica was not removed on retry")
	}
}

// A corrupt hinted replica is reported, not delivered, and not removed.
func TestDeliverHintCorrupt(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "rotten"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	loc := e.loc(h.Fallback)
	name := kv.HintName(h.Intended, key)
	b, err := e.store.Get(context.Background(), loc, name)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), b.Data...)
	bad[len(bad)/2] ^= 0x10
	if _, err := e.store.Put(context.Background(), loc, name, bad, b.Actor, b.ETag); err != nil {
		t.Fatal(err)
	}
	if err := co.DeliverHint(context.Background(), h); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt hinted replica = %v", err)
	}
	if e.values(prim[0], key) != nil {
		t.Fatal("a corrupt replica was delivered")
	}
	if b2, err := e.store.Get(context.Background(), loc, name); err != nil || string(b2.Data) != string(bad) {
		t.Fatal("the corrupt replica was removed or changed")
	}
}

// A newer write reaching the fallback between the read and the removal wins
// the conditional removal (the stub's PUT): the newer hinted replica stays
// for its own hint.
func TestDeliverHintNewerWriteKeepsReplica(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "race"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v1")
	loc := e.loc(h.Fallback)
	name := kv.HintName(h.Intended, key)
	newer, _ := vclock.Update(vclock.Object{Key: key}, nil, "x.1.1", vclock.Sibling{Value: []byte("v2")}, 5)
	var raced atomic.Bool
	e.hookOn(h.Fallback, kvmem.OpPut, func(ctx context.Context, _ string) error {
		if raced.Swap(true) {
			return nil // the racing write itself (the hook runs for it too)
		}
		b, err := e.store.Get(ctx, loc, name)
		if err == nil {
			_, err = e.store.Put(ctx, loc, name, vclock.Encode(vclock.MergeObjects(newer, mustDecode(t, b.Data))), b.Actor, b.ETag)
		}
		if err != nil {
			t.Error(err)
		}
		return nil
	})
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatalf("delivery racing a newer write = %v, want nil", err)
	}
	o, ok := e.object(h.Fallback, name, key)
	if !ok || !slices.Equal(liveValues(o.Live()), []string{"v1", "v2"}) {
		t.Fatalf("the newer hinted replica was removed: %v %v", ok, liveValues(o.Live()))
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("%s holds %v", prim[0], got)
	}
	if co.Stats().HintsDelivered.Load() != 1 {
		t.Fatal("the delivery was not counted")
	}
}

func mustDecode(t *testing.T, data []byte) vclock.Object {
	t.Helper()
	o, err := vclock.Decode(data, vclock.DecodeLimits())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// flakyMembers fails every Load while down is set.
type flakyMembers struct {
	kv.Membership
	down atomic.Bool
}

func (m *flakyMembers) Load(ctx context.Context) (kv.Cluster, error) {
	if m.down.Load() {
		return kv.Cluster{}, errors.New("membership unreachable")
	}
	return m.Membership.Load(ctx)
}

// A coordinator whose cached view predates a node's addition must not take a
// hint that names the new node as its fallback for one from a node that left:
// it reads membership again and delivers the hint; when membership cannot be
// read it fails (the message stays queued), never acknowledges.
func TestDeliverHintStaleView(t *testing.T) {
	e := newEnv(t, 5)
	members := &flakyMembers{Membership: e.members}
	deps := e.deps()
	deps.Members = members
	cfg := e.config()
	cfg.ClusterTTL = time.Hour // the cached view stays fresh for the whole test
	old, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(old.Wait)
	if _, _, err := old.PreferenceList(context.Background(), "warm"); err != nil {
		t.Fatal(err)
	}

	// n6 joins; a write through an up-to-date coordinator uses it as the
	// fallback of a down primary.
	c, err := membership.AddNode(e.cluster, kv.Node{ID: "n6", Zone: "z3", Weight: 1, Location: kv.Location{Bucket: "cw", Prefix: "n6/"}})
	if err == nil {
		c, err = membership.Commit(c)
	}
	if err != nil {
		t.Fatal(err)
	}
	e.save(c)
	co := e.coord()
	var h kv.Hint
	for i := 0; h.Fallback != "n6"; i++ {
		if i == 200 {
			t.Fatal("setup: no key with n6 as the fallback")
		}
		key := fmt.Sprintf("stale-%d", i)
		h = e.hinted(co, key, e.primaries(key)[1], "v")
	}

	members.down.Store(true)
	if err := old.DeliverHint(context.Background(), h); err == nil {
		t.Fatal("membership unreadable: a hint from a node the cached view does not know was acknowledged")
	}
	if _, ok := e.object("n6", kv.HintName(h.Intended, h.Key), h.Key); !ok {
		t.Fatal("the hinted replica was removed without a delivery")
	}
	members.down.Store(false)
	if err := old.DeliverHint(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if got := e.values(h.Intended, h.Key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("after delivery through a stale view, %s holds %v (hint acknowledged, data not merged)", h.Intended, got)
	}
	if _, ok := e.object("n6", kv.HintName(h.Intended, h.Key), h.Key); ok {
		t.Fatal("the delivered hinted replica was not removed")
	}
}
