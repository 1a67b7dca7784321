package membership

import (
	"errors"
	"slices"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

func TestCancelPlan(t *testing.T) {
	nodes := []kv.Node{}
	for _, id := range []string{"a", "b", "c", "d"} {
		nodes = append(nodes, kv.Node{ID: id, Zone: "z" + id, Weight: 1, Location: kv.Location{Bucket: "bucket-x", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 64
	c, err := Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CancelPlan(c); !errors.Is(err, ErrNoPlan) {
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
	got, err := CancelPlan(removed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Next != nil || !slices.Equal(got.Owners, c.Owners) || got.Epoch != removed.Epoch+1 {
		t.Fatalf("cancel: next %v, owners changed %v, epoch %d", got.Next != nil, !slices.Equal(got.Owners, c.Owners), got.Epoch)
	}
	states := map[string]kv.NodeState{}
	for _, n := range got.Nodes {
		states[n.ID] = n.State
	}
	want := map[string]kv.NodeState{"a": kv.StateActive, "b": kv.StateActive, "c": kv.StateActive, "d": kv.StateActive, "e": kv.StateJoining}
	for id, s := range want {
		if states[id] != s {
			t.Errorf("node %s: state %q, want %q", id, states[id], s)
		}
	}
	// Activating the cancelled node plans its share again.
	again, err := SetState(got, "e", kv.StateActive)
	if err != nil || again.Next == nil || !slices.Contains(again.Next, "e") {
		t.Fatalf("re-activate: %v", err)
	}
	if removed.Nodes[1].State != kv.StateLeaving {
		t.Fatal("CancelPlan changed its argument")
	}
}

// TestRingEpochCountsRingChangesOnly: faults and health verdicts raise the
// membership epoch, not the ring epoch; planning, committing and cancelling
// a ring change raise both.
func TestRingEpochCountsRingChangesOnly(t *testing.T) {
	var nodes []kv.Node
	for _, id := range []string{"a", "b", "c", "d"} {
		nodes = append(nodes, kv.Node{ID: id, Zone: "z" + id, Weight: 1, Location: kv.Location{Bucket: "bucket-x", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 64
	c, err := Bootstrap(p, nodes)
	if err != nil || c.RingEpoch != 1 {
		t.Fatalf("bootstrap: ring epoch %d, %v", c.RingEpoch, err)
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
	n, err = CancelPlan(c)
	c = step("cancel", n, err, 1)
	n, err = SetState(c, "e", kv.StateActive)
	c = step("activate", n, err, 1)
	n, err = Commit(c)
	step("commit", n, err, 1)
}
