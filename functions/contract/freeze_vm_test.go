//go:build linux

package contract

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/internal/testclock"
)

// heldStore holds the first Put of one object until release is closed,
// announcing it on entered: a replica write in flight when the pause comes.
type heldStore struct {
	kv.ReplicaStore
	loc     kv.Location
	name    string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *heldStore) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	if loc == s.loc && name == s.name {
		s.once.Do(func() {
			close(s.entered)
			<-s.release
		})
	}
	return s.ReplicaStore.Put(ctx, loc, name, data, actor, ifMatch)
}

// vmPause is TestFreeze's VM-style pause, which a signal cannot produce: the
// whole guest stops, its monotonic clock with it, and on resume only the wall
// clock has moved on. The process cannot be paused that way, so the
// coordinator runs in the test, on the same S3, SQS and DynamoDB, with
// injected clocks: a replica write is held while the key is deleted and
// reaped, the wall clock moves past the suspension bound and the monotonic
// one does not, then the write resumes through the real S3 client. It must be
// refused (handed to hinted handoff) and the key stay deleted. Bounding only
// the monotonic age (no wall clock: the behaviour before) brings the key back.
func vmPause(t *testing.T, env *contractEnv) {
	for _, tc := range []struct {
		name      string
		wall      bool
		resurrect bool
	}{
		{"wall clock", true, false},
		{"monotonic only (the defect)", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			drainQueue(t, env)
			key := fmt.Sprintf("freeze-vm-%d", rand.Uint32())
			env.app.Coord.Invalidate()
			prefs, _, err := env.app.Coord.PreferenceList(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := env.app.Members.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			third, err := cl.Node(prefs[clusterN-1].Node)
			if err != nil {
				t.Fatal(err)
			}
			held := &heldStore{ReplicaStore: env.app.Store, loc: third.Location, name: kv.DataName(key),
				entered: make(chan struct{}), release: make(chan struct{})}
			mono, wall := testclock.New(time.Now()), testclock.New(time.Now())
			deps := coordinator.Deps{Store: held, Hints: env.app.Hints, Members: env.app.Members, Now: mono.Now, Rand: rand.Uint64}
			if tc.wall {
				deps.Wall = wall.Now
			}
			cfg := coordinator.DefaultConfig()
			cfg.SuspendBound = testBound
			co, err := coordinator.New(cfg, deps)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := co.Put(ctx, key, "", coordinator.Value{Data: []byte("old")}, coordinator.Options{}); err != nil {
				t.Fatal(err)
			}
			<-held.entered // the third replica's write is in flight: the VM pauses
			env.deleteAndReap(t, key)
			wall.Advance(2 * testBound) // on resume, only the wall clock moved on
			close(held.release)
			co.Wait()
			got := env.holdings(t, key)
			if tc.resurrect {
				if !slices.Contains(got, third.ID+":data") {
					t.Fatalf("control: bounding the monotonic age only, the resumed write should re-create %q on %s; holdings %v", key, third.ID, got)
				}
				return
			}
			if len(got) != 0 {
				t.Fatalf("a deleted and reaped key came back after a VM pause: %v", got)
			}
			res, err := env.app.Coord.DrainHints(ctx, 0)
			if err != nil || res.Delivered != clusterN*(clusterN-1) || res.Failed != 0 {
				t.Fatalf("drain hints: %+v, %v; want the %d hand-off hints delivered", res, err, clusterN*(clusterN-1))
			}
			if got := env.holdings(t, key); len(got) != 0 {
				t.Fatalf("the hand-off re-created the deleted key: %v", got)
			}
		})
	}
}
