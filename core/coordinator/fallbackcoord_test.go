package coordinator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

// ---- sloppy quorum: a fallback as coordinator -------------------------------

// With every primary down the put is coordinated by a fallback. Every hinted
// replica, including the coordinating fallback's, must be handed off, or the
// acknowledged write never reaches the primaries.
func TestFallbackCoordinatesWhenAllPrimariesDown(t *testing.T) {
	e := newEnv(t, 4) // three primaries and one fallback per key
	co := e.coord()
	key := "orphan"
	prim := e.primaries(key)
	fb := e.walk(key)[3]
	for _, id := range prim {
		e.setState(id, kv.StateDown)
	}
	p, err := co.Put(context.Background(), key, "", val("v"), Options{W: 1})
	if err != nil {
		t.Fatalf("W=1 put with every primary down: %v", err)
	}
	co.Wait()
	if p.Context == "" {
		t.Fatal("no context")
	}
	if _, ok := e.object(fb, kv.HintName(prim[0], key), key); !ok {
		t.Fatalf("the fallback %s did not store a hinted replica for %s", fb, prim[0])
	}
	if got := mustGet(t, co, key, Options{R: 1}); !slices.Equal(liveValues(got.Siblings), []string{"v"}) {
		t.Fatalf("read while primaries are down = %v", liveValues(got.Siblings))
	}
	// The primaries come back and the hints are delivered.
	for _, id := range prim {
		e.setState(id, kv.StateActive)
	}
	res, err := co.DrainHints(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 1 || res.Failed != 0 {
		t.Fatalf("drain = %+v, want the coordinating fallback's hint delivered", res)
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("after handoff %s holds %v", prim[0], got)
	}
	// W=1 and R=3 overlap: the write is visible, and the read repairs the
	// other primaries.
	if got := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(got.Siblings), []string{"v"}) {
		t.Fatalf("the acknowledged write is lost after recovery: %v", liveValues(got.Siblings))
	}
	for _, id := range prim {
		if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
			t.Fatalf("after read repair %s holds %v", id, got)
		}
	}
}

// The same with two fallbacks: both hinted replicas are handed off.
func TestFallbacksCoordinateAndReplicate(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "two-fallbacks"
	prim := e.primaries(key)
	for _, id := range prim {
		e.setState(id, kv.StateDown)
	}
	mustPut(t, co, key, "", "v", Options{W: 2})
	if got := co.Stats().HintsQueued.Load(); got != 2 {
		t.Fatalf("HintsQueued = %d, want one per fallback holding a hinted replica (2)", got)
	}
	for _, id := range prim {
		e.setState(id, kv.StateActive)
	}
	if _, err := co.DrainHints(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, id := range prim {
		if slices.Equal(e.values(id, key), []string{"v"}) {
			held++
		}
	}
	if held != 2 {
		t.Fatalf("%d primaries hold the value after handoff, want 2", held)
	}
}

// A coordinating fallback whose hint cannot be queued does not count; with no
// stand-in left the put fails, naming the enqueue.
func TestFallbackCoordinatorHintEnqueueFails(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "nowhere"
	for _, id := range e.primaries(key) {
		e.setState(id, kv.StateDown)
	}
	e.hints.SetDown(true)
	_, err := co.Put(context.Background(), key, "", val("v"), Options{W: 1})
	co.Wait()
	var qe *kv.QuorumError
	if !errors.As(err, &qe) || qe.Got != 0 || !strings.Contains(err.Error(), "enqueue hint") {
		t.Fatalf("put = %v, want a quorum error naming the failed enqueue", err)
	}
}
