package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// ---- replica failures ------------------------------------------------------

// hookOn fails or alters requests of one kind to one node's location.
func (e *env) hookOn(id string, op kvmem.Op, f func(ctx context.Context, name string) error) {
	loc := e.loc(id)
	e.store.SetHook(func(ctx context.Context, o kvmem.Op, l kv.Location, name string) error {
		if o == op && l == loc {
			return f(ctx, name)
		}
		return nil
	})
}

// Losing every conditional write at one replica exhausts CASRetries there: at
// the coordinating replica (the next primary coordinates) or at a replica
// being sent the version (a merge); either way a fallback stands in for it.
func TestCASRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		contended int  // index of the contended primary
		othersGet bool // the other primaries must hold the value
	}{
		{"commit", 0, true},
		{"merge", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 5)
			co := e.coord(func(c *Config) { c.CASRetries = 3 })
			key := "contended"
			prim := e.primaries(key)
			var puts atomic.Int64
			e.hookOn(prim[tc.contended], kvmem.OpPut, func(context.Context, string) error {
				puts.Add(1)
				return fmt.Errorf("lost race: %w", kv.ErrPrecondition)
			})
			if _, err := co.Put(context.Background(), key, "", val("v"), Options{W: 3}); err != nil {
				t.Fatalf("put with one contended replica: %v", err)
			}
			co.Wait()
			if puts.Load() != 3 || co.Stats().CASRetries.Load() != 3 {
				t.Fatalf("%d PUTs to %s, %d CAS retries; want 3 and 3", puts.Load(), prim[tc.contended], co.Stats().CASRetries.Load())
			}
			if tc.othersGet {
				for _, id := range prim[1:] {
					if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
						t.Fatalf("%s holds %v", id, got)
					}
				}
			}
			assertHintedFor(t, e, key, prim[tc.contended], "v")
		})
	}
}

// assertHintedFor checks that exactly one hint was queued, for intended, and
// that its fallback holds the hinted replica with the given value.
func assertHintedFor(t *testing.T, e *env, key, intended, value string) {
	t.Helper()
	hints := e.takeHints()
	if len(hints) != 1 || hints[0].Intended != intended || hints[0].Key != key {
		t.Fatalf("hints = %+v, want one for %s", hints, intended)
	}
	o, ok := e.object(hints[0].Fallback, kv.HintName(intended, key), key)
	if !ok || !slices.Equal(liveValues(o.Live()), []string{value}) {
		t.Fatalf("fallback %s holds no hinted replica of %q for %s", hints[0].Fallback, value, intended)
	}
}

// A replica whose PUT fails outright is skipped as coordinator.
func TestCommitWriteErrorTriesNextReplica(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "burning"
	prim := e.primaries(key)
	e.hookOn(prim[0], kvmem.OpPut, func(context.Context, string) error { return errors.New("disk on fire") })
	mustPut(t, co, key, "", "v", Options{})
	if got := e.values(prim[0], key); got != nil {
		t.Fatalf("failing replica holds %v", got)
	}
	for _, id := range prim[1:] {
		if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
			t.Fatalf("%s holds %v", id, got)
		}
	}
	// Every replica failing makes a quorum error listing the failures.
	e.store.SetHook(func(context.Context, kvmem.Op, kv.Location, string) error { return errors.New("disk on fire") })
	_, err := co.Put(context.Background(), key, "", val("w"), Options{})
	var qe *kv.QuorumError
	if !errors.As(err, &qe) || qe.Got != 0 || len(qe.Errs) != 3 || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("put with every replica failing = %v", err)
	}
}

// A failed hint enqueue fails that fallback write; the put still succeeds if
// W other replicas acknowledge, and otherwise reports the enqueue failure.
func TestHintEnqueueFailure(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "unhinted"
	prim := e.primaries(key)
	e.setState(prim[2], kv.StateDown)
	e.hints.SetDown(true)
	mustPut(t, co, key, "", "v1", Options{W: 2})
	if co.Stats().HintsQueued.Load() != 0 {
		t.Fatal("a hint was counted while the queue is down")
	}
	_, err := co.Put(context.Background(), key, "", val("v2"), Options{W: 3})
	co.Wait()
	if !errors.Is(err, kv.ErrQuorum) || !strings.Contains(err.Error(), "enqueue hint") {
		t.Fatalf("W=3 with the queue down = %v, want a quorum error naming the enqueue", err)
	}
}

// A stored object holding another key is treated as corrupt and repaired.
func TestReplicaWithWrongKeyIsCorrupt(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	key := "mine"
	mustPut(t, co, key, "", "v", Options{})
	prim := e.primaries(key)
	other, _ := vclock.Update(vclock.Object{Key: "theirs"}, nil, "x.1.1", vclock.Sibling{Value: []byte("alien")}, 1)
	loc := e.loc(prim[1])
	b, err := e.store.Get(context.Background(), loc, kv.DataName(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Put(context.Background(), loc, kv.DataName(key), vclock.Encode(other), "x.1.1", b.ETag); err != nil {
		t.Fatal(err)
	}
	g := mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v"}) || co.Stats().CorruptReplicas.Load() == 0 {
		t.Fatalf("get = %v, corrupt counted %d", liveValues(g.Siblings), co.Stats().CorruptReplicas.Load())
	}
	if got := e.values(prim[1], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("not repaired: %v", got)
	}
}

// A failing read repair is logged and not counted; the read still succeeds.
func TestReadRepairFailure(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	key := "unrepairable"
	prim := e.primaries(key)
	p := mustPut(t, co, key, "", "v1", Options{})
	e.down(prim[2], true)
	mustPut(t, co, key, p.Context, "v2", Options{W: 2})
	e.down(prim[2], false)
	e.hookOn(prim[2], kvmem.OpPut, func(context.Context, string) error { return errors.New("read-only") })
	g := mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v2"}) {
		t.Fatalf("get = %v", liveValues(g.Siblings))
	}
	if co.Stats().ReadRepairs.Load() != 0 || !e.logs.has("read repair failed") {
		t.Fatalf("repairs %d, logged=%v", co.Stats().ReadRepairs.Load(), e.logs.has("read repair failed"))
	}
	if got := e.values(prim[2], key); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("%s holds %v", prim[2], got)
	}
}

// Reads of hinted replicas: a fallback that cannot list or read is replaced
// by the next one in the walk.
func TestHintedReadFailures(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "hinted-read"
	prim := e.primaries(key)
	walk := e.walk(key)
	e.setState(prim[0], kv.StateDown)
	mustPut(t, co, key, "", "v", Options{W: 3})
	if _, ok := e.object(walk[3], kv.HintName(prim[0], key), key); !ok {
		t.Fatalf("setup: %s holds no hinted replica", walk[3])
	}
	// Listing fails on the first fallback: the second one is read instead.
	e.down(walk[3], true)
	g := mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("get = %v", liveValues(g.Siblings))
	}
	if c := e.store.Counts(e.loc(walk[4])); c.List != 1 {
		t.Fatalf("second fallback %s: %+v, want one LIST", walk[4], c)
	}
	e.down(walk[3], false)
	// The listing works but reading the hinted object fails.
	e.hookOn(walk[3], kvmem.OpGet, func(_ context.Context, name string) error {
		if strings.HasPrefix(name, kv.HintPrefix) {
			return errors.New("unreadable")
		}
		return nil
	})
	e.store.ResetCounts()
	g = mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("get = %v", liveValues(g.Siblings))
	}
	if c := e.store.Counts(e.loc(walk[4])); c.List != 1 {
		t.Fatalf("second fallback %s: %+v, want one LIST", walk[4], c)
	}
}
