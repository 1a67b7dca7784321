package repair

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
	"github.com/cartwheel/cartwheel/internal/testclock"
)

// ---- harness ------------------------------------------------------------------

// fakeClock is the tests' manual clock.
type fakeClock = testclock.Clock

// harness is a five-node cluster (Q=64, N=3) over the in-memory ports, a
// coordinator and a fake clock shared by both.
type harness struct {
	t       *testing.T
	store   *kvmem.Store
	members kv.Membership
	mem     *kvmem.Membership
	hints   *kvmem.HintQueue
	clock   *fakeClock
	co      *coordinator.Coordinator
	seq     atomic.Uint64
}

func newHarness(t *testing.T, nodes int, edit ...func(*kv.Params)) *harness {
	t.Helper()
	h := &harness{t: t, store: kvmem.NewStore(), mem: kvmem.NewMembership(), hints: kvmem.NewHintQueue(time.Minute, 0),
		clock: testclock.New(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))}
	h.members = h.mem
	c := testCluster(t, nodes, 64)
	for _, e := range edit {
		e(&c.Params)
	}
	if err := h.mem.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	cfg := coordinator.DefaultConfig()
	cfg.ClusterTTL, cfg.SuspectFor = 0, 0
	var err error
	h.co, err = coordinator.New(cfg, coordinator.Deps{Store: h.store, Hints: h.hints, Members: h.mem, Now: h.clock.Now, Rand: h.rand})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) rand() uint64 { return h.seq.Add(1) }

func (h *harness) deps() Deps {
	return Deps{Store: h.store, Members: h.members, Handoff: h.co, Now: h.clock.Now, Rand: h.rand}
}

func (h *harness) repairer(edit ...func(*Config)) *Repairer {
	h.t.Helper()
	cfg := DefaultConfig()
	cfg.PlanSettle, cfg.ReapScanEvery, cfg.Reserve = 0, -1, 0
	for _, e := range edit {
		e(&cfg)
	}
	r, err := New(cfg, h.deps())
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) cluster() kv.Cluster {
	h.t.Helper()
	c, err := h.mem.Load(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) change(f func(kv.Cluster) (kv.Cluster, error)) kv.Cluster {
	h.t.Helper()
	c := h.cluster()
	next, err := f(c)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.mem.Save(context.Background(), next, c.Epoch); err != nil {
		h.t.Fatal(err)
	}
	return next
}

func (h *harness) primaries(key string) []string {
	h.t.Helper()
	w, err := newWorld(h.cluster())
	if err != nil {
		h.t.Fatal(err)
	}
	return w.owners.Primaries(key, 3)
}

func (h *harness) loc(id string) kv.Location {
	return kv.Location{Bucket: "b", Prefix: id + "/"}
}

func (h *harness) put(key, value string) {
	h.t.Helper()
	if _, err := h.co.Put(context.Background(), key, "", coordinator.Value{Data: []byte(value)}, coordinator.Options{W: 3}); err != nil {
		h.t.Fatal(err)
	}
	h.co.Wait()
}

func (h *harness) del(key string) {
	h.t.Helper()
	if _, err := h.co.Delete(context.Background(), key, "", coordinator.Options{W: 3}); err != nil {
		h.t.Fatal(err)
	}
	h.co.Wait()
}

// raw reads node id's replica of key; ok is false when absent.
func (h *harness) raw(id, key string) (kv.Blob, bool) {
	h.t.Helper()
	b, err := h.store.Get(context.Background(), h.loc(id), kv.DataName(key))
	if errors.Is(err, kv.ErrNotFound) {
		return kv.Blob{}, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return b, true
}

func (h *harness) rawPut(id, name string, data []byte) {
	h.t.Helper()
	if _, err := h.store.Put(context.Background(), h.loc(id), name, data, "x.1.1", ""); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) rawDelete(id, key string) {
	h.t.Helper()
	if err := h.store.Delete(context.Background(), h.loc(id), kv.DataName(key), ""); err != nil {
		h.t.Fatal(err)
	}
}

// converged checks that key's primaries hold identical bytes.
func (h *harness) converged(key string) []byte {
	h.t.Helper()
	var first []byte
	for _, id := range h.primaries(key) {
		b, ok := h.raw(id, key)
		if !ok {
			h.t.Fatalf("%s holds no replica of %s", id, key)
		}
		if first != nil && string(b.Data) != string(first) {
			h.t.Fatalf("%s holds other bytes than the first primary", id)
		}
		first = b.Data
	}
	return first
}

func (h *harness) run(r *Repairer) Report {
	h.t.Helper()
	rep, err := r.Run(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

// hook fails or alters one kind of request to one node.
func (h *harness) hook(id string, op kvmem.Op, f func(ctx context.Context, name string) error) {
	loc := h.loc(id)
	h.store.SetHook(func(ctx context.Context, o kvmem.Op, l kv.Location, name string) error {
		if o == op && l == loc {
			return f(ctx, name)
		}
		return nil
	})
}

// ---- tests ----------------------------------------------------------------------

func TestDepsValidate(t *testing.T) {
	h := newHarness(t, 3)
	for name, edit := range map[string]func(*Deps){
		"store":   func(d *Deps) { d.Store = nil },
		"members": func(d *Deps) { d.Members = nil },
		"handoff": func(d *Deps) { d.Handoff = nil },
		"now":     func(d *Deps) { d.Now = nil },
		"rand":    func(d *Deps) { d.Rand = nil },
	} {
		d := h.deps()
		edit(&d)
		if _, err := New(DefaultConfig(), d); err == nil || !strings.Contains(err.Error(), "required") {
			t.Errorf("%s: New = %v", name, err)
		}
	}
}

// Without a readable membership nothing runs; an invalid cluster is refused.
func TestMembershipErrors(t *testing.T) {
	h := newHarness(t, 3)
	r := h.repairer()
	h.mem.SetDown(true)
	ctx := context.Background()
	if _, err := r.Run(ctx); err == nil {
		t.Fatal("Run without membership")
	}
	if _, err := r.Commit(ctx); err == nil {
		t.Fatal("Commit without membership")
	}
	if _, err := r.Reap(ctx); err == nil {
		t.Fatal("Reap without membership")
	}
	if _, err := r.Plan(ctx); err == nil {
		t.Fatal("Plan without membership")
	}
	h.mem.SetDown(false)
	bad := h.cluster()
	bad.Owners = bad.Owners[:5]
	bad.Epoch++
	if err := h.mem.Save(ctx, bad, bad.Epoch-1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx); err == nil {
		t.Fatal("Run over an invalid cluster")
	}
	if _, err := r.Plan(ctx); err == nil {
		t.Fatal("Plan over an invalid cluster")
	}
}

// A run stops at once when cancelled or too close to its deadline, and
// reports why.
func TestRunStops(t *testing.T) {
	h := newHarness(t, 3)
	h.put("k", "v")
	ctx, cancel := context.WithCancel(context.Background())
	h.members = cancelOnLoad{Membership: h.mem, cancel: cancel}
	rep, err := h.repairer().Run(ctx)
	if err != nil || rep.Stopped != StopCancelled || rep.Requests.Total() != 0 {
		t.Fatalf("cancelled run: %+v %v", rep, err)
	}
	h.members = h.mem
	ctx, cancel = context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	rep, err = h.repairer(func(c *Config) { c.Reserve = 2 * time.Hour }).Run(ctx)
	if err != nil || rep.Stopped != StopDeadline || rep.Requests.Total() != 0 {
		t.Fatalf("run within its reserve: %+v %v", rep, err)
	}
}

// cancelOnLoad cancels the run's context once membership is loaded.
type cancelOnLoad struct {
	kv.Membership
	cancel context.CancelFunc
}

func (m cancelOnLoad) Load(ctx context.Context) (kv.Cluster, error) {
	defer m.cancel()
	return m.Membership.Load(ctx)
}

// Requests are paced at RequestsPerSecond; a pause cut short by the context
// fails the request.
func TestPacing(t *testing.T) {
	h := newHarness(t, 3)
	var slept []time.Duration
	d := h.deps()
	d.Sleep = func(ctx context.Context, dur time.Duration) error {
		slept = append(slept, dur)
		h.clock.Advance(dur)
		return nil
	}
	cfg := DefaultConfig()
	cfg.RequestsPerSecond, cfg.ReapScanEvery = 10, -1
	r, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := rep.Requests.Total()
	var total time.Duration
	for _, s := range slept {
		total += s
	}
	if n < 3 || len(slept) != n-1 || total != time.Duration(n-1)*100*time.Millisecond {
		t.Fatalf("%d requests paced by %d pauses of %v in all", n, len(slept), total)
	}
	d.Sleep = func(context.Context, time.Duration) error { return context.Canceled }
	r, _ = New(cfg, d)
	if rep, _ := r.Run(context.Background()); rep.Errors == 0 {
		t.Fatal("a pause cut short did not fail its request")
	}
	// The default pause honours the context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := kv.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("kv.Sleep = %v", err)
	}
	if err := kv.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// Corrupt replicas are overwritten from the readable ones; a key whose every
// listed replica is corrupt is reported, not guessed.
func TestCorruptReplicas(t *testing.T) {
	h := newHarness(t, 5)
	h.put("bitrot", "precious")
	prim := h.primaries("bitrot")
	good := h.converged("bitrot")
	h.rawDelete(prim[0], "bitrot")
	h.rawPut(prim[0], kv.DataName("bitrot"), []byte("garbage"))
	// Another key's object under this key's name is corrupt too.
	other, _ := vclock.Update(vclock.Object{Key: "other"}, nil, "a.1.1", vclock.Sibling{Value: []byte("x")}, 1)
	h.rawDelete(prim[1], "bitrot")
	h.rawPut(prim[1], kv.DataName("bitrot"), vclock.Encode(other))
	r := h.repairer()
	rep := h.run(r)
	if rep.Errors != 0 || rep.AntiEntropy.Repaired != 1 || rep.AntiEntropy.Writes != 2 {
		t.Fatalf("repair of corrupt replicas: %+v", rep)
	}
	if got := h.converged("bitrot"); string(got) != string(good) {
		t.Fatal("the repaired replicas differ from the good one")
	}
	// Every replica corrupt, with different bytes: nothing to merge from.
	for i, id := range prim {
		h.rawDelete(id, "bitrot")
		h.rawPut(id, kv.DataName("bitrot"), []byte(fmt.Sprint("junk", i)))
	}
	rep = h.run(r)
	if rep.Errors != 1 || !strings.Contains(rep.ErrorSamples[0], "no readable replica") || rep.AntiEntropy.Writes != 0 {
		t.Fatalf("all replicas corrupt: %+v", rep)
	}
}

// A replica deleted between the listing and the read is no error: with no
// other version left, there is nothing to copy.
func TestVanishedReplica(t *testing.T) {
	h := newHarness(t, 5)
	h.put("fleeting", "v")
	prim := h.primaries("fleeting")
	h.rawDelete(prim[1], "fleeting")
	h.rawDelete(prim[2], "fleeting")
	h.hook(prim[0], kvmem.OpGet, func(ctx context.Context, name string) error {
		h.store.SetHook(nil)
		return h.store.Delete(ctx, h.loc(prim[0]), name, "")
	})
	rep := h.run(h.repairer())
	if rep.Errors != 0 || rep.AntiEntropy.Differing != 1 || rep.AntiEntropy.Writes != 0 {
		t.Fatalf("vanished replica: %+v", rep)
	}
}

// A replica written between the listing and the repair's write loses nothing:
// the conditional write fails, the replica is re-read and merged.
func TestRepairRacesAWrite(t *testing.T) {
	h := newHarness(t, 5)
	h.put("race", "v1")
	prim := h.primaries("race")
	h.rawDelete(prim[2], "race")
	raced := false
	h.hook(prim[2], kvmem.OpPut, func(ctx context.Context, name string) error {
		if raced {
			return nil
		}
		raced = true
		// A concurrent blind write lands first on the missing replica.
		obj, _ := vclock.Update(vclock.Object{Key: "race"}, nil, vclock.Actor(kv.ActorFor(prim[2], 1, 99)), vclock.Sibling{Value: []byte("v2")}, 5)
		_, err := h.store.Put(ctx, h.loc(prim[2]), name, vclock.Encode(obj), kv.ActorFor(prim[2], 1, 99), "")
		return err
	})
	rep := h.run(h.repairer())
	h.store.SetHook(nil)
	if rep.Errors != 0 || !raced {
		t.Fatalf("repair racing a write: %+v", rep)
	}
	b, _ := h.raw(prim[2], "race")
	o, _ := vclock.Decode(b.Data, vclock.DecodeLimits())
	if len(o.Live()) != 2 || b.Actor != kv.ActorFor(prim[2], 1, 99) {
		t.Fatalf("the raced replica holds %d versions, actor %s: want both, the writer's actor kept", len(o.Live()), b.Actor)
	}
	h.run(h.repairer())
	h.converged("race")
}

// A replica that keeps losing its conditional write, or refuses writes, is
// reported and left for the next run; the others are repaired.
func TestWriteFailures(t *testing.T) {
	for _, how := range []string{"contended", "broken", "unreadable"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t, 5)
			h.put("k", "v")
			prim := h.primaries("k")
			h.rawDelete(prim[1], "k")
			h.rawDelete(prim[2], "k")
			h.rawPut(prim[2], kv.DataName("k"), []byte("stale"))
			var calls atomic.Int64
			h.store.SetHook(func(_ context.Context, op kvmem.Op, l kv.Location, _ string) error {
				switch {
				case l != h.loc(prim[1]):
				case how == "contended" && op == kvmem.OpPut:
					calls.Add(1)
					return kv.ErrPrecondition
				case how == "broken" && op == kvmem.OpPut:
					calls.Add(1)
					return errors.New("disk on fire")
				case how == "unreadable" && op == kvmem.OpGet:
					calls.Add(1)
					return errors.New("disk on fire")
				case how == "unreadable" && op == kvmem.OpPut:
					return kv.ErrPrecondition
				}
				return nil
			})
			rep := h.run(h.repairer(func(c *Config) { c.CASRetries = 3 }))
			if rep.Errors != 1 || rep.AntiEntropy.Repaired != 1 {
				t.Fatalf("%s: %+v", how, rep)
			}
			h.store.SetHook(nil)
			if _, ok := h.raw(prim[1], "k"); ok {
				t.Fatal("the failing replica was written")
			}
			if how == "contended" && calls.Load() != 3 {
				t.Fatalf("%d conditional writes, want CASRetries=3", calls.Load())
			}
			h.store.SetHook(nil)
			h.run(h.repairer())
			h.converged("k")
		})
	}
}

// Listing failures exclude a replica from the comparison; the others still
// converge.
func TestListFailure(t *testing.T) {
	h := newHarness(t, 5)
	h.put("k", "v")
	prim := h.primaries("k")
	h.rawDelete(prim[2], "k")
	h.hook(prim[0], kvmem.OpList, func(context.Context, string) error { return errors.New("no") })
	rep := h.run(h.repairer())
	h.store.SetHook(nil)
	if rep.Errors == 0 || rep.AntiEntropy.Repaired != 1 {
		t.Fatalf("repair with a primary unlistable: %+v", rep)
	}
	h.converged("k")
}

// Last-write-wins clusters collapse what a repair merges to the newest version.
func TestRepairLWW(t *testing.T) {
	h := newHarness(t, 5, func(p *kv.Params) { p.LWW = true })
	h.put("k", "old")
	prim := h.primaries("k")
	b, _ := h.raw(prim[0], "k")
	h.clock.Advance(time.Second)
	obj, _ := vclock.Decode(b.Data, vclock.DecodeLimits())
	newer, _ := vclock.Update(vclock.Object{Key: "k"}, nil, "z.1.1", vclock.Sibling{Value: []byte("new")}, h.clock.Now().UnixMilli())
	newer = vclock.MergeObjects(newer, vclock.Object{Key: "k", Clock: obj.Clock})
	h.rawDelete(prim[2], "k")
	h.rawPut(prim[2], kv.DataName("k"), vclock.Encode(newer))
	h.rawDelete(prim[1], "k")
	h.rawPut(prim[1], kv.DataName("k"), vclock.Encode(newer))
	rep := h.run(h.repairer())
	if rep.Errors != 0 {
		t.Fatal(rep.ErrorSamples)
	}
	o, _ := vclock.Decode(h.converged("k"), vclock.DecodeLimits())
	if len(o.Siblings) != 1 || string(o.Siblings[0].Value) != "new" {
		t.Fatalf("LWW repair kept %d siblings", len(o.Siblings))
	}
}

// The reap scan runs every ReapScanEvery per partition: due at a random
// offset in the first period, then once per period.
func TestReapScanSchedule(t *testing.T) {
	h := newHarness(t, 5)
	for i := 0; i < 10; i++ {
		h.put(fmt.Sprint("k", i), "v")
	}
	d := h.deps()
	d.Rand = func() uint64 { return 0 } // every partition due at once
	cfg := DefaultConfig()
	cfg.ReapScanEvery = time.Hour
	r, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	gets := func() int {
		h.store.ResetCounts()
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return h.store.TotalCounts().Get
	}
	if n := gets(); n != 10 {
		t.Fatalf("first run read %d keys, want all 10", n)
	}
	if n := gets(); n != 0 {
		t.Fatalf("second run read %d keys, want none", n)
	}
	h.clock.Advance(time.Hour)
	if n := gets(); n != 10 {
		t.Fatalf("a period later the run read %d keys, want 10", n)
	}
	cfg.ReapScanEvery = 0 // every run
	r, _ = New(cfg, d)
	if n := gets(); n != 10 {
		t.Fatalf("ReapScanEvery=0: %d keys read", n)
	}
}

// Reaping: conditions, failures and races.
func TestReap(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*harness, []string) {
		h := newHarness(t, 5)
		h.put("gone", "v")
		h.del("gone")
		h.clock.Advance(2 * time.Hour)
		return h, h.primaries("gone")
	}
	t.Run("reaped", func(t *testing.T) {
		h, prim := setup(t)
		rep, err := h.repairer().Reap(ctx)
		if err != nil || rep.AntiEntropy.Reaped != 1 || rep.AntiEntropy.ReapCandidates != 1 {
			t.Fatalf("reap: %+v %v", rep.AntiEntropy, err)
		}
		for _, id := range prim {
			if _, ok := h.raw(id, "gone"); ok {
				t.Fatalf("%s still holds the key", id)
			}
		}
	})
	t.Run("repaired key reaped without a scan", func(t *testing.T) {
		h, prim := setup(t)
		h.rawDelete(prim[0], "gone")
		rep := h.run(h.repairer())
		if rep.AntiEntropy.Repaired != 1 || rep.AntiEntropy.Reaped != 1 {
			t.Fatalf("run: %+v", rep.AntiEntropy)
		}
	})
	t.Run("a write meanwhile", func(t *testing.T) {
		h, prim := setup(t)
		h.hook(prim[1], kvmem.OpDelete, func(context.Context, string) error { return kv.ErrPrecondition })
		rep, _ := h.repairer().Reap(ctx)
		if rep.AntiEntropy.Reaped != 0 || rep.Errors != 0 {
			t.Fatalf("reap racing a write: %+v", rep)
		}
	})
	t.Run("delete fails", func(t *testing.T) {
		h, prim := setup(t)
		h.hook(prim[0], kvmem.OpDelete, func(context.Context, string) error { return errors.New("no") })
		rep, _ := h.repairer().Reap(ctx)
		if rep.AntiEntropy.Reaped != 0 || rep.Errors != 1 {
			t.Fatalf("reap with a failing delete: %+v", rep)
		}
	})
	t.Run("hints unlistable", func(t *testing.T) {
		h, _ := setup(t)
		h.store.SetHook(func(_ context.Context, op kvmem.Op, _ kv.Location, name string) error {
			if op == kvmem.OpList && strings.HasPrefix(name, kv.HintPrefix) {
				return errors.New("no")
			}
			return nil
		})
		rep, _ := h.repairer().Reap(ctx)
		if rep.AntiEntropy.Reaped != 0 || rep.Errors != 1 {
			t.Fatalf("reap without the hint check: %+v", rep)
		}
	})
	t.Run("budget", func(t *testing.T) {
		h, _ := setup(t)
		for budget := 1; budget < 30; budget++ {
			rep, _ := h.repairer(func(c *Config) { c.MaxRequests = budget }).Reap(ctx)
			if rep.Requests.Total() > budget+1 {
				t.Fatalf("budget %d: %d requests", budget, rep.Requests.Total())
			}
			if rep.AntiEntropy.Reaped == 1 {
				return
			}
		}
		t.Fatal("never reaped")
	})
	t.Run("not during a ring change", func(t *testing.T) {
		h, _ := setup(t)
		h.change(func(c kv.Cluster) (kv.Cluster, error) {
			return membership.AddNode(c, kv.Node{ID: "n6", Zone: "z1", Weight: 1, Location: h.loc("n6")})
		})
		rep, _ := h.repairer().Reap(ctx)
		if rep.AntiEntropy.Reaped != 0 {
			t.Fatalf("reaped during a ring change: %+v", rep.AntiEntropy)
		}
	})
}

// fakeHandoff fails deliveries and drains as told.
type fakeHandoff struct {
	Handoff
	deliver error
	drain   error
}

func (f fakeHandoff) DeliverHint(ctx context.Context, h kv.Hint) error {
	if f.deliver != nil {
		return f.deliver
	}
	return f.Handoff.DeliverHint(ctx, h)
}

func (f fakeHandoff) DrainHints(ctx context.Context, wait time.Duration) (coordinator.DrainResult, error) {
	if f.drain != nil {
		return coordinator.DrainResult{}, f.drain
	}
	return f.Handoff.DrainHints(ctx, wait)
}

// The hint sweep delivers what it can and reports the rest.
func TestSweepHints(t *testing.T) {
	h := newHarness(t, 5)
	key := "hinted"
	prim := h.primaries(key)
	obj, _ := vclock.Update(vclock.Object{Key: key}, nil, "a.1.1", vclock.Sibling{Value: []byte("v")}, 1)
	w, _ := newWorld(h.cluster())
	fb := w.owners.Walk(key)[3]
	h.rawPut(fb, kv.HintName(prim[0], key), vclock.Encode(obj))
	h.rawPut(fb, kv.HintName(prim[1], key), []byte("corrupt"))
	h.rawPut(fb, kv.HintPrefix+"junk", []byte("not a hinted replica"))
	h.rawPut(fb, kv.HintName("n1", "other-key"), vclock.Encode(obj)) // wrong key: corrupt
	d := h.deps()
	d.Handoff = fakeHandoff{Handoff: h.co, drain: errors.New("queue gone")}
	r, err := New(DefaultConfig(), d)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Run(context.Background())
	if hr := rep.Handoff; hr.Found != 3 || hr.Delivered != 1 || hr.Failed != 2 || rep.Errors != 3 {
		t.Fatalf("sweep: %+v, errors %v", rep.Handoff, rep.ErrorSamples)
	}
	if got, ok := h.raw(prim[0], key); !ok || string(got.Data) != string(vclock.Encode(obj)) {
		t.Fatal("the hinted replica was not delivered")
	}
	// Not ready (the intended node is down) and failed deliveries.
	h.rawPut(fb, kv.HintName(prim[0], key), vclock.Encode(obj))
	d.Handoff = fakeHandoff{Handoff: h.co, deliver: fmt.Errorf("later: %w", coordinator.ErrNotReady)}
	r, _ = New(DefaultConfig(), d)
	if rep, _ = r.Run(context.Background()); rep.Handoff.NotReady != 1 {
		t.Fatalf("not ready: %+v", rep.Handoff)
	}
	d.Handoff = fakeHandoff{Handoff: h.co, deliver: errors.New("no")}
	r, _ = New(DefaultConfig(), d)
	if rep, _ = r.Run(context.Background()); rep.Handoff.Failed != 3 {
		t.Fatalf("failed: %+v", rep.Handoff)
	}
	// Unreadable and unlistable nodes.
	h.hook(fb, kvmem.OpGet, func(context.Context, string) error { return errors.New("no") })
	if rep, _ = r.Run(context.Background()); rep.Handoff.Failed != 3 {
		t.Fatalf("unreadable: %+v", rep.Handoff)
	}
	h.hook(fb, kvmem.OpList, func(context.Context, string) error { return errors.New("no") })
	if rep, _ = r.Run(context.Background()); rep.Handoff.Found != 0 || rep.Errors == 0 {
		t.Fatalf("unlistable: %+v", rep)
	}
	h.store.SetHook(nil)
	// Deleted between the listing and the read: nothing to do.
	h.hook(fb, kvmem.OpGet, func(ctx context.Context, name string) error {
		return h.store.Delete(ctx, h.loc(fb), name, "")
	})
	r, _ = New(DefaultConfig(), h.deps())
	if rep, _ = r.Run(context.Background()); rep.Handoff.Found != 3 || rep.Handoff.Delivered+rep.Handoff.Failed != 0 {
		t.Fatalf("vanished: %+v", rep.Handoff)
	}
	h.store.SetHook(nil)
	// A down node is not swept; the budget stops the sweep.
	h.rawPut(fb, kv.HintName(prim[0], key), vclock.Encode(obj))
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, fb, kv.StateDown) })
	if rep, _ = r.Run(context.Background()); rep.Handoff.Found != 0 {
		t.Fatalf("swept a down node: %+v", rep.Handoff)
	}
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, fb, kv.StateActive) })
	for budget := 1; budget < 40; budget++ {
		r, _ = New(func() Config { c := DefaultConfig(); c.MaxRequests = budget; return c }(), h.deps())
		rep, _ = r.Run(context.Background())
		if rep.Handoff.Delivered == 1 {
			return
		}
	}
	t.Fatal("never delivered within a budget")
}

// A plan too recent to transfer waits (Settling); Commit refuses until the
// transfers are done, then commits; a down new owner blocks the transfer.
func TestTransfersSettleAndBlock(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, 4)
	for i := 0; i < 20; i++ {
		h.put(fmt.Sprint("k", i), "v")
	}
	h.change(func(c kv.Cluster) (kv.Cluster, error) {
		return membership.AddNode(c, kv.Node{ID: "n5", Zone: "z2", Weight: 1, Location: h.loc("n5")})
	})
	r := h.repairer(func(c *Config) { c.PlanSettle = time.Minute })
	if p, err := r.Plan(ctx); err != nil || !p.Pending || !p.Settling || p.Done != 0 {
		t.Fatalf("plan: %+v %v", p, err)
	}
	rep, err := r.Commit(ctx)
	if !errors.Is(err, ErrTransfersPending) || !rep.Transfers.Settling || rep.Transfers.Exchange.Partitions != 0 {
		t.Fatalf("commit of a settling plan: %+v %v", rep.Transfers, err)
	}
	if p, _ := r.Plan(ctx); !p.Settling {
		t.Fatal("the plan is no longer settling")
	}
	// Settled, but the new owner is down: nothing completes.
	h.clock.Advance(time.Minute)
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, "n5", kv.StateDown) })
	rep, err = r.Commit(ctx)
	if !errors.Is(err, ErrTransfersPending) || rep.Transfers.Done != 0 || rep.Transfers.Moves == 0 {
		t.Fatalf("transfer to a down node: %+v %v", rep.Transfers, err)
	}
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, "n5", kv.StateActive) })
	rep, err = r.Commit(ctx)
	if err != nil || !rep.Transfers.Committed {
		t.Fatalf("commit: %+v %v", rep.Transfers, err)
	}
	if p, _ := r.Plan(ctx); p.Pending {
		t.Fatal("still pending after the commit")
	}
	// The old copies are cleaned up only once the commit settled.
	if rep.Transfers.Cleaned != 0 {
		t.Fatal("cleaned up before the commit settled")
	}
	h.clock.Advance(time.Minute)
	rep = h.run(r)
	if rep.Transfers.Cleaned == 0 || rep.Errors != 0 {
		t.Fatalf("cleanup: %+v", rep)
	}
}

// raceMembers makes the next Save lose to a concurrent change.
type raceMembers struct {
	kv.Membership
	once   sync.Once
	change func(kv.Cluster) (kv.Cluster, error)
}

func (m *raceMembers) Save(ctx context.Context, c kv.Cluster, prev uint64) error {
	var err error
	raced := false
	if c.Next != nil {
		return m.Membership.Save(ctx, c, prev) // race the commit only
	}
	m.once.Do(func() {
		cur, lerr := m.Membership.Load(ctx)
		if lerr != nil {
			err = lerr
			return
		}
		next, cerr := m.change(cur)
		if cerr != nil {
			err = cerr
			return
		}
		err = m.Membership.Save(ctx, next, cur.Epoch)
		raced = true
	})
	if err != nil {
		return err
	}
	if raced {
		return kv.ErrPrecondition
	}
	return m.Membership.Save(ctx, c, prev)
}

// A commit that loses its conditional write retries if the plan is the
// same, and gives up if it was re-planned.
func TestCommitRaces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(kv.Cluster) (kv.Cluster, error)
		ok     bool
	}{
		{"node marked down", func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, "n1", kv.StateDown) }, true},
		{"re-planned", func(c kv.Cluster) (kv.Cluster, error) {
			return membership.AddNode(c, kv.Node{ID: "n7", Zone: "z3", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n7/"}})
		}, false},
		{"membership fails", func(c kv.Cluster) (kv.Cluster, error) { return kv.Cluster{}, errors.New("boom") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 4)
			h.put("k", "v")
			h.change(func(c kv.Cluster) (kv.Cluster, error) {
				return membership.AddNode(c, kv.Node{ID: "n5", Zone: "z2", Weight: 1, Location: h.loc("n5")})
			})
			h.members = &raceMembers{Membership: h.mem, change: tc.change}
			rep := h.run(h.repairer())
			if rep.Transfers.Committed != tc.ok || (rep.Errors == 0) == !tc.ok {
				t.Fatalf("commit: %+v", rep)
			}
		})
	}
}

// Cleanups: a node added again under the same id starts from a new
// location while the old one is cleaned; a copy older than the reaping
// grace period is still merged, then deleted; a node that cannot be listed
// or cleaned keeps its cleanup for later.
func TestCleanup(t *testing.T) {
	ctx := context.Background()
	newRemoved := func(t *testing.T) (*harness, *Repairer) {
		h := newHarness(t, 5)
		for i := 0; i < 20; i++ {
			h.put(fmt.Sprint("k", i), "v")
		}
		h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
		r := h.repairer(func(c *Config) { c.PlanSettle = time.Minute })
		h.clock.Advance(time.Minute)
		if _, err := r.Commit(ctx); err == nil {
			t.Fatal("committed before the plan was seen settling")
		}
		h.clock.Advance(time.Minute)
		if _, err := r.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return h, r
	}
	count := func(h *harness, id string) int {
		items, _, err := h.store.List(ctx, h.loc(id), kv.DataPrefix, "", 1000)
		if err != nil {
			h.t.Fatal(err)
		}
		return len(items)
	}
	t.Run("past the grace period", func(t *testing.T) {
		h, r := newRemoved(t)
		if count(h, "n5") == 0 {
			t.Fatal("setup: n5 holds nothing")
		}
		h.clock.Advance(2 * time.Hour)
		rep := h.run(r)
		if rep.Transfers.Cleaned == 0 || count(h, "n5") != 0 || rep.Transfers.Exchange.Repaired != 0 {
			t.Fatalf("cleanup: %+v, %d objects left", rep.Transfers, count(h, "n5"))
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		h, r := newRemoved(t)
		held := count(h, "n5")
		h.clock.Advance(time.Minute)
		for _, tc := range []struct {
			op   kvmem.Op
			err  error
			fail bool
		}{
			{kvmem.OpList, errors.New("no"), true},
			{kvmem.OpDelete, errors.New("no"), true},
			{kvmem.OpDelete, kv.ErrPrecondition, false},
		} {
			h.hook("n5", tc.op, func(context.Context, string) error { return tc.err })
			rep := h.run(r)
			h.store.SetHook(nil)
			if count(h, "n5") != held || (rep.Errors > 0) != tc.fail {
				t.Fatalf("%s failing with %v: %d of %d objects left, report %+v", tc.op, tc.err, count(h, "n5"), held, rep)
			}
		}
		for budget := 1; budget < 200; budget++ {
			r.cfg.MaxRequests = budget
			if rep := h.run(r); count(h, "n5") == 0 {
				if rep.Transfers.Cleaned == 0 {
					t.Fatal("cleaned without counting")
				}
				return
			}
		}
		t.Fatal("never cleaned up")
	})
	t.Run("written during the cleanup", func(t *testing.T) {
		h, r := newRemoved(t)
		// A put in flight since before the commit lands on n5 after its
		// partition was listed for the cleanup: the cleanup is not done
		// until that copy too is merged into the owners and deleted.
		var late string
		h.hook("n5", kvmem.OpDelete, func(_ context.Context, name string) error {
			if late != "" {
				return nil
			}
			hash, _ := ParseDataName(name)
			p := ring.PartitionOf(64, hash)
			for i := 0; ; i++ {
				if k := fmt.Sprint("late", i); ring.PartitionOf(64, kv.KeyHash(k)) == p {
					late = k
					break
				}
			}
			obj, _ := vclock.Update(vclock.Object{Key: late}, nil, "n5.1.9", vclock.Sibling{Value: []byte("late")}, 1)
			_, err := h.store.Put(ctx, h.loc("n5"), kv.DataName(late), vclock.Encode(obj), "n5.1.9", "")
			return err
		})
		h.clock.Advance(time.Minute)
		h.run(r)
		h.store.SetHook(nil)
		if late == "" || len(h.cluster().Cleanups) == 0 {
			t.Fatalf("the cleanup finished with a copy written during it (%q)", late)
		}
		h.run(r)
		if len(h.cluster().Cleanups) != 0 || count(h, "n5") != 0 {
			t.Fatalf("%d cleanups, %d objects left", len(h.cluster().Cleanups), count(h, "n5"))
		}
		c := h.cluster()
		for _, id := range h.primaries(late) {
			if _, ok := h.raw(id, late); !ok {
				t.Fatalf("the late write did not reach %s (owners %v, epoch %d)", id, h.primaries(late), c.Epoch)
			}
		}
	})
	t.Run("added again", func(t *testing.T) {
		h, r := newRemoved(t)
		held := count(h, "n5")
		// n5 is added again before its cleanup: it gets a new incarnation
		// and a location of its own; the old copies are still merged and
		// removed by the recorded cleanup.
		h.change(func(c kv.Cluster) (kv.Cluster, error) {
			return membership.AddNode(c, kv.Node{ID: "n5", Zone: "z2", Weight: 1, Location: h.loc("n5")})
		})
		n5, err := h.cluster().Node("n5")
		if err != nil || n5.Incarnation != 2 || n5.Location == h.loc("n5") {
			t.Fatalf("re-added n5: %+v %v", n5, err)
		}
		if held == 0 {
			t.Fatal("setup: n5 held nothing")
		}
		h.clock.Advance(time.Minute)
		h.run(r)
		if count(h, "n5") != 0 || len(h.cluster().Cleanups) != 0 {
			t.Fatalf("%d old objects and %d cleanups left", count(h, "n5"), len(h.cluster().Cleanups))
		}
	})
}

// Without a pending change, Commit says so; the world is rebuilt correctly.
func TestCommitWithoutPlan(t *testing.T) {
	h := newHarness(t, 3)
	if _, err := h.repairer().Commit(context.Background()); !errors.Is(err, membership.ErrNoPlan) {
		t.Fatalf("commit without a plan: %v", err)
	}
}

// members of a partition are its primaries, plus during a change its new ones.
func TestMembers(t *testing.T) {
	c := testCluster(t, 4, 16)
	c, _ = membership.AddNode(c, kv.Node{ID: "n5", Zone: "z2", Weight: 1, Location: kv.Location{Bucket: "b"}})
	w, err := newWorld(c)
	if err != nil {
		t.Fatal(err)
	}
	for p := 0; p < 16; p++ {
		ms := w.members(p)
		now := w.owners.PrimariesOfPartition(p, 3)
		next := w.next.PrimariesOfPartition(p, 3)
		for _, m := range ms {
			if m.old != slices.Contains(now, m.node.ID) || m.next != slices.Contains(next, m.node.ID) {
				t.Fatalf("partition %d: member %+v", p, m)
			}
		}
	}
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	if _, err := ring.New(16, rn, c.Next); err != nil {
		t.Fatal(err)
	}
}

// A node leaving the cluster hands its hinted replicas over before the
// commit removes it: while one cannot be delivered (its intended node is
// down) the commit waits; an unreachable leaving node does not block it.
func TestLeavingNodeHandsOverHints(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, 5)
	key := "held"
	prim := h.primaries(key)
	var leaving string
	for _, n := range h.cluster().Nodes {
		if !slices.Contains(prim, n.ID) {
			leaving = n.ID
			break
		}
	}
	obj, _ := vclock.Update(vclock.Object{Key: key}, nil, "a.1.1", vclock.Sibling{Value: []byte("only here")}, 1)
	h.rawPut(leaving, kv.HintName(prim[0], key), vclock.Encode(obj))
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, leaving) })
	d := h.deps()
	d.Handoff = fakeHandoff{Handoff: h.co, deliver: fmt.Errorf("%s is down: %w", prim[0], coordinator.ErrNotReady)}
	cfg := DefaultConfig()
	cfg.PlanSettle = 0
	notReady, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := notReady.Commit(ctx)
	if !errors.Is(err, ErrTransfersPending) || rep.Transfers.Committed || rep.Transfers.Done != rep.Transfers.Moves || !strings.Contains(rep.Transfers.Blocked, leaving) {
		t.Fatalf("commit with an undeliverable hinted replica: %+v %v", rep.Transfers, err)
	}
	rep, err = h.repairer().Commit(ctx)
	if err != nil || !rep.Transfers.Committed || rep.Handoff.Delivered != 1 {
		t.Fatalf("commit: %+v %+v %v", rep.Transfers, rep.Handoff, err)
	}
	if b, ok := h.raw(prim[0], key); !ok || string(b.Data) != string(vclock.Encode(obj)) {
		t.Fatal("the hinted replica was not handed over")
	}
	// An unreachable leaving node does not block its removal.
	h2 := newHarness(t, 5)
	h2.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	h2.hook("n5", kvmem.OpList, func(context.Context, string) error { return errors.New("gone") })
	if rep, err := h2.repairer().Commit(ctx); err != nil || !rep.Transfers.Committed {
		t.Fatalf("removal of an unreachable node: %+v %v", rep.Transfers, err)
	}
	// The budget may stop the hand-over; the next run finishes it.
	h3 := newHarness(t, 5)
	h3.rawPut("n5", kv.HintName("n1", key), vclock.Encode(obj))
	h3.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	r3 := h3.repairer()
	for budget := 1; budget < 100; budget++ {
		r3.cfg.MaxRequests = budget
		if rep, _ := r3.Commit(ctx); rep.Transfers.Committed {
			return
		}
	}
	t.Fatal("never committed")
}
