package coordinator

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// ---- cluster views ---------------------------------------------------------

func TestViewTTLAndEpochChange(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord(func(c *Config) { c.ClusterTTL = 10 * time.Second })
	ctx := context.Background()
	cluster := func() kv.Cluster {
		t.Helper()
		c, err := co.Cluster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := cluster(); c.Epoch != 1 || e.members.loads.Load() != 1 {
		t.Fatalf("first Cluster: epoch %d after %d loads", c.Epoch, e.members.loads.Load())
	}
	first := co.views.cur
	e.clock.Advance(5 * time.Second)
	cluster()
	e.setState("n1", kv.StateDown) // epoch 2
	e.clock.Advance(4 * time.Second)
	if c := cluster(); c.Epoch != 1 || e.members.loads.Load() != 1 {
		t.Fatalf("within the TTL: epoch %d after %d loads, want the cached epoch 1 and no reload", c.Epoch, e.members.loads.Load())
	}
	e.clock.Advance(time.Second)
	c := cluster()
	if n, _ := c.Node("n1"); c.Epoch != 2 || n.State != kv.StateDown || e.members.loads.Load() != 2 {
		t.Fatalf("after the TTL: epoch %d, n1 %s, %d loads", c.Epoch, n.State, e.members.loads.Load())
	}
	second := co.views.cur
	if second == first {
		t.Fatal("a new epoch did not build a new view")
	}
	// Same epoch after the TTL: the view is kept and its age reset.
	e.clock.Advance(10 * time.Second)
	cluster()
	if co.views.cur != second || e.members.loads.Load() != 3 {
		t.Fatalf("same epoch: view replaced=%v, %d loads", co.views.cur != second, e.members.loads.Load())
	}
	e.clock.Advance(9 * time.Second)
	cluster()
	if e.members.loads.Load() != 3 {
		t.Fatal("a refreshed view was reloaded before its TTL")
	}
	// Invalidate forces a reload within the TTL.
	co.Invalidate()
	cluster()
	if e.members.loads.Load() != 4 || co.views.cur == second {
		t.Fatalf("after Invalidate: %d loads, view replaced=%v", e.members.loads.Load(), co.views.cur != second)
	}
	// With membership unreachable the last known view keeps serving for
	// MaxStale past its TTL...
	e.members.Membership.(*kvmem.Membership).SetDown(true)
	e.clock.Advance(co.cfg.ClusterTTL + co.cfg.MaxStale - time.Second)
	if c := cluster(); c.Epoch != 2 {
		t.Fatalf("stale view while membership is down: epoch %d", c.Epoch)
	}
	if _, err := co.Put(ctx, "k", "", val("v"), Options{}); err != nil {
		t.Fatalf("put with membership down and a cached view: %v", err)
	}
	co.Wait()
	// ...and no longer: a commit may have replaced the owners it routes to.
	e.clock.Advance(2 * time.Second)
	if _, err := co.Put(ctx, "k", "", val("v"), Options{}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("put with a view older than MaxStale = %v", err)
	}
	// With no view at all, requests fail too.
	co.Invalidate()
	if _, err := co.Cluster(ctx); !errors.Is(err, kvmem.ErrDown) || !strings.Contains(err.Error(), "load membership") {
		t.Fatalf("Cluster with nothing cached and membership down = %v", err)
	}
	if _, err := co.Get(ctx, "k", Options{}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("Get = %v", err)
	}
	if _, err := co.Put(ctx, "k", "", val("v"), Options{}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("Put = %v", err)
	}
	if err := co.DeliverHint(ctx, kv.Hint{Key: "k", Intended: "n1", Fallback: "n2"}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("DeliverHint = %v", err)
	}
}

func TestViewNoCluster(t *testing.T) {
	e := newEnv(t, 3)
	d := e.deps()
	d.Members = kvmem.NewMembership() // nothing saved
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.Get(context.Background(), "k", Options{}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get with no cluster saved = %v, want ErrNotFound", err)
	}
}

func TestViewRejectsInvalidCluster(t *testing.T) {
	for name, edit := range map[string]func(*kv.Cluster){
		"bad params":    func(c *kv.Cluster) { c.Params.R = 9 },
		"unknown owner": func(c *kv.Cluster) { c.Owners[3] = "ghost" },
		"short owners":  func(c *kv.Cluster) { c.Owners = c.Owners[:10] },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 3)
			co := e.coord()
			mustPut(t, co, "k", "", "v", Options{})
			bad := e.cluster
			bad.Owners = slices.Clone(bad.Owners)
			bad.Epoch++
			edit(&bad)
			e.save(bad)
			if _, err := co.Get(context.Background(), "k", Options{}); err == nil {
				t.Fatal("Get served an invalid cluster")
			}
			if _, err := co.Cluster(context.Background()); err == nil {
				t.Fatal("Cluster returned an invalid cluster")
			}
		})
	}
}
