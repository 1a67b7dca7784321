package membership

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

func cancelFixture(t *testing.T) kv.Cluster {
	t.Helper()
	var nodes []kv.Node
	for _, id := range []string{"a", "b", "c", "d"} {
		nodes = append(nodes, kv.Node{ID: id, Zone: "z" + id, Weight: 1, Location: kv.Location{Bucket: "bucket-x", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 64
	c, err := Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCancelPlan: cancelling keeps the owners, makes leaving nodes active
// again, retires the nodes the plan added, and records a cleanup for every
// copy the plan may have put on a node that does not own it (transfers and
// forwarded writes), so it is merged into the owners and deleted, never
// left to be merged back later (a deleted key's resurrection).
func TestCancelPlan(t *testing.T) {
	c := cancelFixture(t)
	now := time.UnixMilli(1_000_000)
	if _, err := CancelPlanAt(c, now); !errors.Is(err, ErrNoPlan) {
		t.Fatalf("cancel with no plan: %v", err)
	}
	added, err := AddNode(c, kv.Node{ID: "e", Zone: "ze", Weight: 1, Location: kv.Location{Bucket: "bucket-x", Prefix: "e/"}})
	if err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveNode(added, "b")
	if err != nil || removed.Next == nil {
		t.Fatalf("remove: %v", err)
	}
	removed.Change = &kv.RingChange{Seen: 1, Done: []int{1, 2}}
	got, err := CancelPlanAt(removed, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Next != nil || got.Change != nil || !slices.Equal(got.Owners, c.Owners) || got.Epoch != removed.Epoch+1 || got.RingEpoch != removed.RingEpoch+1 {
		t.Fatalf("cancel: next %v, change %v, owners changed %v, epoch %d, ring epoch %d", got.Next != nil, got.Change, !slices.Equal(got.Owners, c.Owners), got.Epoch, got.RingEpoch)
	}
	var ids []string
	for _, n := range got.Nodes {
		ids = append(ids, n.ID)
		if n.State != kv.StateActive {
			t.Errorf("node %s: state %q, want active", n.ID, n.State)
		}
	}
	if !slices.Equal(ids, []string{"a", "b", "c", "d"}) {
		t.Fatalf("nodes after cancel: %v", ids)
	}
	if !slices.ContainsFunc(got.Retired, func(r kv.Retired) bool { return r.ID == "e" }) {
		t.Errorf("the added node is not retired: %+v", got.Retired)
	}
	// Every partition a node was to hold under the plan but does not hold
	// now has a cleanup.
	before, _ := ringOf(removed, removed.Next)
	now1, _ := ringOf(removed, c.Owners)
	want := 0
	for p := 0; p < c.Params.Q; p++ {
		for _, id := range before.PrimariesOfPartition(p, c.Params.N) {
			if !slices.Contains(now1.PrimariesOfPartition(p, c.Params.N), id) {
				want++
				if !slices.ContainsFunc(got.Cleanups, func(cl kv.Cleanup) bool {
					return cl.Node.ID == id && slices.Contains(cl.Partitions, p) && cl.Committed == now.UnixMilli() && cl.Departed == (id == "e")
				}) {
					t.Errorf("no cleanup of partition %d on %s: %+v", p, id, got.Cleanups)
				}
			}
		}
	}
	if want == 0 {
		t.Fatal("the fixture moves nothing")
	}
	// The node can be added again: under a new incarnation and location.
	again, err := AddNode(got, kv.Node{ID: "e", Zone: "ze", Weight: 1, Location: kv.Location{Bucket: "bucket-x", Prefix: "e/"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := again.Node("e"); n.Incarnation < 2 || n.Location.Prefix == "e/" {
		t.Fatalf("re-added node: %+v", n)
	}
	if removed.Nodes[1].State != kv.StateLeaving {
		t.Fatal("CancelPlanAt changed its argument")
	}
}

// TestRingEpochCountsRingChangesOnly: faults and health verdicts raise the
// membership epoch, not the ring epoch; planning, committing and cancelling
// a ring change raise both.
func TestRingEpochCountsRingChangesOnly(t *testing.T) {
	c := cancelFixture(t)
	if c.RingEpoch != 1 {
		t.Fatalf("bootstrap: ring epoch %d", c.RingEpoch)
	}
	step := func(what string, next kv.Cluster, err error, ringDelta uint64) kv.Cluster {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if next.Epoch != c.Epoch+1 || next.RingEpoch != c.RingEpoch+ringDelta {
			t.Fatalf("%s: epoch %d->%d, ring epoch %d->%d (want +%d)", what, c.Epoch, next.Epoch, c.RingEpoch, next.RingEpoch, ringDelta)
		}
		return next
	}
	n, err := SetFault(c, "a", kv.FaultMode{Kind: "down"})
	c = step("fault", n, err, 0)
	n, err = SetState(c, "b", kv.StateDown)
	c = step("down", n, err, 0)
	n, err = AddNode(c, kv.Node{ID: "e", Zone: "ze", Weight: 1, Location: kv.Location{Bucket: "bucket-x", Prefix: "e/"}})
	c = step("add", n, err, 1)
	n, err = CancelPlanAt(c, time.UnixMilli(1))
	c = step("cancel", n, err, 1)
	n, err = AddNode(c, kv.Node{ID: "f", Zone: "zf", Weight: 1, Location: kv.Location{Bucket: "bucket-x", Prefix: "f/"}})
	c = step("add another", n, err, 1)
	n, err = CommitAt(c, time.UnixMilli(2))
	step("commit", n, err, 1)
}
