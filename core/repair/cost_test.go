package repair_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// costCluster is the production shape: six nodes in three zones, N=3 over
// 4,096 partitions, each key written to its three primaries as a coordinator
// would (the same canonical bytes, each replica with its own actor).
type costCluster struct {
	store *kvmem.Store
	c     kv.Cluster
	ring  *ring.Ring
	co    *coordinator.Coordinator
	seq   uint64
}

func newCostCluster(t testing.TB) *costCluster {
	t.Helper()
	var nodes []kv.Node
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("n%d", i)
		nodes = append(nodes, kv.Node{ID: id, Zone: fmt.Sprintf("z%d", (i-1)%3+1), Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id + "/"}})
	}
	c, err := membership.Bootstrap(kv.DefaultParams(), nodes)
	if err != nil {
		t.Fatal(err)
	}
	members := kvmem.NewMembership()
	if err := members.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	r, err := ring.New(c.Params.Q, rn, c.Owners)
	if err != nil {
		t.Fatal(err)
	}
	cc := &costCluster{store: kvmem.NewStore(), c: c, ring: r}
	cc.co, err = coordinator.New(coordinator.DefaultConfig(), coordinator.Deps{
		Store: cc.store, Hints: kvmem.NewHintQueue(time.Minute, 10), Members: members,
		Now: time.Now, Rand: func() uint64 { cc.seq++; return cc.seq },
	})
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func (cc *costCluster) node(id string) kv.Node {
	n, _ := cc.c.Node(id)
	return n
}

// write stores key's version on the given replicas (its primaries by default).
func (cc *costCluster) write(t testing.TB, key string, obj vclock.Object, on []string) {
	t.Helper()
	data := vclock.Encode(obj)
	for _, id := range on {
		n := cc.node(id)
		cc.seq++
		loc := n.Location
		cur, err := cc.store.Get(context.Background(), loc, kv.DataName(key))
		ifMatch := ""
		if err == nil {
			ifMatch = cur.ETag
		}
		if _, err := cc.store.Put(context.Background(), loc, kv.DataName(key), data, kv.ActorFor(id, n.Incarnation, cc.seq), ifMatch); err != nil {
			t.Fatal(err)
		}
	}
}

func (cc *costCluster) repairer(t testing.TB) *repair.Repairer {
	cfg := repair.DefaultConfig()
	cfg.ReapScanEvery = -1
	r, err := repair.New(cfg, repair.Deps{
		Store: cc.store, Members: mustMembers(t, cc), Handoff: cc.co, Now: time.Now,
		Rand: func() uint64 { cc.seq++; return cc.seq },
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustMembers(t testing.TB, cc *costCluster) kv.Membership {
	m := kvmem.NewMembership()
	if err := m.Save(context.Background(), cc.c, 0); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRepairCost measures what anti-entropy costs, in storage requests
// counted by the in-memory store, for (keys, differing keys) = (10^3, 10),
// (10^4, 10) and (10^4, 100): each differing key has one stale replica (it
// missed the last write). LISTs grow with keys/1,000 per replica; GETs and
// PUTs only with the differing keys: 2 GETs (the current and the stale
// version) and 1 PUT (the stale replica) each. A second run, after
// convergence, only lists.
func TestRepairCost(t *testing.T) {
	cases := []struct{ keys, differing int }{{1000, 10}, {10000, 10}, {10000, 100}}
	if testing.Short() {
		cases = cases[:1]
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d-%d", tc.keys, tc.differing), func(t *testing.T) {
			cc := newCostCluster(t)
			now := time.Now().UnixMilli()
			actor := vclock.Actor(kv.ActorFor("n1", 1, 1))
			for i := 0; i < tc.keys; i++ {
				key := fmt.Sprintf("key-%d", i)
				obj, _ := vclock.Update(vclock.Object{Key: key}, nil, actor, vclock.Sibling{Value: []byte("v1")}, now)
				prim := cc.ring.Primaries(key, 3)
				cc.write(t, key, obj, prim)
				if i < tc.differing { // a newer version that missed one replica
					next, _ := vclock.Update(obj, obj.Clock, actor, vclock.Sibling{Value: []byte("v2")}, now+1)
					cc.write(t, key, next, prim[:2])
				}
			}
			r := cc.repairer(t)
			cc.store.ResetCounts()
			rep, err := r.Run(context.Background())
			if err != nil || rep.Errors != 0 {
				t.Fatalf("repair: %v %v", err, rep.ErrorSamples)
			}
			got := cc.store.TotalCounts()
			t.Logf("keys=%d differing=%d: %d requests: LIST %d, GET %d, PUT %d, DELETE %d (of which LIST of hints/: 6); %d partitions, %d keys compared, %d repaired",
				tc.keys, tc.differing, got.Total(), got.List, got.Get, got.Put, got.Delete,
				rep.AntiEntropy.Partitions, rep.AntiEntropy.Keys, rep.AntiEntropy.Repaired)
			d := tc.differing
			if got.Get != 2*d || got.Put != d || got.Delete != 0 {
				t.Fatalf("GET %d PUT %d DELETE %d for %d differing keys: want 2 GETs and 1 PUT per differing key", got.Get, got.Put, got.Delete, d)
			}
			// Each of 6 nodes holds keys*3/6 replicas: a LIST per 1,000, a
			// partial page and a seek or two per node, and one LIST of
			// "hints/" per node.
			if maxList := 6*(tc.keys*3/6/1000+3) + 6; got.List > maxList {
				t.Fatalf("%d LISTs for %d keys, want at most %d", got.List, tc.keys, maxList)
			}
			if rep.AntiEntropy.Partitions != 4096 || rep.AntiEntropy.Keys != tc.keys || rep.AntiEntropy.Repaired != d {
				t.Fatalf("report: %+v", rep.AntiEntropy)
			}
			cc.store.ResetCounts()
			if rep, err = r.Run(context.Background()); err != nil || rep.AntiEntropy.Differing != 0 {
				t.Fatalf("second run: %+v %v", rep.AntiEntropy, err)
			}
			again := cc.store.TotalCounts()
			t.Logf("keys=%d: second run: LIST %d, GET %d, PUT %d", tc.keys, again.List, again.Get, again.Put)
			if again.Get+again.Put+again.Delete != 0 {
				t.Fatalf("a run after convergence made %+v requests", again)
			}
		})
	}
}
