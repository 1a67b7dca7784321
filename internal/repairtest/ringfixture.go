package repairtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// Ring is the fixture of a ring-change scenario: a cluster, a settling
// period, and the ledger of acknowledged writes and deletes.
type Ring struct {
	*Fixture
	Settle  time.Duration
	acked   map[string]string // key -> the value of its one acknowledged put
	deleted map[string]bool   // keys whose delete was acknowledged
	nodes   map[string]kv.Node
	// Checked counts acknowledged writes read back (every check).
	Checked int
}

// NewRing bootstraps n1..n<nodes> (Q=64, N=3, R=W=2).
func NewRing(t *testing.T, env coordtest.Env, nodes int) *Ring {
	f := &Ring{Fixture: NewFixture(t, env, nodes), Settle: time.Minute, acked: map[string]string{}, deleted: map[string]bool{}, nodes: map[string]kv.Node{}}
	f.remember()
	return f
}

func (f *Ring) remember() {
	for _, n := range f.Cluster().Nodes {
		f.nodes[n.ID] = n
	}
}

// Coord is a fresh coordinator (a new Lambda container).
func (f *Ring) Coord(edit ...func(*coordinator.Config)) *coordinator.Coordinator {
	return f.C.Coordinator(edit...)
}

// Proc is a fresh repairer with its own fresh coordinator for hint delivery.
func (f *Ring) Proc(edit ...func(*repair.Config)) *repair.Repairer {
	f.T.Helper()
	cfg := repair.DefaultConfig()
	cfg.PlanSettle = f.Settle
	cfg.ReapScanEvery = -1
	cfg.Reserve = 0
	cfg.HintWait = f.C.Env.HintWait
	for _, e := range edit {
		e(&cfg)
	}
	r, err := repair.New(cfg, repair.Deps{Store: f.C.Faults, Members: f.C.Env.Members, Handoff: f.Coord(), Now: f.Now, Rand: f.C.Uint64})
	if err != nil {
		f.T.Fatal(err)
	}
	return r
}

// RunFresh runs a fresh repairer once.
func (f *Ring) RunFresh(edit ...func(*repair.Config)) repair.Report {
	f.T.Helper()
	rep, err := f.Proc(edit...).Run(context.Background())
	if err != nil {
		f.T.Fatal(err)
	}
	f.remember()
	return rep
}

// Plan applies a membership change.
func (f *Ring) Plan(fn func(kv.Cluster) (kv.Cluster, error)) {
	f.T.Helper()
	f.Change(fn)
	f.remember()
}

// CommitFresh settles the plan and commits it with fresh processes: one run
// records the plan, one after the settling period transfers and commits.
func (f *Ring) CommitFresh() {
	f.T.Helper()
	f.RunFresh()
	f.Advance(f.Settle + time.Second)
	for i := 0; i < 5 && f.Cluster().Next != nil; i++ {
		f.RunFresh()
	}
	if c := f.Cluster(); c.Next != nil {
		f.T.Fatalf("not committed: epoch %d", c.Epoch)
	}
}

// CleanFresh lets the commit settle and runs fresh repairers until no
// cleanup is left.
func (f *Ring) CleanFresh() {
	f.T.Helper()
	f.Advance(f.Settle + time.Second)
	for i := 0; i < 10 && f.CleanupsLeft() > 0; i++ {
		f.RunFresh()
	}
	if n := f.CleanupsLeft(); n > 0 {
		f.T.Fatalf("cleanups left: %d partitions", n)
	}
}

// Down sets or clears the "down" fault of node id (any node ever seen).
func (f *Ring) Down(down bool, ids ...string) {
	f.T.Helper()
	for _, id := range ids {
		m := faults.Mode{}
		if down {
			m.Kind = "down"
		}
		if err := f.C.Faults.Set(f.nodes[id].Location, m); err != nil {
			f.T.Fatal(err)
		}
	}
}

// Put writes key=value (a new key) through co with write quorum w, and
// records it if acknowledged.
func (f *Ring) Put(co *coordinator.Coordinator, key, value string, w int) bool {
	_, err := co.Put(context.Background(), key, "", val(value), coordinator.Options{W: w})
	co.Wait()
	if err == nil {
		f.acked[key] = value
	}
	return err == nil
}

// PutBatch writes n new keys with a fresh coordinator; all must succeed.
func (f *Ring) PutBatch(prefix string, n int) {
	f.T.Helper()
	co := f.Coord()
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if !f.Put(co, k, "v-"+k, 0) {
			f.T.Fatalf("put %s failed", k)
		}
	}
}

// Delete deletes key with a fresh coordinator (context from a get).
func (f *Ring) Delete(key string) {
	f.T.Helper()
	co := f.Coord()
	mustDelete(f.T, co, key, 3)
	delete(f.acked, key)
	f.deleted[key] = true
}

// Keys returns n new keys whose primaries under the stored Owners (now) and
// Next (after, nil without a plan) satisfy pred.
func (f *Ring) Keys(prefix string, n int, pred func(now, after []string) bool) []string {
	f.T.Helper()
	c := f.Cluster()
	var out []string
	for i := 0; len(out) < n; i++ {
		if i > 100000 {
			f.T.Fatalf("no %d keys with the wanted primaries", n)
		}
		k := fmt.Sprintf("%s-%d", prefix, i)
		now := primariesOf(f.T, c, c.Owners, k)
		var after []string
		if c.Next != nil {
			after = primariesOf(f.T, c, c.Next, k)
		}
		if pred(now, after) {
			out = append(out, k)
		}
	}
	return out
}

// Check reads every acknowledged write back with a fresh coordinator
// (default R, from the current owners), and every deleted key.
func (f *Ring) Check(when string) {
	f.T.Helper()
	co := f.Coord()
	ctx := context.Background()
	for k, v := range f.acked {
		g, err := co.Get(ctx, k, coordinator.Options{})
		if err != nil {
			f.T.Fatalf("%s: get %s: %v", when, k, err)
		}
		if !slices.Contains(coordtest.Values(g), v) {
			f.T.Fatalf("%s: acknowledged write %s=%s lost (read %v)", when, k, v, coordtest.Values(g))
		}
		f.Checked++
	}
	for k := range f.deleted {
		g, err := co.Get(ctx, k, coordinator.Options{R: 3})
		if err != nil {
			f.T.Fatalf("%s: get %s: %v", when, k, err)
		}
		if vs := coordtest.Values(g); len(vs) > 0 {
			f.T.Fatalf("%s: deleted key %s came back: %v", when, k, vs)
		}
	}
	co.Wait()
}

// Empty checks that node id's old location holds no replica object.
func (f *Ring) Empty(id string) {
	f.T.Helper()
	items, _, err := f.C.Env.Store.List(context.Background(), f.nodes[id].Location, "", "", 10)
	if err != nil {
		f.T.Fatal(err)
	}
	if len(items) > 0 {
		f.T.Fatalf("%s's location still holds %d objects, e.g. %s", id, len(items), items[0].Name)
	}
}

// CleanupsLeft counts the partitions still to clean up, in the record.
func (f *Ring) CleanupsLeft() int {
	n := 0
	for _, cl := range f.Cluster().Cleanups {
		n += len(cl.Partitions)
	}
	return n
}

func has(ids []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(ids, w) {
			return false
		}
	}
	return true
}

// oldOwners are the owners before the last commit, kept by the fixture's
// first cluster (scenarios that need them commit once).
func (f *Ring) oldOwners() []string { return f.C.Cluster.Owners }

// nodesCluster is a cluster with every node ever seen (to place keys on the
// old owners).
func (f *Ring) nodesCluster() kv.Cluster {
	c := f.C.Cluster
	c.Nodes = nil
	for _, n := range f.nodes {
		c.Nodes = append(c.Nodes, n)
	}
	return c
}

func (f *Ring) checkHolds(id, key string) {
	f.T.Helper()
	b, err := f.C.Env.Store.Get(context.Background(), f.nodes[id].Location, kv.DataName(key))
	if err != nil {
		f.T.Fatalf("a hint was acknowledged, but %s does not hold %s: %v", id, key, err)
	}
	_ = b
}
