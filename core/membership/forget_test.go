package membership_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// departedCluster is cluster5 after n5's removal was committed: n5 has a
// departed clean-up; other nodes may have clean-ups of their own.
func departedCluster(t *testing.T) kv.Cluster {
	t.Helper()
	c, err := membership.RemoveNode(cluster5(t), "n5")
	if err != nil {
		t.Fatal(err)
	}
	c, err = membership.CommitAt(c, time.UnixMilli(1000))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Departed("n5"); !ok {
		t.Fatal("the commit recorded no departed clean-up for n5")
	}
	return c
}

// Forgetting drops n5's departed clean-up, and nothing else: the other
// clean-ups, the epochs and the rest of the record stay; n5 stays retired;
// no partition is cleaning any more unless another clean-up holds it.
func TestForgetCleanups(t *testing.T) {
	c := departedCluster(t)
	// Another node's clean-up of one of n5's partitions, and of another.
	n5, _ := c.Departed("n5")
	var n5ps []int
	for _, cl := range c.Cleanups {
		if cl.Node.ID == "n5" {
			n5ps = cl.Partitions
		}
	}
	n1, _ := c.Node("n1")
	other := kv.Cleanup{Node: n1, Partitions: []int{n5ps[0], 63}, Committed: 900}
	c.Cleanups = append(c.Cleanups, other)
	before := fmt.Sprintf("%+v", c)

	out, n, err := membership.ForgetCleanups(c, "n5")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(n5ps) || n == 0 {
		t.Fatalf("forgot %d partitions, want %d", n, len(n5ps))
	}
	if fmt.Sprintf("%+v", c) != before {
		t.Fatal("ForgetCleanups changed its argument")
	}
	if _, ok := out.Departed("n5"); ok {
		t.Fatal("n5's departed clean-up is still there")
	}
	if out.Epoch != c.Epoch || out.RingEpoch != c.RingEpoch {
		t.Fatalf("epochs changed: %d/%d -> %d/%d", c.Epoch, c.RingEpoch, out.Epoch, out.RingEpoch)
	}
	var kept []kv.Cleanup
	for _, cl := range c.Cleanups {
		if cl.Node.ID != "n5" {
			kept = append(kept, cl)
		}
	}
	if !reflect.DeepEqual(out.Cleanups, kept) {
		t.Fatalf("clean-ups: got %+v, want %+v", out.Cleanups, kept)
	}
	freed := 0
	for _, p := range n5ps {
		want := slices.ContainsFunc(kept, func(cl kv.Cleanup) bool { return slices.Contains(cl.Partitions, p) })
		if out.CleaningPartition(p) != want {
			t.Errorf("partition %d cleaning: %v, want %v", p, out.CleaningPartition(p), want)
		}
		if !want {
			freed++
		}
	}
	if freed == 0 || !out.CleaningPartition(n5ps[0]) {
		t.Fatalf("the test frees %d partitions; partition %d should stay cleaning", freed, n5ps[0])
	}
	if !slices.Contains(out.Retired, kv.Retired{ID: "n5", Incarnation: n5.Incarnation}) {
		t.Fatalf("n5 not retired: %+v", out.Retired)
	}
	rest, orig := out, c
	rest.Cleanups, orig.Cleanups = nil, nil
	if !reflect.DeepEqual(rest, orig) {
		t.Fatalf("other fields changed:\n%+v\n%+v", rest, orig)
	}
	// A node added again under the id starts from a fresh location.
	re, err := membership.AddNode(out, kv.Node{ID: "n5", Zone: "b", Weight: 1, Location: n5.Location})
	if err != nil {
		t.Fatal(err)
	}
	if nn, _ := re.Node("n5"); nn.Location == n5.Location || nn.Incarnation <= n5.Incarnation {
		t.Fatalf("re-added n5 reuses the old location: %+v (old %+v)", nn, n5)
	}
	// Nothing is left to forget.
	if _, _, err := membership.ForgetCleanups(out, "n5"); !errors.Is(err, membership.ErrNoCleanup) {
		t.Fatalf("forgetting twice: %v", err)
	}
}

func TestForgetCleanupsErrors(t *testing.T) {
	c := departedCluster(t)
	for _, tc := range []struct {
		id   string
		want error
	}{
		{"n1", membership.ErrStillMember},
		{"nosuch", membership.ErrNoCleanup},
	} {
		if _, _, err := membership.ForgetCleanups(c, tc.id); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.id, err, tc.want)
		}
	}
	// A member's own clean-up (partitions it lost while staying) is not
	// forgettable, even with a departed one of an earlier node of its id.
	n1, _ := c.Node("n1")
	c.Cleanups = append(c.Cleanups,
		kv.Cleanup{Node: n1, Partitions: []int{1}},
		kv.Cleanup{Node: kv.Node{ID: "n1", Incarnation: 0}, Partitions: []int{2}, Departed: true})
	if _, _, err := membership.ForgetCleanups(c, "n1"); !errors.Is(err, membership.ErrStillMember) {
		t.Fatalf("member with a departed clean-up: %v", err)
	}
	// A non-member with only a clean-up recorded while it was a member (it
	// lost partitions, then left): forgotten too, since its storage is gone
	// and that clean-up could never finish (found by internal/ringmodel).
	c.Cleanups = []kv.Cleanup{{Node: kv.Node{ID: "gone"}, Partitions: []int{3}}}
	out, n, err := membership.ForgetCleanups(c, "gone")
	if err != nil || n != 1 || len(out.Cleanups) != 0 {
		t.Fatalf("non-departed only: %d %+v %v", n, out.Cleanups, err)
	}
}

// Over random records: exactly the named non-member's entries go (departed,
// and those recorded while it was a member),
// the count is the number of distinct partitions they held, the rest keep
// their order, and the epoch never moves.
func TestForgetCleanupsProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	ids := []string{"a", "b", "c", "d", "e"}
	for i := 0; i < 2000; i++ {
		var c kv.Cluster
		c.Epoch = uint64(rng.IntN(100) + 1)
		members := map[string]bool{}
		for _, id := range ids {
			if rng.IntN(2) == 0 {
				members[id] = true
				c.Nodes = append(c.Nodes, kv.Node{ID: id, Incarnation: 2})
			}
		}
		for j := rng.IntN(8); j > 0; j-- {
			var ps []int
			for p := 0; p < 16; p++ {
				if rng.IntN(4) == 0 {
					ps = append(ps, p)
				}
			}
			if len(ps) == 0 {
				ps = []int{rng.IntN(16)}
			}
			c.Cleanups = append(c.Cleanups, kv.Cleanup{
				Node: kv.Node{ID: ids[rng.IntN(len(ids))], Incarnation: 1}, Partitions: ps, Departed: rng.IntN(2) == 0})
		}
		id := ids[rng.IntN(len(ids))]
		out, n, err := membership.ForgetCleanups(c, id)
		var want []kv.Cleanup
		drop := map[int]bool{}
		for _, cl := range c.Cleanups {
			if cl.Node.ID == id { // a non-member's: departed or recorded before it left
				for _, p := range cl.Partitions {
					drop[p] = true
				}
				continue
			}
			want = append(want, cl)
		}
		switch {
		case members[id]:
			if !errors.Is(err, membership.ErrStillMember) {
				t.Fatalf("case %d: member %s: %v", i, id, err)
			}
			continue
		case len(want) == len(c.Cleanups):
			if !errors.Is(err, membership.ErrNoCleanup) {
				t.Fatalf("case %d: nothing to forget for %s: %v", i, id, err)
			}
			continue
		case err != nil:
			t.Fatalf("case %d: %v", i, err)
		}
		if n != len(drop) {
			t.Fatalf("case %d: count %d, want %d", i, n, len(drop))
		}
		if len(out.Cleanups) != len(want) || (len(want) > 0 && !reflect.DeepEqual(out.Cleanups, want)) {
			t.Fatalf("case %d: forgetting %s:\n got %+v\nwant %+v", i, id, out.Cleanups, want)
		}
		if out.Epoch != c.Epoch {
			t.Fatalf("case %d: epoch %d -> %d", i, c.Epoch, out.Epoch)
		}
		if _, ok := out.Departed(id); ok {
			t.Fatalf("case %d: %s still departed", i, id)
		}
	}
}
