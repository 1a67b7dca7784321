package membership_test

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// TestHealthVerdict: over generated clusters and probe results, a node
// changes state exactly when both probes agree against its state (active and
// both failed: down; down and both answered: active); joining and leaving
// nodes never change; the epoch rises by one exactly when something changed.
func TestHealthVerdict(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c, err := membership.Bootstrap(params(8), nodes(rapid.IntRange(1, 6).Draw(t, "nodes")))
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.Nodes {
			c.Nodes[i].State = rapid.SampledFrom([]kv.NodeState{kv.StateActive, kv.StateDown, kv.StateJoining, kv.StateLeaving}).Draw(t, "state")
		}
		first, second := map[string]bool{}, map[string]bool{}
		for _, n := range c.Nodes {
			first[n.ID] = rapid.Bool().Draw(t, "first")
			second[n.ID] = rapid.Bool().Draw(t, "second")
		}
		h, err := membership.HealthVerdict(c, first, second)
		if err != nil {
			t.Fatal(err)
		}
		changed := false
		for i, n := range c.Nodes {
			got := h.Next.Nodes[i].State
			want := n.State
			switch {
			case n.State == kv.StateActive && !first[n.ID] && !second[n.ID]:
				want = kv.StateDown
			case n.State == kv.StateDown && first[n.ID] && second[n.ID]:
				want = kv.StateActive
			}
			if got != want {
				t.Fatalf("node %s %s with probes %v/%v: %s, want %s", n.ID, n.State, first[n.ID], second[n.ID], got, want)
			}
			if slices.Contains(h.Down, n.ID) != (want == kv.StateDown && n.State != kv.StateDown) ||
				slices.Contains(h.Revived, n.ID) != (want == kv.StateActive && n.State == kv.StateDown) {
				t.Fatalf("node %s: down %v revived %v", n.ID, h.Down, h.Revived)
			}
			changed = changed || got != n.State
		}
		if h.Changed() != changed || (changed && h.Next.Epoch != c.Epoch+1) || (!changed && h.Next.Epoch != c.Epoch) {
			t.Fatalf("changed %v: epoch %d -> %d", changed, c.Epoch, h.Next.Epoch)
		}
	})
}
