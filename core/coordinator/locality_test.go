package coordinator

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// newRegionEnv is newEnv(6) with zone zK in region rK: n1 and n4 in r1
// (the coordinator's region), n2 and n5 in r2, n3 and n6 in r3, so N=3 puts
// one replica in each region.
func newRegionEnv(t *testing.T) *env {
	e := newEnv(t, 6)
	c := e.cluster
	for i := range c.Nodes {
		c.Nodes[i].Location.Region = "r" + c.Nodes[i].Zone[1:]
	}
	c.Epoch++
	e.save(c)
	return e
}

// cutRemote holds every request to a replica outside r1 until the returned
// function is called (a region cut off, or an ocean away). It counts the
// requests it held on held.
func (e *env) cutRemote() (heal func(), held chan struct{}) {
	gate, held := make(chan struct{}), make(chan struct{}, 1024)
	e.store.SetHook(func(ctx context.Context, _ kvmem.Op, l kv.Location, _ string) error {
		if l.Region == "r1" {
			return nil
		}
		held <- struct{}{}
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	healed := false
	heal = func() {
		if !healed {
			healed = true
			close(gate)
		}
	}
	e.t.Cleanup(heal)
	return heal, held
}

func (e *env) regionCoord() *Coordinator {
	return e.coord(func(c *Config) { c.Region, c.DefaultRegion = "r1", "r1" })
}

// A put and a get with the local quorum answer from the coordinator's region
// alone: while every other region's replica is held, both return (with the
// cluster's quorum, W=R=2 of one replica per region, they would wait for
// another region). The held replicas get the version once they answer.
func TestLocalQuorumWaitsForNoOtherRegion(t *testing.T) {
	e := newRegionEnv(t)
	co := e.regionCoord()
	key := "cart-1"
	heal, held := e.cutRemote()
	p, err := co.Put(context.Background(), key, "", val("v1"), Options{W: QuorumLocal})
	if err != nil {
		t.Fatalf("local-quorum put with the other regions held: %v", err)
	}
	<-held // the put sends the version to another region (after its answer)
	g, err := co.Get(context.Background(), key, Options{R: QuorumLocal})
	if err != nil {
		t.Fatalf("local-quorum get with the other regions held: %v", err)
	}
	if got := liveValues(g.Siblings); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("local-quorum get = %v, want [v1]", got)
	}
	heal()
	co.Wait()
	for _, id := range e.primaries(key) {
		if got := e.values(id, key); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("primary %s holds %v after the regions answered, want [v1]", id, got)
		}
	}
	// The context the put returned works with the cluster's quorum too.
	mustPut(t, co, key, p.Context, "v2", Options{})
	if got := liveValues(mustGet(t, co, key, Options{R: QuorumAll}).Siblings); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("after a put with the local put's context: %v, want [v2]", got)
	}
}

// The local quorum is sloppy within the region: when the region's primary is
// down, the region's other node stands in (a hinted replica), not another
// region's. With every node of the region down it fails rather than wait on
// another region.
func TestLocalQuorumFallsBackInRegion(t *testing.T) {
	e := newRegionEnv(t)
	co := e.regionCoord()
	key := "cart-2"
	var local string
	for _, id := range e.primaries(key) {
		if e.loc(id).Region == "r1" {
			local = id
		}
	}
	other := map[string]string{"n1": "n4", "n4": "n1"}[local]
	e.down(local, true)
	heal, _ := e.cutRemote()
	if _, err := co.Put(context.Background(), key, "", val("v1"), Options{W: QuorumLocal}); err != nil {
		t.Fatalf("local-quorum put with the region's primary down: %v", err)
	}
	if _, ok := e.object(other, kv.HintName(local, key), key); !ok {
		t.Fatalf("%s holds no hinted replica for %s: %v", other, local, e.holdings(key))
	}
	e.down(other, true)
	_, err := co.Put(context.Background(), "cart-3", "", val("v1"), Options{W: QuorumLocal})
	var qe *kv.QuorumError
	if !errors.As(err, &qe) || qe.Need != 1 {
		t.Fatalf("local-quorum put with the whole region down: %v, want a quorum error needing 1", err)
	}
	heal()
}

// Without a region every node is local, so the local quorum is a majority of
// N; pr and pw do not take it; a key without a replica in the region uses
// the cluster's quorum.
func TestLocalQuorumSizes(t *testing.T) {
	e := newRegionEnv(t)
	v, err := e.coord().views.get(context.Background(), e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		region string
		q, pq  int
		need   int
		local  bool
		bad    bool
	}{
		{region: "", q: QuorumLocal, need: 2, local: true},   // all 3 replicas local: 3/2+1
		{region: "r1", q: QuorumLocal, need: 1, local: true}, // one replica in r1
		{region: "r9", q: QuorumLocal, need: 2},              // none in r9: the default
		{region: "r1", q: 0, pq: QuorumLocal, bad: true},
		{region: "r1", q: 3, need: 3},
	} {
		co := e.coord(func(c *Config) { c.Region = tc.region })
		p, _ := co.newPlan(v, "k", e.clock.Now())
		q, err := co.resolve(p, tc.q, tc.pq, 2, "w", "pw")
		if tc.bad {
			if !errors.Is(err, kv.ErrBadRequest) {
				t.Errorf("%+v: err %v, want a bad request", tc, err)
			}
			continue
		}
		if err != nil || q.need != tc.need || (q.counts != nil) != tc.local {
			t.Errorf("%+v: need %d, local %v, err %v", tc, q.need, q.counts != nil, err)
		}
	}
}

// The coordinating replica is a primary in the coordinator's region, before
// one the context saw elsewhere; fallbacks come last.
func TestCoordinatorOrderPrefersLocal(t *testing.T) {
	node := func(id, region string) kv.Node {
		return kv.Node{ID: id, Location: kv.Location{Region: region}}
	}
	ts := []target{
		{node: node("a", "r2")}, {node: node("b", "r3")}, {node: node("c", "r1")},
		{node: node("d", "r1"), intended: "a"},
	}
	local := func(n kv.Node) bool { return n.Location.Region == "r1" }
	kctx := kv.Context{Seen: []kv.Seen{{Node: "b", ETag: "e", Actor: kv.ActorFor("b", 0, 1)}}}
	var got []string
	for _, t := range coordinatorOrder(ts, kctx, local) {
		got = append(got, t.node.ID)
	}
	if want := []string{"c", "b", "a", "d"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
