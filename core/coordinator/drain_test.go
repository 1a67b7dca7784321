package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// ---- draining the hint queue -------------------------------------------------

func TestDrainHintsWithPoison(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	ctx := context.Background()
	// Three hinted keys; the third one's intended node is not the others'.
	keys := []string{"a", "b"}
	for i := 0; len(keys) < 3; i++ {
		k := fmt.Sprint("c", i)
		if p := e.primaries(k)[0]; p != e.primaries("a")[0] && p != e.primaries("b")[0] {
			keys = append(keys, k)
		}
	}
	var hints []kv.Hint
	for _, key := range keys {
		hints = append(hints, e.hinted(co, key, e.primaries(key)[0], "v-"+key))
	}
	for _, h := range hints {
		if err := e.hints.Enqueue(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.hints.EnqueueRaw(ctx, []byte("this is not a hint")); err != nil {
		t.Fatal(err)
	}
	// The third hint cannot be delivered yet.
	e.setState(hints[2].Intended, kv.StateDown)
	res, err := co.DrainHints(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res != (DrainResult{Delivered: 2, Failed: 1, Poison: 1}) {
		t.Fatalf("drain = %+v", res)
	}
	if !e.logs.has("poison hint message") || !e.logs.has("hint not delivered") {
		t.Fatal("poison and failed messages not logged")
	}
	// Delivered hints are acknowledged; the poison and the failed one are not.
	st, err := e.hints.Stats(ctx)
	if err != nil || st != (kv.QueueStats{InFlight: 2}) {
		t.Fatalf("queue after drain = %+v, %v; want the 2 unacknowledged in flight", st, err)
	}
	for i, h := range hints[:2] {
		key := keys[i]
		if got := e.values(h.Intended, key); !slices.Equal(got, []string{"v-" + key}) {
			t.Fatalf("%s holds %v", h.Intended, got)
		}
	}
}

func TestDrainHintsEmptyQueue(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	res, err := co.DrainHints(context.Background(), 0)
	if err != nil || res != (DrainResult{}) {
		t.Fatalf("drain of an empty queue = %+v, %v", res, err)
	}
}

func TestDrainHintsQueueDown(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	e.hints.SetDown(true)
	if _, err := co.DrainHints(context.Background(), 0); !errors.Is(err, kvmem.ErrDown) || !strings.Contains(err.Error(), "drain hints") {
		t.Fatalf("drain with the queue down = %v", err)
	}
}

func TestDrainHintsCancelled(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "k"
	e.hinted(co, key, e.primaries(key)[0], "v")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := co.DrainHints(ctx, 0)
	if !errors.Is(err, context.Canceled) || res != (DrainResult{}) {
		t.Fatalf("drain with a cancelled context = %+v, %v", res, err)
	}
}

// ackFailing is a hint queue whose Ack fails.
type ackFailing struct{ kv.HintQueue }

func (ackFailing) Ack(context.Context, ...string) error { return errors.New("ack refused") }

func TestDrainHintsAckFails(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "k"
	h := e.hinted(co, key, e.primaries(key)[0], "v")
	if err := e.hints.Enqueue(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	d := e.deps()
	d.Hints = ackFailing{e.hints}
	co2, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	res, err := co2.DrainHints(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "ack hints") || res.Delivered != 1 {
		t.Fatalf("drain with failing acks = %+v, %v", res, err)
	}
}

// lostAnswer is a replica store whose first PUT to one location lands but
// reports a lost condition, as when an SDK retry sees its own write.
type lostAnswer struct {
	kv.ReplicaStore
	loc  kv.Location
	once sync.Once
}

func (s *lostAnswer) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	etag, err := s.ReplicaStore.Put(ctx, loc, name, data, actor, ifMatch)
	lost := false
	if err == nil && loc == s.loc {
		s.once.Do(func() { lost = true })
	}
	if lost {
		return "", fmt.Errorf("retried put: %w", kv.ErrPrecondition)
	}
	return etag, err
}

// A commit whose write landed but whose answer was lost is recognised on the
// re-read: the version is not committed a second time with a new dot.
func TestCommitLostAnswer(t *testing.T) {
	e := newEnv(t, 3)
	key := "lost-answer"
	prim := e.primaries(key)
	d := e.deps()
	d.Store = &lostAnswer{ReplicaStore: e.faults, loc: e.loc(prim[0])}
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := co.Put(context.Background(), key, "", val("once"), Options{W: 3})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if co.Stats().CASRetries.Load() != 1 {
		t.Fatalf("CASRetries = %d, want 1", co.Stats().CASRetries.Load())
	}
	var first []byte
	for _, id := range prim {
		o, ok := e.object(id, kv.DataName(key), key)
		if !ok || len(o.Siblings) != 1 || string(o.Siblings[0].Value) != "once" || len(o.Clock) != 1 || o.Clock[0].Counter != 1 {
			t.Fatalf("%s holds %+v, want the one version with one dot", id, o)
		}
		b, _ := e.store.Get(context.Background(), e.loc(id), kv.DataName(key))
		if first == nil {
			first = b.Data
		} else if string(first) != string(b.Data) {
			t.Fatalf("%s holds different bytes", id)
		}
	}
	// The returned context covers the version: a put with it replaces it.
	mustPut(t, co, key, p.Context, "twice", Options{W: 3})
	if got := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(got.Siblings), []string{"twice"}) {
		t.Fatalf("after a put with the context: %v", liveValues(got.Siblings))
	}
}

// failingEnqueue is a hint queue that refuses hints held by one fallback.
type failingEnqueue struct {
	kv.HintQueue
	fallback string
}

func (q failingEnqueue) Enqueue(ctx context.Context, h kv.Hint) error {
	if h.Fallback == q.fallback {
		return errors.New("queue refused")
	}
	return q.HintQueue.Enqueue(ctx, h)
}

// A coordinating fallback whose hint cannot be queued is replaced by the next
// fallback, which receives the version and a hint in its place.
func TestFallbackCoordinatorReplacedWhenHintFails(t *testing.T) {
	e := newEnv(t, 7)
	key := "replaced"
	prim := e.primaries(key)
	walk := e.walk(key)
	e.setState(prim[0], kv.StateDown)
	e.setState(prim[1], kv.StateDown)
	e.down(prim[2], true) // fails as coordinator: a fallback coordinates
	d := e.deps()
	d.Hints = failingEnqueue{HintQueue: e.hints, fallback: walk[3]}
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.Put(context.Background(), key, "", val("v"), Options{W: 3}); err != nil {
		t.Fatalf("put: %v", err)
	}
	co.Wait()
	hints := e.takeHints()
	got := map[string]string{} // fallback -> intended
	for _, h := range hints {
		got[h.Fallback] = h.Intended
	}
	if len(hints) != 3 || got[walk[3]] != "" {
		t.Fatalf("hints %+v: want 3, none from %s whose enqueue fails", hints, walk[3])
	}
	if got[walk[4]] != prim[1] {
		t.Fatalf("hints %+v: want %s holding %s's replica", hints, walk[4], prim[1])
	}
	// prim[0]'s replica (from the refused coordinator) and prim[2]'s (failed
	// as coordinator) both found stand-ins among the remaining nodes.
	var intended []string
	for _, h := range hints {
		intended = append(intended, h.Intended)
		if o, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok || !slices.Equal(liveValues(o.Live()), []string{"v"}) {
			t.Fatalf("%s holds no hinted replica for %s", h.Fallback, h.Intended)
		}
	}
	sort.Strings(intended)
	want := slices.Clone(prim)
	sort.Strings(want)
	if !slices.Equal(intended, want) {
		t.Fatalf("hints stand in for %v, want every primary %v", intended, want)
	}
}
