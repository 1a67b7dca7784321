package membership_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
)

func node(id, zone string) kv.Node {
	return kv.Node{ID: id, Zone: zone, Weight: 1, Location: kv.Location{Bucket: "bkt", Prefix: id + "/"}}
}

func params(q int) kv.Params {
	p := kv.DefaultParams()
	p.Q = q
	return p
}

func nodes(n int) []kv.Node {
	var out []kv.Node
	for i := 1; i <= n; i++ {
		out = append(out, node(fmt.Sprintf("n%d", i), fmt.Sprintf("z%d", (i-1)%3+1)))
	}
	return out
}

func bootstrap(t testing.TB, q, n int) kv.Cluster {
	t.Helper()
	c, err := membership.Bootstrap(params(q), nodes(n))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tb is what checkCluster needs of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkCluster checks the invariants every cluster returned here must hold.
func checkCluster(t tb, c kv.Cluster) {
	t.Helper()
	if len(c.Owners) != c.Params.Q {
		t.Fatalf("%d owners for q=%d", len(c.Owners), c.Params.Q)
	}
	owners := map[string]bool{}
	for p, id := range c.Owners {
		n, err := c.Node(id)
		if err != nil {
			t.Fatalf("partition %d owned by non-member %q", p, id)
		}
		if n.State == kv.StateJoining {
			t.Fatalf("partition %d owned by joining node %s", p, id)
		}
		owners[id] = true
	}
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		if seen[n.ID] {
			t.Fatalf("node %s listed twice", n.ID)
		}
		seen[n.ID] = true
		if n.Incarnation == 0 || n.State == "" {
			t.Fatalf("node %+v has no incarnation or state", n)
		}
	}
	// The cluster is usable as a ring, and so is its plan.
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	if _, err := ring.New(c.Params.Q, rn, c.Owners); err != nil {
		t.Fatalf("cluster does not make a ring: %v", err)
	}
	if c.Next == nil {
		for _, n := range c.Nodes {
			if n.State == kv.StateLeaving {
				t.Fatalf("leaving node %s without a pending plan", n.ID)
			}
		}
		return
	}
	if slices.Equal(c.Next, c.Owners) {
		t.Fatalf("a plan that moves nothing must be nil")
	}
	if _, err := ring.New(c.Params.Q, rn, c.Next); err != nil {
		t.Fatalf("plan does not make a ring: %v", err)
	}
	for p, id := range c.Next {
		if n, _ := c.Node(id); n.State == kv.StateJoining || n.State == kv.StateLeaving {
			t.Fatalf("partition %d planned for %s node %s", p, n.State, id)
		}
	}
	for _, n := range c.Nodes {
		if n.State == kv.StateLeaving && !slices.Contains(c.Owners, n.ID) {
			t.Fatalf("leaving node %s owns nothing but was kept", n.ID)
		}
	}
}

// commit commits c's pending plan.
func commit(t tb, c kv.Cluster) kv.Cluster {
	t.Helper()
	out, err := membership.Commit(c)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	checkCluster(t, out)
	if out.Next != nil || !slices.Equal(out.Owners, c.Next) || out.Epoch != c.Epoch+1 {
		t.Fatalf("commit: owners switched %v, next %v, epoch %d after %d", slices.Equal(out.Owners, c.Next), out.Next, out.Epoch, c.Epoch)
	}
	return out
}

func count(owners []string, id string) int {
	n := 0
	for _, o := range owners {
		if o == id {
			n++
		}
	}
	return n
}

func TestBootstrap(t *testing.T) {
	ns := nodes(4)
	ns[1].State = kv.StateDown
	ns[2].Incarnation = 7
	c, err := membership.Bootstrap(params(64), ns)
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, c)
	if c.Epoch != 1 || c.Params != params(64) {
		t.Fatalf("epoch %d params %+v", c.Epoch, c.Params)
	}
	if len(c.Nodes) != 4 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	for i, n := range c.Nodes {
		want := ns[i]
		if want.State == "" {
			want.State = kv.StateActive
		}
		if want.Incarnation == 0 {
			want.Incarnation = 1
		}
		if n != want {
			t.Fatalf("node %d = %+v, want %+v", i, n, want)
		}
		// A down node keeps its share; equal weights share equally.
		if got := count(c.Owners, n.ID); got != 16 {
			t.Fatalf("%s owns %d of 64, want 16", n.ID, got)
		}
	}
	if ns[0].State != "" || ns[0].Incarnation != 0 {
		t.Fatal("Bootstrap modified its argument")
	}
}

func TestBootstrapJoiningOwnsNothing(t *testing.T) {
	ns := nodes(3)
	ns[2].State = kv.StateJoining
	c, err := membership.Bootstrap(params(16), ns)
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, c)
	if count(c.Owners, "n3") != 0 || count(c.Owners, "n1") != 8 {
		t.Fatalf("owners %v: a joining node must own nothing", c.Owners)
	}
}

func TestBootstrapErrors(t *testing.T) {
	bad := func(edit func(*kv.Node)) []kv.Node {
		ns := nodes(3)
		edit(&ns[1])
		return ns
	}
	cases := []struct {
		name  string
		p     kv.Params
		nodes []kv.Node
		want  string
	}{
		{"bad params", kv.Params{Q: 3, N: 3, R: 2, W: 2}, nodes(3), "q=3"},
		{"no nodes", params(16), nil, "no nodes"},
		{"only joining nodes", params(16), bad(func(n *kv.Node) {}), ""}, // replaced below
		{"bad id", params(16), bad(func(n *kv.Node) { n.ID = "n.2" }), "node id"},
		{"empty id", params(16), bad(func(n *kv.Node) { n.ID = "" }), "node id"},
		{"no zone", params(16), bad(func(n *kv.Node) { n.Zone = "" }), "zone"},
		{"zero weight", params(16), bad(func(n *kv.Node) { n.Weight = 0 }), "weight"},
		{"no bucket", params(16), bad(func(n *kv.Node) { n.Location.Bucket = "" }), "bucket"},
		{"duplicate id", params(16), bad(func(n *kv.Node) { n.ID = "n1" }), "twice"},
	}
	joining := nodes(2)
	for i := range joining {
		joining[i].State = kv.StateJoining
	}
	cases[2].nodes, cases[2].want = joining, "no nodes"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := membership.Bootstrap(tc.p, tc.nodes)
			if err == nil {
				t.Fatalf("Bootstrap = %+v, want an error", c)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Bootstrap error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestAddNode(t *testing.T) {
	c := bootstrap(t, 64, 3)
	before := slices.Clone(c.Owners)
	n := node("n4", "z1")
	next, err := membership.AddNode(c, n)
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, next)
	if next.Epoch != c.Epoch+1 {
		t.Fatalf("epoch %d after %d", next.Epoch, c.Epoch)
	}
	got, err := next.Node("n4")
	if err != nil || got.State != kv.StateActive || got.Incarnation != 1 {
		t.Fatalf("added node = %+v, %v; want active, incarnation 1", got, err)
	}
	// Only a plan: ownership switches at the commit.
	if !slices.Equal(next.Owners, c.Owners) || count(next.Owners, "n4") != 0 {
		t.Fatal("AddNode switched ownership before the commit")
	}
	if k := count(next.Next, "n4"); k != 16 {
		t.Fatalf("new node is planned to own %d of 64, want 16", k)
	}
	for p := range next.Next {
		if next.Next[p] != c.Owners[p] && next.Next[p] != "n4" {
			t.Fatalf("partition %d planned %s -> %s, not to the new node", p, c.Owners[p], next.Next[p])
		}
	}
	if !slices.Equal(c.Owners, before) || len(c.Nodes) != 3 || c.Next != nil {
		t.Fatal("AddNode modified its input cluster")
	}
	done := commit(t, next)
	if k := count(done.Owners, "n4"); k != 16 || len(done.Nodes) != 4 {
		t.Fatalf("after commit the new node owns %d of 64 (%d nodes)", k, len(done.Nodes))
	}
}

func TestCommitWithoutPlan(t *testing.T) {
	c := bootstrap(t, 16, 3)
	if _, err := membership.Commit(c); !errors.Is(err, membership.ErrNoPlan) {
		t.Fatalf("commit without a plan = %v, want ErrNoPlan", err)
	}
}

// Changes made while a plan is pending are planned together, from the
// current owners; undoing a change cancels the plan.
func TestPlansStackAndCancel(t *testing.T) {
	c := bootstrap(t, 64, 4)
	added, err := membership.AddNode(c, node("n5", "z2"))
	if err != nil {
		t.Fatal(err)
	}
	both, err := membership.RemoveNode(added, "n1")
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, both)
	if count(both.Next, "n1") != 0 || count(both.Next, "n5") == 0 || !slices.Equal(both.Owners, c.Owners) {
		t.Fatalf("replace n1 by n5: planned n1=%d n5=%d", count(both.Next, "n1"), count(both.Next, "n5"))
	}
	for p := range both.Next {
		if both.Next[p] != c.Owners[p] && c.Owners[p] != "n1" && both.Next[p] != "n5" {
			t.Fatalf("partition %d planned %s -> %s: neither from n1 nor to n5", p, c.Owners[p], both.Next[p])
		}
	}
	done := commit(t, both)
	if _, err := done.Node("n1"); !errors.Is(err, kv.ErrNoNode) {
		t.Fatal("the replaced node is still a member after the commit")
	}
	// Add then remove before committing: no plan is left, and the node is gone.
	undone, err := membership.RemoveNode(added, "n5")
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, undone)
	if undone.Next != nil || len(undone.Nodes) != 4 || undone.Epoch != added.Epoch+1 {
		t.Fatalf("add then remove: next %v, %d nodes", undone.Next != nil, len(undone.Nodes))
	}
	// Leaving then active again cancels the departure.
	leaving, err := membership.SetState(c, "n2", kv.StateLeaving)
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, leaving)
	if leaving.Next == nil || count(leaving.Next, "n2") != 0 {
		t.Fatal("SetState(leaving) did not plan the departure")
	}
	back, err := membership.SetState(leaving, "n2", kv.StateActive)
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, back)
	if back.Next != nil {
		t.Fatal("re-activating a leaving node did not cancel its departure")
	}
}

func TestAddNodeKeepsGivenStateAndIncarnation(t *testing.T) {
	c := bootstrap(t, 32, 3)
	n := node("n4", "z2")
	n.State, n.Incarnation = kv.StateJoining, 5
	next, err := membership.AddNode(c, n)
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, next)
	got, _ := next.Node("n4")
	if got.State != kv.StateJoining || got.Incarnation != 5 {
		t.Fatalf("added node = %+v", got)
	}
	if !slices.Equal(next.Owners, c.Owners) || next.Next != nil || next.Epoch != c.Epoch+1 {
		t.Fatal("adding a joining node must move nothing but still bump the epoch")
	}
}

func TestAddNodeErrors(t *testing.T) {
	c := bootstrap(t, 16, 3)
	for name, n := range map[string]kv.Node{
		"invalid id": node("bad id", "z1"),
		"no zone":    node("n9", ""),
		"existing":   node("n2", "z1"),
	} {
		if next, err := membership.AddNode(c, n); err == nil {
			t.Errorf("%s: AddNode = epoch %d, want an error", name, next.Epoch)
		}
	}
	// An invalid cluster (q not a power of two) fails in the claim.
	broken := c
	broken.Params.Q = 12
	if _, err := membership.AddNode(broken, node("n9", "z1")); err == nil || !strings.Contains(err.Error(), "membership") {
		t.Fatalf("AddNode on a broken cluster = %v", err)
	}
}

func TestRemoveNode(t *testing.T) {
	c := bootstrap(t, 64, 4)
	before := slices.Clone(c.Owners)
	next, err := membership.RemoveNode(c, "n2")
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, next)
	// Planned: n2 is leaving and still serves its partitions.
	if n, err := next.Node("n2"); err != nil || n.State != kv.StateLeaving {
		t.Fatalf("removed node = %+v, %v; want leaving until the commit", n, err)
	}
	if next.Epoch != c.Epoch+1 || len(next.Nodes) != 4 || !slices.Equal(next.Owners, c.Owners) {
		t.Fatalf("epoch %d, %d nodes, owners changed %v", next.Epoch, len(next.Nodes), !slices.Equal(next.Owners, c.Owners))
	}
	for p := range next.Next {
		if c.Owners[p] != "n2" && next.Next[p] != c.Owners[p] {
			t.Fatalf("partition %d of %s planned to move to %s", p, c.Owners[p], next.Next[p])
		}
		if next.Next[p] == "n2" {
			t.Fatalf("partition %d still planned for the leaving node", p)
		}
	}
	if !slices.Equal(c.Owners, before) || len(c.Nodes) != 4 {
		t.Fatal("RemoveNode modified its input cluster")
	}
	done := commit(t, next)
	if _, err := done.Node("n2"); !errors.Is(err, kv.ErrNoNode) {
		t.Fatal("removed node is still a member after the commit")
	}
	if len(done.Nodes) != 3 {
		t.Fatalf("%d nodes after the commit", len(done.Nodes))
	}
}

func TestRemoveNodeErrors(t *testing.T) {
	c := bootstrap(t, 16, 2)
	if _, err := membership.RemoveNode(c, "n9"); !errors.Is(err, kv.ErrNoNode) {
		t.Fatalf("remove unknown = %v, want ErrNoNode", err)
	}
	planned, err := membership.RemoveNode(c, "n1")
	if err != nil {
		t.Fatal(err)
	}
	// The leaving node cannot be the last one standing either.
	if _, err := membership.RemoveNode(planned, "n2"); err == nil || !strings.Contains(err.Error(), "last node") {
		t.Fatalf("removing the last non-leaving node = %v", err)
	}
	one := commit(t, planned)
	if _, err := membership.RemoveNode(one, "n2"); err == nil || !strings.Contains(err.Error(), "last node") {
		t.Fatalf("removing the last node = %v", err)
	}
	// Removing the last node that can own partitions fails in the claim.
	withJoining, err := membership.AddNode(one, kv.Node{ID: "j", Zone: "z1", Weight: 1, State: kv.StateJoining, Location: kv.Location{Bucket: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := membership.RemoveNode(withJoining, "n2"); err == nil {
		t.Fatal("removing the only owning node left a cluster of joining nodes")
	}
}

func TestSetState(t *testing.T) {
	c := bootstrap(t, 32, 3)
	for _, s := range []kv.NodeState{kv.StateDown, kv.StateLeaving, kv.StateActive} {
		next, err := membership.SetState(c, "n2", s)
		if err != nil {
			t.Fatalf("SetState %s: %v", s, err)
		}
		checkCluster(t, next)
		n, _ := next.Node("n2")
		if n.State != s || next.Epoch != c.Epoch+1 || !slices.Equal(next.Owners, c.Owners) {
			t.Fatalf("SetState %s: node %+v epoch %d; want only the state and epoch changed", s, n, next.Epoch)
		}
		// Only leaving plans a change (the node's departure).
		if (next.Next != nil) != (s == kv.StateLeaving) {
			t.Fatalf("SetState %s: pending plan %v", s, next.Next != nil)
		}
		if orig, _ := c.Node("n2"); orig.State != kv.StateActive {
			t.Fatal("SetState modified its input cluster")
		}
	}
	for _, s := range []kv.NodeState{kv.StateJoining, "", "gone"} {
		if _, err := membership.SetState(c, "n2", s); err == nil {
			t.Errorf("SetState(%q) succeeded", s)
		}
	}
	if _, err := membership.SetState(c, "n9", kv.StateDown); !errors.Is(err, kv.ErrNoNode) {
		t.Fatalf("SetState of unknown node = %v, want ErrNoNode", err)
	}
}

func TestBumpIncarnation(t *testing.T) {
	c := bootstrap(t, 16, 3)
	next, err := membership.BumpIncarnation(c, "n3")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := next.Node("n3")
	if n.Incarnation != 2 || next.Epoch != c.Epoch+1 || !slices.Equal(next.Owners, c.Owners) {
		t.Fatalf("after bump: %+v epoch %d", n, next.Epoch)
	}
	if orig, _ := c.Node("n3"); orig.Incarnation != 1 {
		t.Fatal("BumpIncarnation modified its input cluster")
	}
	if _, err := membership.BumpIncarnation(c, "n9"); !errors.Is(err, kv.ErrNoNode) {
		t.Fatalf("bump of unknown node = %v, want ErrNoNode", err)
	}
}

// Property: with equal weights, AddNode then RemoveNode keeps every partition
// owned by a member; each step moves partitions only to the added node or
// only from the removed one, and the epoch grows by one per step.
func TestAddRemoveProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := 1 << rapid.IntRange(0, 9).Draw(t, "qbits")
		n := rapid.IntRange(1, 12).Draw(t, "nodes")
		c, err := membership.Bootstrap(params(q), nodes(n))
		if err != nil {
			t.Fatal(err)
		}
		checkCluster(t, c)
		steps := rapid.IntRange(1, 8).Draw(t, "steps")
		next := n + 1
		for i := 0; i < steps; i++ {
			var (
				out     kv.Cluster
				changed string
				add     = len(c.Nodes) == 1 || rapid.Bool().Draw(t, "add")
			)
			if add {
				changed = fmt.Sprintf("n%d", next)
				next++
				out, err = membership.AddNode(c, node(changed, fmt.Sprintf("z%d", rapid.IntRange(1, 4).Draw(t, "zone"))))
			} else {
				changed = rapid.SampledFrom(c.Nodes).Draw(t, "victim").ID
				out, err = membership.RemoveNode(c, changed)
			}
			if err != nil {
				t.Fatalf("step %d (add=%v %s): %v", i, add, changed, err)
			}
			checkCluster(t, out)
			if out.Epoch != c.Epoch+1 {
				t.Fatalf("epoch %d -> %d", c.Epoch, out.Epoch)
			}
			if !slices.Equal(out.Owners, c.Owners) {
				t.Fatalf("step %d: ownership switched before the commit", i)
			}
			if out.Next != nil {
				out = commit(t, out)
			}
			moved := 0
			for p := range out.Owners {
				if out.Owners[p] == c.Owners[p] {
					continue
				}
				moved++
				if add && out.Owners[p] != changed {
					t.Fatalf("add %s: partition %d moved %s -> %s", changed, p, c.Owners[p], out.Owners[p])
				}
				if !add && c.Owners[p] != changed {
					t.Fatalf("remove %s: partition %d moved %s -> %s", changed, p, c.Owners[p], out.Owners[p])
				}
			}
			if !add && moved != count(c.Owners, changed) {
				t.Fatalf("remove %s moved %d partitions, it owned %d", changed, moved, count(c.Owners, changed))
			}
			if add && moved != count(out.Owners, changed) {
				t.Fatalf("add %s moved %d partitions, it now owns %d", changed, moved, count(out.Owners, changed))
			}
			// Balance: every owning node holds floor or ceil of q/nodes.
			lo := q / len(out.Nodes)
			for _, m := range out.Nodes {
				if k := count(out.Owners, m.ID); k < lo || k > lo+1 {
					t.Fatalf("%s owns %d of %d partitions over %d nodes", m.ID, k, q, len(out.Nodes))
				}
			}
			c = out
		}
	})
}

// Property: with any weights every partition stays owned by a member that is
// not joining, whatever sequence of changes is applied.
func TestWeightedChangesProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := 1 << rapid.IntRange(2, 8).Draw(t, "qbits")
		ns := nodes(rapid.IntRange(1, 6).Draw(t, "nodes"))
		for i := range ns {
			ns[i].Weight = rapid.IntRange(1, 5).Draw(t, "weight")
		}
		c, err := membership.Bootstrap(params(q), ns)
		if err != nil {
			t.Fatal(err)
		}
		next := len(ns) + 1
		for i, steps := 0, rapid.IntRange(1, 10).Draw(t, "steps"); i < steps; i++ {
			var out kv.Cluster
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				n := node(fmt.Sprintf("n%d", next), "z1")
				next++
				n.Weight = rapid.IntRange(1, 5).Draw(t, "weight")
				if rapid.Bool().Draw(t, "joining") {
					n.State = kv.StateJoining
				}
				out, err = membership.AddNode(c, n)
			case 1:
				out, err = membership.RemoveNode(c, rapid.SampledFrom(c.Nodes).Draw(t, "victim").ID)
			case 2:
				st := rapid.SampledFrom([]kv.NodeState{kv.StateActive, kv.StateDown, kv.StateLeaving}).Draw(t, "state")
				out, err = membership.SetState(c, rapid.SampledFrom(c.Nodes).Draw(t, "who").ID, st)
			case 3:
				out, err = membership.BumpIncarnation(c, rapid.SampledFrom(c.Nodes).Draw(t, "who").ID)
			}
			if err != nil {
				continue // e.g. removing the last owning node; c is unchanged
			}
			if out.Epoch != c.Epoch+1 {
				t.Fatalf("epoch %d -> %d", c.Epoch, out.Epoch)
			}
			checkCluster(t, out)
			if !slices.Equal(out.Owners, c.Owners) {
				t.Fatal("a change switched ownership without a commit")
			}
			// Plans stack until committed; commit some of them.
			if out.Next != nil && rapid.Bool().Draw(t, "commit") {
				out = commit(t, out)
			}
			c = out
		}
	})
}

// A joining node owns nothing "until activated" (planNodes); activating it is
// SetState(active), which must then plan its share, moving partitions only to
// it, exactly as AddNode of an active node does.
func TestActivatingJoiningNodeTakesItsShare(t *testing.T) {
	c := bootstrap(t, 64, 3)
	n := node("n4", "z1")
	n.State = kv.StateJoining
	joined, err := membership.AddNode(c, n)
	if err != nil {
		t.Fatal(err)
	}
	if count(joined.Owners, "n4") != 0 || joined.Next != nil {
		t.Fatal("a joining node owns or is planned partitions")
	}
	active, err := membership.SetState(joined, "n4", kv.StateActive)
	if err != nil {
		t.Fatal(err)
	}
	checkCluster(t, active)
	if active.Epoch != joined.Epoch+1 {
		t.Fatalf("epoch %d -> %d", joined.Epoch, active.Epoch)
	}
	direct, err := membership.AddNode(c, node("n4", "z1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := count(active.Next, "n4"), count(direct.Next, "n4"); got != want || got == 0 {
		t.Fatalf("activated node is planned %d of 64 partitions, want %d as if added active", got, want)
	}
	for p := range active.Next {
		if active.Next[p] != joined.Owners[p] && active.Next[p] != "n4" {
			t.Fatalf("activation planned partition %d %s -> %s", p, joined.Owners[p], active.Next[p])
		}
	}
	active = commit(t, active)
	// A later AddNode then moves partitions only to the node it adds.
	more, err := membership.AddNode(active, node("n5", "z2"))
	if err != nil {
		t.Fatal(err)
	}
	for p := range more.Next {
		if more.Next[p] != active.Owners[p] && more.Next[p] != "n5" {
			t.Fatalf("adding n5 planned partition %d %s -> %s", p, active.Owners[p], more.Next[p])
		}
	}
}

func TestSetFault(t *testing.T) {
	c := mustBootstrapForFaults(t)
	next, err := membership.SetFault(c, "n1", kv.FaultMode{Kind: "slow", LatencyMs: 50})
	if err != nil || next.Epoch != c.Epoch+1 || next.Faults["n1"].LatencyMs != 50 {
		t.Fatalf("set: %+v %v", next.Faults, err)
	}
	if c.Faults != nil {
		t.Fatal("SetFault modified its input")
	}
	cleared, err := membership.SetFault(next, "n1", kv.FaultMode{})
	if err != nil || cleared.Faults != nil || cleared.Epoch != next.Epoch+1 {
		t.Fatalf("clear: %+v %v", cleared.Faults, err)
	}
	if _, err := membership.SetFault(c, "ghost", kv.FaultMode{Kind: "down"}); !errors.Is(err, kv.ErrNoNode) {
		t.Fatalf("unknown node: %v", err)
	}
	if _, err := membership.SetFault(c, "n1", kv.FaultMode{Kind: "errors", Rate: 2}); err == nil {
		t.Fatal("invalid mode accepted")
	}
}

func mustBootstrapForFaults(t *testing.T) kv.Cluster {
	t.Helper()
	var nodes []kv.Node
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes = append(nodes, kv.Node{ID: id, Zone: id, Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 8
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRotateContextKey(t *testing.T) {
	c, err := membership.Bootstrap(kv.DefaultParams(), []kv.Node{{ID: "n1", Zone: "a", Weight: 1, Location: kv.Location{Bucket: "b"}}})
	if err != nil || c.ContextKeys == nil || c.ContextKeys.Validate() != nil {
		t.Fatalf("bootstrap keys: %+v %v", c.ContextKeys, err)
	}
	first := c.ContextKeys.Current
	now := time.UnixMilli(1_800_000_000_000)
	next, err := membership.RotateContextKey(c, bytes.Repeat([]byte{7}, kv.MinContextSecret), now)
	if err != nil {
		t.Fatal(err)
	}
	k := next.ContextKeys
	if next.Epoch != c.Epoch+1 || k.Current.ID != first.ID+1 || k.Previous == nil || k.Previous.ID != first.ID || k.Current.Created != now.UnixMilli() {
		t.Fatalf("rotated keys: %+v", k)
	}
	if c.ContextKeys.Current.ID != first.ID {
		t.Fatal("rotation changed its input")
	}
	if _, err := membership.RotateContextKey(c, []byte("short"), now); err == nil {
		t.Fatal("a short secret was accepted")
	}
}
