package coordinator

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
)

// planAdd plans adding node id (zone z1) and returns a key whose primaries
// under the plan include it, and the key's current primaries.
func (e *env) planAdd(id string) (string, []string) {
	e.t.Helper()
	c, err := membership.AddNode(e.cluster, kv.Node{ID: id, Zone: "z1", Weight: 1, Location: kv.Location{Bucket: "cw", Prefix: id + "/"}})
	if err != nil {
		e.t.Fatal(err)
	}
	if c.Next == nil {
		e.t.Fatal("adding a node planned nothing")
	}
	e.save(c)
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	next, err := ring.New(c.Params.Q, rn, c.Next)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		key := "moving-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if slices.Contains(next.Primaries(key, c.Params.N), id) {
			return key, e.primaries(key)
		}
	}
	e.t.Fatal("no key moves to the new node")
	return "", nil
}

// While a ring change is pending, a put also writes the key's new primary
// (not counted toward W), and a get does not read it.
func TestPutForwardsToPendingOwner(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key, prim := e.planAdd("n6")
	if slices.Contains(prim, "n6") {
		t.Fatal("setup: the pending owner is already a primary")
	}
	mustPut(t, co, key, "", "v1", Options{W: 3})
	for _, id := range append(prim, "n6") {
		if got := e.values(id, key); !slices.Equal(got, []string{"v1"}) {
			t.Fatalf("%s holds %v", id, got)
		}
	}
	if hints := e.takeHints(); len(hints) != 0 {
		t.Fatalf("hints queued: %+v", hints)
	}
	before := e.store.Counts(e.loc("n6"))
	g := mustGet(t, co, key, Options{R: 3})
	if after := e.store.Counts(e.loc("n6")); after != before {
		t.Fatalf("a get read the pending owner: %+v -> %+v", before, after)
	}
	// A read-modify-write reaches the pending owner too (it merges).
	mustPut(t, co, key, g.Context, "v2", Options{})
	if got := e.values("n6", key); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("pending owner holds %v after an overwrite", got)
	}
}

// A pending owner that fails, or that membership says is down, gets a hinted
// replica on a fallback and a queued hint, like a failed primary.
func TestPendingOwnerFailureGetsHint(t *testing.T) {
	for _, how := range []string{"fault", "state"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, 5)
			co := e.coord()
			key, prim := e.planAdd("n6")
			if how == "fault" {
				e.down("n6", true)
			} else {
				e.setState("n6", kv.StateDown)
			}
			mustPut(t, co, key, "", "v", Options{})
			for _, id := range prim {
				if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
					t.Fatalf("%s holds %v", id, got)
				}
			}
			assertHintedFor(t, e, key, "n6", "v")
		})
	}
}

// With no fallback left, or a fallback that fails too, the write to the
// pending owner is given up with a warning (the transfer copies it later);
// the put itself succeeds.
func TestPendingOwnerNoFallback(t *testing.T) {
	t.Run("none left", func(t *testing.T) {
		e := newEnv(t, 3)
		co := e.coord()
		key, _ := e.planAdd("n4")
		e.down("n4", true)
		mustPut(t, co, key, "", "v", Options{})
		if !e.logs.has("write to a pending owner failed, no fallback left") {
			t.Fatal("no warning logged")
		}
		if hints := e.takeHints(); len(hints) != 0 {
			t.Fatalf("hints queued: %+v", hints)
		}
	})
	t.Run("fallback fails", func(t *testing.T) {
		e := newEnv(t, 5)
		co := e.coord()
		key, prim := e.planAdd("n6")
		e.down("n6", true)
		for _, n := range e.cluster.Nodes {
			if !slices.Contains(prim, n.ID) {
				e.down(n.ID, true)
			}
		}
		mustPut(t, co, key, "", "v", Options{W: 3})
		if !e.logs.has("hinted write for a pending owner failed") {
			t.Fatal("no warning logged")
		}
	})
}

func TestViewRejectsInvalidPlan(t *testing.T) {
	e := newEnv(t, 5)
	bad := e.cluster
	bad.Next = slices.Clone(bad.Owners)
	bad.Next[7] = "ghost"
	bad.Epoch++
	e.save(bad)
	_, err := e.coord().Get(context.Background(), "k", Options{})
	if err == nil || !strings.Contains(err.Error(), "pending owners") {
		t.Fatalf("get with an invalid plan = %v", err)
	}
}

// A put that misses a pending owner (even if a fallback holds a hinted
// replica for it) marks its partition written in the membership record: the
// partition loses its "transferred" mark and gets a write mark newer than
// any transfer under way. A put that reaches every pending owner marks
// nothing.
func TestMissedPendingOwnerMarksPartition(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key, _ := e.planAdd("n6")
	part := e.ring().Partition(key)
	other := part ^ 1
	load := func() kv.Cluster {
		c, err := e.members.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := load()
	c.Change = &kv.RingChange{Seen: 1, Done: []int{min(part, other), max(part, other)}}
	c.Epoch++
	e.save(c)
	mustPut(t, co, key, "", "v1", Options{})
	if got := load(); got.Epoch != c.Epoch || !got.Change.IsDone(part) {
		t.Fatalf("a put that reached the pending owner changed the record: %+v", got.Change)
	}
	e.down("n6", true)
	mustPut(t, co, key, "", "v2", Options{})
	got := load()
	if got.Change.IsDone(part) || !got.Change.IsDone(other) || !got.Change.MarkedAfter(part, c.Epoch) || got.Change.MarkedAfter(other, 0) {
		t.Fatalf("after a put that missed the pending owner: %+v (epoch %d, partition %d)", got.Change, c.Epoch, part)
	}
	// Once the plan is committed there is nothing to mark.
	committed, err := membership.Commit(got)
	if err != nil {
		t.Fatal(err)
	}
	e.cluster = got
	e.save(committed)
	mustPut(t, co, key, "", "v3", Options{})
	if after := load(); after.Epoch != committed.Epoch {
		t.Fatalf("a put after the commit changed the record: epoch %d -> %d", committed.Epoch, after.Epoch)
	}
}
