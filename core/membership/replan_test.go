package membership_test

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
)

// Issue 22, defect 2: whatever re-plans a pending change (an add, a
// removal, a leaving node made active), every node that was a pending
// owner of a partition it does not own gets a clean-up of that partition,
// at its location, committed at the re-plan's time; the clean-ups already
// recorded stay.
func TestReplanRecordsCleanupsProperty(t *testing.T) {
	now := time.UnixMilli(777_000)
	rapid.Check(t, func(rt *rapid.T) {
		c := cluster5(t)
		first := rapid.SampledFrom([]string{"add n6", "remove n4", "remove n5"}).Draw(rt, "plan")
		var err error
		switch first {
		case "add n6":
			c, err = membership.AddNodeAt(c, kv.Node{ID: "n6", Zone: "c", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n6/"}}, now)
		case "remove n4":
			c, err = membership.RemoveNodeAt(c, "n4", now)
		default:
			c, err = membership.RemoveNodeAt(c, "n5", now)
		}
		if err != nil || c.Next == nil {
			rt.Fatalf("plan %s: %v", first, err)
		}
		prev := c
		var out kv.Cluster
		switch second := rapid.SampledFrom([]string{"add n7", "remove n1", "remove n6", "activate"}).Draw(rt, "re-plan"); second {
		case "add n7":
			out, err = membership.AddNodeAt(c, kv.Node{ID: "n7", Zone: "a", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n7/"}}, now)
		case "remove n1":
			out, err = membership.RemoveNodeAt(c, "n1", now)
		case "remove n6":
			out, err = membership.RemoveNodeAt(c, "n6", now)
		default:
			id := "n4"
			if first != "remove n4" {
				id = "n5"
			}
			out, err = membership.SetStateAt(c, id, kv.StateActive, now)
		}
		if err != nil {
			rt.Skip("re-plan refused:", err)
		}
		if slices.Equal(out.Next, prev.Next) {
			rt.Skip("the plan did not change")
		}
		before, _ := ring.New(64, ringNode(prev), prev.Owners)
		planned, _ := ring.New(64, ringNode(prev), prev.Next)
		for p := 0; p < 64; p++ {
			was := before.PrimariesOfPartition(p, 3)
			for _, id := range planned.PrimariesOfPartition(p, 3) {
				if slices.Contains(was, id) {
					continue
				}
				n, _ := prev.Node(id)
				ok := slices.ContainsFunc(out.Cleanups, func(cl kv.Cleanup) bool {
					return cl.Node.ID == id && cl.Node.Location == n.Location && slices.Contains(cl.Partitions, p) && cl.Committed == now.UnixMilli()
				})
				if !ok {
					rt.Fatalf("%s was a pending owner of partition %d; no clean-up records it: %+v", id, p, out.Cleanups)
				}
			}
		}
		for _, cl := range out.Cleanups {
			_, err := out.Node(cl.Node.ID)
			if cl.Departed != (err != nil) {
				rt.Fatalf("clean-up of %s: departed %v, member %v", cl.Node.ID, cl.Departed, err == nil)
			}
		}
	})
}

// Issue 22, defect 3: a node removed, added again (a new location) and
// removed again keeps one departed clean-up per location; a commit merges a
// new clean-up only into one of the same location, and clearing one
// location's partitions leaves the other's.
func TestCleanupsKeptPerLocation(t *testing.T) {
	now := time.UnixMilli(1_000)
	c := cluster5(t)
	step := func(fn func(kv.Cluster) (kv.Cluster, error)) {
		t.Helper()
		var err error
		if c, err = fn(c); err != nil {
			t.Fatal(err)
		}
	}
	step(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	step(func(c kv.Cluster) (kv.Cluster, error) { return membership.CommitAt(c, now) })
	step(func(c kv.Cluster) (kv.Cluster, error) {
		return membership.AddNode(c, kv.Node{ID: "n5", Zone: "b", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n5/"}})
	})
	step(func(c kv.Cluster) (kv.Cluster, error) { return membership.CommitAt(c, now) })
	step(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	step(func(c kv.Cluster) (kv.Cluster, error) { return membership.CommitAt(c, now) })
	locs := map[string][]int{}
	for _, cl := range c.Cleanups {
		if cl.Node.ID == "n5" && cl.Departed {
			locs[cl.Node.Location.Prefix] = cl.Partitions
		}
	}
	if len(locs["n5/"]) == 0 || len(locs["n5/i2/"]) == 0 {
		t.Fatalf("want a departed clean-up at n5/ and at n5/i2/, got %+v", c.Cleanups)
	}
	if got := c.DepartedNodes("n5"); len(got) != 2 {
		t.Fatalf("DepartedNodes(n5) = %+v, want both locations", got)
	}
	first := kv.Location{Bucket: "b", Prefix: "n5/"}
	out := membership.ClearCleanup(c, "n5", first, true, locs["n5/"])
	for _, cl := range out.Cleanups {
		if cl.Node.Location == first {
			t.Fatalf("the first location's clean-up is still there: %+v", cl)
		}
	}
	if got := out.DepartedNodes("n5"); len(got) != 1 || got[0].Location.Prefix != "n5/i2/" {
		t.Fatalf("clearing the first location touched the second: %+v", out.Cleanups)
	}
}
