package coordinator_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// A coordinator killed in the middle of a fan-out (its caller's context
// cancelled after some replicas were written) loses nothing it acknowledged,
// and leaves nothing that repair (read repair, hinted handoff) cannot
// converge. Values are sets of integers (JSON arrays) grown by
// read-modify-write, as the set check does over HTTP.

func memCluster(t *testing.T) (*coordtest.Cluster, *kvmem.Store, *kvmem.HintQueue) {
	store := kvmem.NewStore()
	hints := kvmem.NewHintQueue(50*time.Millisecond, 100)
	env := coordtest.Env{Store: store, Hints: hints, Members: kvmem.NewMembership(), Bucket: "cartwheel-cancel"}
	return coordtest.NewCluster(t, env, coordtest.Options{}), store, hints
}

func setValue(elems ...int) coordinator.Value {
	slices.Sort(elems)
	b, _ := json.Marshal(slices.Compact(elems))
	return coordinator.Value{Data: b, ContentType: "application/json"}
}

// union returns the elements of every sibling of a get.
func union(t *testing.T, g coordinator.GetResult) []int {
	t.Helper()
	var out []int
	for _, s := range g.Siblings {
		var e []int
		if err := json.Unmarshal(s.Value, &e); err != nil {
			t.Fatalf("sibling %q is not a set: %v", s.Value, err)
		}
		out = append(out, e...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// gate blocks replica writes of one key's data object after the first
// `landed` have gone through, until the write's context ends or release
// closes. Every blocked write is announced on blocked.
type gate struct {
	name    string
	landed  int
	mu      sync.Mutex
	passed  int
	blocked chan string
	release chan struct{}
}

func newGate(key string, landed int) *gate {
	return &gate{name: kv.DataName(key), landed: landed, blocked: make(chan string, 64), release: make(chan struct{})}
}

func (g *gate) hook(ctx context.Context, op kvmem.Op, loc kv.Location, name string) error {
	if op != kvmem.OpPut || name != g.name {
		return nil
	}
	g.mu.Lock()
	if g.passed < g.landed {
		g.passed++
		g.mu.Unlock()
		return nil
	}
	g.mu.Unlock()
	g.blocked <- loc.Prefix
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-g.release:
		return nil
	}
}

// waitBlocked waits until n writes are blocked at the gate.
func (g *gate) waitBlocked(t *testing.T, n int) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i := 0; i < n; i++ {
		select {
		case <-g.blocked:
		case <-timeout.C:
			t.Fatalf("only %d of %d replica writes reached the gate", i, n)
		}
	}
}

// eventually polls cond every 20 ms for at most 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drainAll delivers queued hints until the queue is empty (bounded polling:
// a failed delivery's message is hidden for the queue's 50 ms visibility).
func drainAll(t *testing.T, co *coordinator.Coordinator, q *kvmem.HintQueue) {
	t.Helper()
	eventually(t, "the hint queue to drain", func() bool {
		if _, err := co.DrainHints(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
		st, err := q.Stats(context.Background())
		return err == nil && st.Visible == 0 && st.InFlight == 0
	})
}

type putResult struct {
	err error
}

func TestPutCancelledMidFanOut(t *testing.T) {
	cases := []struct {
		name string
		// landed is how many replica writes of the new version succeed before
		// the gate blocks the rest; blocked is how many block before the
		// caller's context is cancelled.
		landed, blocked int
		w               int
		blind           bool
		downThird       bool // the third primary is down: the fan-out goes through a fallback and a hint
		wantAck         bool
		want            []string // the converged live values
	}{
		{name: "cancelled during the commit", landed: 0, blocked: 1, w: 2, want: []string{"[1]"}},
		{name: "cancelled after the commit, fan-out pending", landed: 1, blocked: 2, w: 2, want: []string{"[1,2]"}},
		{name: "blind put cancelled after the commit", landed: 1, blocked: 2, w: 2, blind: true, want: []string{"[1]", "[2]"}},
		{name: "cancelled after the quorum, one replica pending", landed: 2, blocked: 1, w: 2, wantAck: true, want: []string{"[1,2]"}},
		{name: "cancelled with a hinted replica written", landed: 1, blocked: 1, w: 3, downThird: true, want: []string{"[1,2]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c, store, hints := memCluster(t)
			key := "cart:" + tc.name
			prim := c.Primaries(key)
			co := c.Coordinator()
			if _, err := co.Put(ctx, key, "", setValue(1), coordinator.Options{W: 3}); err != nil {
				t.Fatal(err)
			}
			co.Wait()
			acked := []int{1}
			token, next := "", setValue(2)
			if !tc.blind {
				g, err := co.Get(ctx, key, coordinator.Options{R: 3})
				if err != nil {
					t.Fatal(err)
				}
				token, next = g.Context, setValue(append(union(t, g), 2)...)
			}
			if tc.downThird {
				c.Down(prim[2], true)
			}

			landed := tc.landed
			if tc.blind && landed > 0 {
				landed++ // the refused create-only PUT a blind put tries first (blindcreate.go)
			}
			gt := newGate(key, landed)
			store.SetHook(gt.hook)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan putResult, 1)
			go func() {
				_, err := co.Put(cctx, key, token, next, coordinator.Options{W: tc.w})
				done <- putResult{err}
			}()
			gt.waitBlocked(t, tc.blocked)
			if tc.downThird {
				// The fallback stored its hinted replica and queued the hint.
				eventually(t, "the hint to be queued", func() bool {
					st, err := hints.Stats(ctx)
					return err == nil && st.Visible == 1
				})
			}
			if tc.wantAck {
				// W replicas answered: the put returns on its own while the
				// last replica's write is still blocked.
				res := <-done
				if res.err != nil {
					t.Fatalf("put with the quorum reached: %v", res.err)
				}
				done <- res
			}
			cancel() // the caller (the Lambda invocation) dies here
			var res putResult
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the cancelled put did not return")
			}
			co2 := c.Coordinator() // a fresh container, which never saw the killed one
			if res.err == nil {
				if !tc.wantAck {
					t.Fatal("a put cancelled before its quorum was acknowledged")
				}
				acked = append(acked, 2)
				// Acknowledged: readable now, with one replica still stale.
				g, err := co2.Get(ctx, key, coordinator.Options{})
				if err != nil || !slices.Contains(union(t, g), 2) {
					t.Fatalf("acknowledged element not readable: %v %v", union(t, g), err)
				}
			} else {
				if tc.wantAck {
					t.Fatalf("put failed: %v", res.err)
				}
				if !errors.Is(res.err, context.Canceled) {
					t.Fatalf("cancelled put: %v, want context.Canceled", res.err)
				}
			}
			close(gt.release)
			store.SetHook(nil)
			co.Wait()
			co2.Wait()

			// Repair: deliver hints once the node is back, then a read with
			// R=N repairs every stale primary.
			if tc.downThird {
				c.Down(prim[2], false)
				drainAll(t, co2, hints)
				for _, id := range c.Walk(key)[3:] {
					if _, ok := c.Hinted(id, prim[2], key); ok {
						t.Fatalf("hinted replica still on %s after handoff", id)
					}
				}
			}
			g, err := co2.Get(ctx, key, coordinator.Options{R: 3})
			if err != nil {
				t.Fatal(err)
			}
			co2.Wait()
			coordtest.AssertConverged(t, c, key, prim, tc.want)
			for _, e := range acked {
				if !slices.Contains(union(t, g), e) {
					t.Fatalf("acknowledged element %d lost: %v", e, coordtest.Values(g))
				}
			}
		})
	}
}

// TestCancelAnywhereLosesNothing grows a set by read-modify-write, cancelling
// each put's context at a different replica operation (before, during and
// after the commit, in the fan-out, after the quorum; that operation either
// still lands or never reaches the store), each time from a new
// coordinator that is then abandoned, with a primary down for half of the
// puts so fallbacks and hints are involved. Whatever each put answered, after
// handoff and one read with R=N every replica holds the same bytes and every
// acknowledged element.
func TestCancelAnywhereLosesNothing(t *testing.T) {
	ctx := context.Background()
	c, store, hints := memCluster(t)
	key := "cart:anywhere"
	prim := c.Primaries(key)
	reader := c.Coordinator()
	var acked []int
	outcomes := map[string]int{}
	const puts = 40
	for i := 1; i <= puts; i++ {
		if i == puts/2 {
			c.Down(prim[1], true)
		}
		co := c.Coordinator()
		g, err := co.Get(ctx, key, coordinator.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cutAt := int64(i%7 + 1) // which replica operation of this put cancels it
		lands := i%2 == 0       // whether that operation still reaches the store
		var ops atomic.Int64
		store.SetHook(func(context.Context, kvmem.Op, kv.Location, string) error {
			if ops.Add(1) == cutAt {
				cancel()
				if !lands {
					return context.Canceled // the request never left the dying process
				}
			}
			return nil // a request already in flight when the caller died
		})
		_, err = co.Put(cctx, key, g.Context, setValue(append(union(t, g), i)...), coordinator.Options{})
		store.SetHook(nil)
		cancel()
		co.Wait()
		switch {
		case err == nil:
			acked = append(acked, i)
			outcomes["acknowledged"]++
			g, rerr := reader.Get(ctx, key, coordinator.Options{})
			if rerr != nil || !slices.Contains(union(t, g), i) {
				t.Fatalf("put %d acknowledged but not readable: %v %v", i, union(t, g), rerr)
			}
		case errors.Is(err, context.Canceled):
			outcomes["cancelled"]++
		default:
			t.Fatalf("put %d: %v, want success or context.Canceled", i, err)
		}
	}
	reader.Wait()
	t.Logf("outcomes: %v", outcomes)
	if outcomes["acknowledged"] == 0 || outcomes["cancelled"] == 0 {
		t.Fatalf("want both outcomes, got %v", outcomes)
	}
	c.Down(prim[1], false)
	repairer := c.Coordinator()
	drainAll(t, repairer, hints)
	g, err := repairer.Get(ctx, key, coordinator.Options{R: 3})
	if err != nil {
		t.Fatal(err)
	}
	repairer.Wait()
	want := coordtest.Values(g)
	sort.Strings(want)
	coordtest.AssertConverged(t, c, key, prim, want)
	have := union(t, g)
	for _, e := range acked {
		if !slices.Contains(have, e) {
			t.Fatalf("acknowledged element %d lost; the set is %v", e, have)
		}
	}
	for _, e := range have {
		if e < 1 || e > puts {
			t.Fatalf("element %d was never written", e)
		}
	}
	t.Logf("%d acknowledged, %d present after repair (cancelled puts that reached a replica survive, unacknowledged)", len(acked), len(have))
}
