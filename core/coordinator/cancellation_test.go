package coordinator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// ---- cancellation ----------------------------------------------------------

// blocker is a store hook that blocks matching requests until their context
// ends, announcing each one.
type blocker struct {
	match   func(op kvmem.Op, loc kv.Location) bool
	entered chan struct{}
	exited  chan struct{}
}

func newBlocker(match func(kvmem.Op, kv.Location) bool) *blocker {
	return &blocker{match: match, entered: make(chan struct{}, 64), exited: make(chan struct{}, 64)}
}

func (b *blocker) hook(ctx context.Context, op kvmem.Op, loc kv.Location, _ string) error {
	if !b.match(op, loc) {
		return nil
	}
	b.entered <- struct{}{}
	<-ctx.Done()
	b.exited <- struct{}{}
	return ctx.Err()
}

func TestGetCancelled(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	mustPut(t, co, "k", "", "v", Options{})
	b := newBlocker(func(op kvmem.Op, _ kv.Location) bool { return op == kvmem.OpGet })
	e.store.SetHook(b.hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Get(ctx, "k", Options{})
		done <- err
	}()
	for i := 0; i < 3; i++ { // every replica read is in flight
		<-b.entered
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `get "k"`) {
		t.Fatalf("cancelled Get = %v", err)
	}
	for i := 0; i < 3; i++ { // and every one of them is released
		<-b.exited
	}
	co.Wait()
	e.store.SetHook(nil)
	if g := mustGet(t, co, "k", Options{R: 3}); !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("after a cancelled get: %v", liveValues(g.Siblings))
	}
}

// Cancelled while committing at the coordinating replica (a blind put's
// create-only PUT, blindcreate.go): nothing is written.
func TestPutCancelledWhileCommitting(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	b := newBlocker(func(op kvmem.Op, _ kv.Location) bool { return op == kvmem.OpPut })
	e.store.SetHook(b.hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Put(ctx, "k", "", val("v"), Options{})
		done <- err
	}()
	<-b.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `put "k"`) {
		t.Fatalf("cancelled Put = %v", err)
	}
	<-b.exited
	co.Wait()
	if n := e.store.TotalCounts().Put; n != 1 {
		t.Fatalf("%d PUTs after cancelling the commit, want the one cancelled", n)
	}
	for _, id := range e.primaries("k") {
		if _, err := e.store.Get(context.Background(), e.loc(id), kv.DataName("k")); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("replica %s after a cancelled commit: %v, want nothing", id, err)
		}
	}
}

// Cancelled while replicating: the caller gets the context's error at once;
// the committed version still reaches the replicas in the background.
func TestPutCancelledWhileReplicating(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	key := "k"
	prim := e.primaries(key)
	coordLoc := e.loc(prim[0])
	b := newBlocker(func(op kvmem.Op, loc kv.Location) bool { return op == kvmem.OpPut && loc != coordLoc })
	e.store.SetHook(b.hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Put(ctx, key, "", val("v"), Options{})
		done <- err
	}()
	<-b.entered
	<-b.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put = %v", err)
	}
	co.Wait()
	// The commit happened; the replica writes ended with the request.
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("coordinating replica holds %v", got)
	}
	e.store.SetHook(nil)
	if g := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("the committed version is not readable: %v", liveValues(g.Siblings))
	}
}

func TestDeleteCancelled(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	mustPut(t, co, "k", "", "v", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := co.Delete(ctx, "k", "", Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete with a cancelled context = %v", err)
	}
	co.Wait()
	if g := mustGet(t, co, "k", Options{R: 3}); !g.Found() {
		t.Fatal("a cancelled delete deleted")
	}
}
