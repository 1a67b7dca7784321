package coordinator

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// failingMembers fails every Load while fail is set.
type failingMembers struct {
	kv.Membership
	fail atomic.Bool
}

func (m *failingMembers) Load(ctx context.Context) (kv.Cluster, error) {
	if m.fail.Load() {
		return kv.Cluster{}, errors.New("membership table unreachable")
	}
	return m.Membership.Load(ctx)
}

// TestReadiness: ready with every node up and with one down (each partition
// keeps 2 of its 3 primaries); not ready when two nodes that share a
// partition are out (state down, or an injected down fault), counting exactly
// the partitions that lost two primaries; not ready once membership could not
// be read for longer than the cache period.
func TestReadiness(t *testing.T) {
	e := newEnv(t, 6)
	fm := &failingMembers{Membership: e.members}
	d := e.deps()
	d.Members = fm
	cfg := e.config()
	cfg.ClusterTTL = 5 * time.Second
	co, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := co.Ready(ctx)
	if !r.Ready() || r.Need != 2 || r.Partitions != 64 || r.Short != 0 || len(r.Unreachable) != 0 {
		t.Fatalf("all up: %+v", r)
	}
	e.setState("n1", kv.StateDown)
	e.clock.Advance(6 * time.Second)
	if r = co.Ready(ctx); !r.Ready() || !slices.Equal(r.Unreachable, []string{"n1"}) {
		t.Fatalf("n1 down: %+v", r)
	}
	c, err := membership.SetFault(e.cluster, "n2", kv.FaultMode{Kind: "down"})
	if err != nil {
		t.Fatal(err)
	}
	e.save(c)
	e.clock.Advance(6 * time.Second)
	r = co.Ready(ctx)
	v, _ := co.views.get(ctx, e.clock.Now())
	want := 0
	for p := range v.ring.Q() {
		prim := v.ring.PrimariesOfPartition(p, 3)
		if slices.Contains(prim, "n1") && slices.Contains(prim, "n2") {
			want++
		}
	}
	if want == 0 || r.Ready() || r.Short != want || !slices.Equal(r.Unreachable, []string{"n1", "n2"}) {
		t.Fatalf("n1 down, n2 faulted: %+v, want %d short partitions", r, want)
	}

	// Membership unreadable: the stale view still routes, but is not ready.
	e.setState("n1", kv.StateActive)
	e.clock.Advance(6 * time.Second)
	fm.fail.Store(true)
	e.clock.Advance(6 * time.Second)
	if r = co.Ready(ctx); r.Ready() || r.Membership == nil {
		t.Fatalf("membership unreadable for 6 s: %+v", r)
	}
	e.clock.Advance(time.Minute)
	if r = co.Ready(ctx); r.Ready() || r.Membership == nil {
		t.Fatalf("membership unreadable for a minute: %+v", r)
	}
	fm.fail.Store(false)
	if r = co.Ready(ctx); r.Membership != nil {
		t.Fatalf("membership readable again: %+v", r)
	}
}
