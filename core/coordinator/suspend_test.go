package coordinator

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/internal/testclock"
)

// holdPuts holds every PUT to node id's location until release is closed,
// announcing each on entered; then the PUT fails with fail (nil: it goes on).
func (e *env) holdPuts(id string, fail error) (entered chan struct{}, release chan struct{}) {
	entered, release = make(chan struct{}, 16), make(chan struct{})
	e.hookOn(id, kvmem.OpPut, func(ctx context.Context, _ string) error {
		entered <- struct{}{}
		<-release
		return fail
	})
	return entered, release
}

// holdings lists the nodes holding any replica of key (data or hinted).
func (e *env) holdings(key string) []string {
	e.t.Helper()
	var out []string
	for _, n := range e.cluster.Nodes {
		if _, ok := e.object(n.ID, kv.DataName(key), key); ok {
			out = append(out, n.ID+":data")
		}
		items, _, err := e.store.List(context.Background(), n.Location, kv.HintKeyPrefix(key), "", 100)
		if err != nil {
			e.t.Fatal(err)
		}
		for range items {
			out = append(out, n.ID+":hint")
		}
	}
	return out
}

// forget deletes key's data object on every node: a delete, then a reap.
func (e *env) forget(key string) {
	e.t.Helper()
	for _, n := range e.cluster.Nodes {
		err := e.store.Delete(context.Background(), n.Location, kv.DataName(key), "")
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			e.t.Fatal(err)
		}
	}
}

// primaryHints checks the queued hints are exactly the hand-off of key: one
// Primary hint per ordered pair of distinct owners.
func primaryHints(t *testing.T, hints []kv.Hint, key string, owners []string) {
	t.Helper()
	var got, want []string
	for _, h := range hints {
		if h.Key != key || !h.Primary {
			t.Fatalf("unexpected hint %+v", h)
		}
		got = append(got, h.Fallback+">"+h.Intended)
	}
	for _, a := range owners {
		for _, b := range owners {
			if a != b {
				want = append(want, a+">"+b)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("hand-off hints %v, want %v", got, want)
	}
}

// A replica write held up past SuspendBound (a freeze) must not land: the
// key was deleted and reaped meanwhile, and a create-only write of the old
// version would bring it back. With an unbounded SuspendBound (the behaviour
// before the bound) it does come back: the test can fail.
func TestSuspendedWriteNeverResurrects(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bound     time.Duration
		resurrect bool
	}{
		{"bounded", time.Minute, false},
		{"unbounded (the defect)", 1000 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 5)
			co := e.coord(func(c *Config) { c.SuspendBound = tc.bound })
			key := "frozen"
			prim := e.primaries(key)
			entered, release := e.holdPuts(prim[2], nil)
			if _, err := co.Put(context.Background(), key, "", val("old"), Options{}); err != nil {
				t.Fatal(err)
			}
			<-entered // the third replica's write is in flight: frozen
			e.clock.Advance(2 * time.Minute)
			e.forget(key)
			close(release) // thaw
			co.Wait()
			got := e.holdings(key)
			if tc.resurrect {
				if !slices.Contains(got, prim[2]+":data") {
					t.Fatalf("control: without the bound the old write should land, holdings %v", got)
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("a deleted and reaped key came back after the thaw: %v", got)
			}
			if _, ok := co.health.nodes[prim[2]]; ok {
				t.Fatalf("a write refused after a freeze counted against %s", prim[2])
			}
			primaryHints(t, e.takeHints(), key, prim)
			if !e.logs.has("suspended background operation handed to hinted handoff") {
				t.Fatal("the hand-off was not logged")
			}
		})
	}
}

// A replica write whose deadline expired while the process was frozen is no
// verdict on the node: no suspicion, no fallback write of the old version;
// the work is handed off instead. The same failure while not suspended does
// count and does get a fallback (control).
func TestFrozenDeadlineIsNoNodeFailure(t *testing.T) {
	for _, frozen := range []bool{true, false} {
		t.Run(map[bool]string{true: "frozen", false: "control"}[frozen], func(t *testing.T) {
			e := newEnv(t, 5)
			co := e.coord()
			key := "k"
			prim := e.primaries(key)
			entered, release := e.holdPuts(prim[2], context.DeadlineExceeded)
			if _, err := co.Put(context.Background(), key, "", val("v"), Options{}); err != nil {
				t.Fatal(err)
			}
			<-entered
			if frozen {
				e.clock.Advance(co.cfg.SuspendBound + time.Second)
			}
			close(release)
			co.Wait()
			_, counted := co.health.nodes[prim[2]]
			var hinted []string
			for _, h := range e.holdings(key) {
				if !slices.Contains(prim, h[:len(h)-5]) {
					hinted = append(hinted, h)
				}
			}
			if frozen {
				if counted || len(hinted) != 0 {
					t.Fatalf("frozen deadline: counted against the node %v, fallback replicas %v; want neither", counted, hinted)
				}
				primaryHints(t, e.takeHints(), key, prim)
				return
			}
			if !counted || len(hinted) != 1 {
				t.Fatalf("control: counted %v, fallback replicas %v; want the failure counted and one fallback", counted, hinted)
			}
		})
	}
}

// Quiesce returns once the background work is done; when its context ends
// first, the running work is handed to hinted handoff and can no longer
// write, and delivering the hand-off completes the replicas.
func TestQuiesce(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "q"
	prim := e.primaries(key)
	if err := co.Quiesce(context.Background()); err != nil {
		t.Fatalf("idle Quiesce = %v", err)
	}
	over, stop := context.WithCancel(context.Background())
	stop()
	for range 20 { // both ready: idle must win every time
		if err := co.Quiesce(over); err != nil {
			t.Fatalf("idle Quiesce past its budget = %v", err)
		}
	}

	entered, release := e.holdPuts(prim[2], nil)
	if _, err := co.Put(context.Background(), key, "", val("v"), Options{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	done := make(chan error, 1)
	go func() { done <- co.Quiesce(context.Background()) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Quiesce while the work finishes = %v", err)
	}
	if got := e.values(prim[2], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("third replica holds %v", got)
	}

	key = "q2"
	prim = e.primaries(key)
	entered, release = e.holdPuts(prim[2], nil)
	if _, err := co.Put(context.Background(), key, "", val("v2"), Options{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	budget, cancel := context.WithCancel(context.Background())
	cancel() // the budget is over
	if err := co.Quiesce(budget); !errors.Is(err, ErrSuspended) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Quiesce past the budget = %v, want ErrSuspended and the budget's error", err)
	}
	hints := e.takeHints()
	primaryHints(t, hints, key, prim)
	close(release) // the held write resumes: it belongs to a handed-off operation
	co.Wait()
	if got := e.values(prim[2], key); got != nil {
		t.Fatalf("a handed-off write landed: %v", got)
	}
	e.store.SetHook(nil)
	for _, h := range hints {
		if err := co.DeliverHint(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range prim {
		if got := e.values(id, key); !slices.Equal(got, []string{"v2"}) {
			t.Fatalf("after the hand-off, %s holds %v", id, got)
		}
	}
}

// The background group is idle at zero, busy while counted, and idle again.
func TestBgGroup(t *testing.T) {
	var g bgGroup
	select {
	case <-g.Idle():
	default:
		t.Fatal("zero group not idle")
	}
	g.Add(2)
	idle := g.Idle()
	g.Done()
	select {
	case <-idle:
		t.Fatal("idle with one running")
	default:
	}
	g.Done()
	<-idle
	g.Wait()
	defer func() {
		if recover() == nil {
			t.Fatal("negative count did not panic")
		}
	}()
	g.Done()
}

// Both kinds of pause trip SuspendBound: a process stop (SIGSTOP, a cgroup
// freeze: the monotonic and the wall clock both move on) and a VM pause (the
// guest's monotonic clock stops; the wall clock is set forward on resume),
// and so does a monotonic clock moving on while the wall clock is stepped
// back. A write held across any of them never lands; with no pause it does
// (control).
func TestSuspendBoundEitherClock(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mono, wall time.Duration // how far each clock moves during the pause
		refused    bool
	}{
		{"process stop", 2 * time.Minute, 2 * time.Minute, true},
		{"VM pause", 0, 2 * time.Minute, true},
		{"wall stepped back", 2 * time.Minute, -time.Hour, true},
		{"no pause (control)", time.Second, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 5)
			wall := testclock.New(e.clock.Now())
			deps := e.deps()
			deps.Wall = func() time.Time { return wall.Now() }
			co, err := New(e.config(), deps)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(co.Wait)
			key := "paused"
			prim := e.primaries(key)
			entered, release := e.holdPuts(prim[2], nil)
			if _, err := co.Put(context.Background(), key, "", val("old"), Options{}); err != nil {
				t.Fatal(err)
			}
			<-entered
			e.clock.Advance(tc.mono)
			wall.Advance(tc.wall)
			close(release)
			co.Wait()
			landed := slices.Equal(e.values(prim[2], key), []string{"old"})
			if landed == tc.refused {
				t.Fatalf("held write landed = %v after the monotonic clock moved %s and the wall clock %s; bound %s", landed, tc.mono, tc.wall, co.cfg.SuspendBound)
			}
			if tc.refused {
				primaryHints(t, e.takeHints(), key, prim)
			}
		})
	}
}

// deadlineHints records the deadline of each Enqueue's context.
type deadlineHints struct {
	kv.HintQueue
	mu        sync.Mutex
	deadlines []time.Time
}

func (q *deadlineHints) Enqueue(ctx context.Context, h kv.Hint) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Time{}
	}
	q.mu.Lock()
	q.deadlines = append(q.deadlines, dl)
	q.mu.Unlock()
	return q.HintQueue.Enqueue(ctx, h)
}

// The hand-off after an ended budget fits the time the caller has left
// (HandOffBy, the invocation's deadline), not a fresh ReplicaTimeout that
// would run past it; without HandOffBy it gets ReplicaTimeout.
func TestHandOffFitsTheTimeLeft(t *testing.T) {
	for _, limited := range []bool{true, false} {
		t.Run(map[bool]string{true: "HandOffBy", false: "ReplicaTimeout"}[limited], func(t *testing.T) {
			e := newEnv(t, 5)
			hints := &deadlineHints{HintQueue: e.hints}
			deps := e.deps()
			deps.Hints = hints
			co, err := New(e.config(), deps) // ReplicaTimeout: 1 min
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(co.Wait)
			key := "late"
			entered, release := e.holdPuts(e.primaries(key)[2], nil)
			defer close(release)
			if _, err := co.Put(context.Background(), key, "", val("v"), Options{}); err != nil {
				t.Fatal(err)
			}
			<-entered
			budget, cancel := context.WithCancel(context.Background())
			cancel()
			by := time.Now().Add(300 * time.Millisecond)
			if limited {
				budget = HandOffBy(budget, by)
			}
			start := time.Now()
			if err := co.Quiesce(budget); !errors.Is(err, ErrSuspended) {
				t.Fatalf("Quiesce past the budget = %v", err)
			}
			if len(hints.deadlines) == 0 {
				t.Fatal("nothing handed off")
			}
			for _, dl := range hints.deadlines {
				if limited && (dl.IsZero() || dl.After(by)) {
					t.Fatalf("hand-off deadline %v, want by %v", dl, by)
				}
				if !limited && (dl.Before(start.Add(co.cfg.ReplicaTimeout-time.Second)) || dl.After(time.Now().Add(co.cfg.ReplicaTimeout))) {
					t.Fatalf("hand-off deadline %s away, want ReplicaTimeout %s", time.Until(dl), co.cfg.ReplicaTimeout)
				}
			}
		})
	}
}
