package membership_test

import (
	"slices"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
)

func ringNode(c kv.Cluster) []ring.Node {
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	return rn
}

func cluster5(t *testing.T) kv.Cluster {
	t.Helper()
	p := kv.DefaultParams()
	p.Q = 64
	var nodes []kv.Node
	for i, id := range []string{"n1", "n2", "n3", "n4", "n5"} {
		nodes = append(nodes, kv.Node{ID: id, Zone: []string{"a", "b", "c"}[i%3], Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id + "/"}})
	}
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CommitAt records a cleanup for every node that loses a partition replica,
// exactly those partitions, with the commit time; a departed node's cleanup
// keeps its location and it is retired.
func TestCommitAtRecordsCleanups(t *testing.T) {
	c := cluster5(t)
	c, err := membership.RemoveNode(c, "n5")
	if err != nil {
		t.Fatal(err)
	}
	c.Change = &kv.RingChange{Seen: 1, Done: []int{1}}
	now := time.UnixMilli(123456)
	out, err := membership.CommitAt(c, now)
	if err != nil {
		t.Fatal(err)
	}
	if out.Change != nil || out.Next != nil {
		t.Fatal("the commit kept the ring change's progress")
	}
	before, _ := ring.New(64, ringNode(c), c.Owners)
	after, _ := ring.New(64, ringNode(c), c.Next)
	want := map[string][]int{}
	for p := 0; p < 64; p++ {
		is := after.PrimariesOfPartition(p, 3)
		for _, id := range before.PrimariesOfPartition(p, 3) {
			if !slices.Contains(is, id) {
				want[id] = append(want[id], p)
			}
		}
	}
	if len(out.Cleanups) != len(want) {
		t.Fatalf("cleanups %+v, want nodes %v", out.Cleanups, want)
	}
	for _, cl := range out.Cleanups {
		if !slices.Equal(cl.Partitions, want[cl.Node.ID]) || cl.Committed != now.UnixMilli() {
			t.Fatalf("cleanup of %s: %+v, want partitions %v", cl.Node.ID, cl, want[cl.Node.ID])
		}
		if cl.Departed != (cl.Node.ID == "n5") || (cl.Departed && cl.Node.Location.Prefix != "n5/") {
			t.Fatalf("cleanup of %s: %+v", cl.Node.ID, cl)
		}
	}
	if !out.CleaningPartition(want["n5"][0]) {
		t.Fatal("CleaningPartition")
	}
	if n, ok := out.Departed("n5"); !ok || n.Location.Prefix != "n5/" {
		t.Fatal("Departed")
	}
	if !slices.Equal(out.Retired, []kv.Retired{{ID: "n5", Incarnation: 1}}) {
		t.Fatalf("retired %+v", out.Retired)
	}
	// Done one by one, the cleanups go.
	for _, cl := range out.Cleanups {
		out = membership.ClearCleanup(out, cl.Node.ID, cl.Node.Location, cl.Departed, cl.Partitions)
	}
	if len(out.Cleanups) != 0 {
		t.Fatalf("cleanups left: %+v", out.Cleanups)
	}
}

// A node added again under a retired id gets a later incarnation and its own
// location; a new id is untouched.
func TestReaddedNodeStartsEmpty(t *testing.T) {
	c := cluster5(t)
	c, _ = membership.RemoveNode(c, "n5")
	c, _ = membership.CommitAt(c, time.UnixMilli(1))
	c, err := membership.AddNode(c, kv.Node{ID: "n5", Zone: "c", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n5/"}})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := c.Node("n5")
	if n.Incarnation != 2 || n.Location.Prefix != "n5/i2/" {
		t.Fatalf("re-added n5: %+v", n)
	}
	c, _ = membership.AddNode(c, kv.Node{ID: "n6", Zone: "c", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n6/"}})
	if n, _ := c.Node("n6"); n.Incarnation != 1 || n.Location.Prefix != "n6/" {
		t.Fatalf("new n6: %+v", n)
	}
}

// A new plan drops the old plan's progress; the same plan keeps it.
func TestReplanResetsProgress(t *testing.T) {
	c := cluster5(t)
	c, _ = membership.RemoveNode(c, "n5")
	c.Change = &kv.RingChange{Seen: 1, Done: []int{3}}
	same, err := membership.SetState(c, "n1", kv.StateDown)
	if err != nil || same.Change == nil {
		t.Fatalf("a node marked down dropped the progress: %v", err)
	}
	other, err := membership.RemoveNode(c, "n4")
	if err != nil || other.Change != nil {
		t.Fatalf("a new plan kept the old progress: %v", err)
	}
}
