package jobs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// holdSecondPut holds the second replica PUT (a write the quorum does not
// wait for) until release is closed.
func holdSecondPut(f fixture) (entered, release chan struct{}) {
	entered, release = make(chan struct{}, 1), make(chan struct{})
	var puts atomic.Int64
	f.store.SetHook(func(_ context.Context, op kvmem.Op, _ kv.Location, _ string) error {
		if op == kvmem.OpPut && puts.Add(1) == 2 {
			entered <- struct{}{}
			<-release
		}
		return nil
	})
	return entered, release
}

func putHandler(f fixture) func(context.Context, string) (string, error) {
	return Settled(f.co, func(ctx context.Context, key string) (string, error) {
		_, err := f.co.Put(ctx, key, "", coordinator.Value{Data: []byte("v")}, coordinator.Options{})
		return "done", err
	})
}

// A job wrapped in Settled returns only once the background work it left
// (here a replica write after the quorum) is done: on Lambda the process is
// frozen as soon as the handler returns.
func TestSettledWaitsForBackgroundWork(t *testing.T) {
	f := newFixture(t)
	entered, release := holdSecondPut(f)
	returned := make(chan error, 1)
	go func() {
		_, err := putHandler(f)(context.Background(), "k")
		returned <- err
	}()
	<-entered
	select {
	case err := <-returned:
		t.Fatalf("returned (%v) with a replica write still running", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
	g, err := f.co.Get(context.Background(), "k", coordinator.Options{R: 3})
	if err != nil || len(g.Siblings) != 1 {
		t.Fatalf("after the job: %+v, %v; want the value on all 3 replicas", g, err)
	}
}

// When the invocation's context ends first, the job fails with
// ErrSuspended (its work was handed to hinted handoff), so it is retried.
func TestSettledPastDeadline(t *testing.T) {
	f := newFixture(t)
	entered, release := holdSecondPut(f)
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan error, 1)
	go func() {
		_, err := putHandler(f)(ctx, "k")
		returned <- err
	}()
	<-entered
	cancel()
	if err := <-returned; !errors.Is(err, coordinator.ErrSuspended) {
		t.Fatalf("job past its deadline = %v, want ErrSuspended", err)
	}
}

// deadlineQueue records the deadline of each Enqueue's context.
type deadlineQueue struct {
	kv.HintQueue
	mu  sync.Mutex
	dls []time.Time
}

func (q *deadlineQueue) Enqueue(ctx context.Context, h kv.Hint) error {
	dl, _ := ctx.Deadline()
	q.mu.Lock()
	q.dls = append(q.dls, dl)
	q.mu.Unlock()
	return q.HintQueue.Enqueue(ctx, h)
}

// Work still running near the invocation's deadline is handed off before the
// deadline (less the margin), not a ReplicaTimeout after it, when Lambda
// would already have stopped the environment.
func TestSettledHandOffBeforeDeadline(t *testing.T) {
	f := newFixture(t)
	q := &deadlineQueue{HintQueue: f.hints}
	cfg := coordinator.DefaultConfig()
	cfg.ClusterTTL = 0
	var n atomic.Uint64
	co, err := coordinator.New(cfg, coordinator.Deps{Store: f.faults, Hints: q, Members: f.members, Now: time.Now, Rand: func() uint64 { return n.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	f.co = co
	entered, release := holdSecondPut(f)
	defer close(release)
	// The wait ends shortly after the put: the deadline is the reserve and
	// the margin away, plus a little.
	dl := time.Now().Add(coordinator.HandOffReserve + deadlineMargin + 50*time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	defer cancel()
	returned := make(chan error, 1)
	go func() {
		_, err := putHandler(f)(ctx, "k")
		returned <- err
	}()
	<-entered
	if err := <-returned; !errors.Is(err, coordinator.ErrSuspended) {
		t.Fatalf("job near its deadline = %v, want ErrSuspended", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.dls) == 0 {
		t.Fatal("nothing handed off")
	}
	for _, d := range q.dls {
		if d.IsZero() || d.After(dl.Add(-deadlineMargin)) {
			t.Fatalf("hand-off deadline %v, want by %v (the invocation's deadline %v less the margin)", d, dl.Add(-deadlineMargin), dl)
		}
	}
}
