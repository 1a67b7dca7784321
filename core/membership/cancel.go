package membership

import (
	"slices"

	"github.com/cartwheel/cartwheel/core/kv"
)

// CancelPlan returns c without its pending ring change (like riak-admin
// "cluster clear"): Owners stay as they are and Next is dropped. Leaving
// nodes become active again. Nodes that own no partition under Owners (added
// by the plan) stay members as joining: they own nothing, and activating
// them plans their share again. Nothing is lost: while the plan was pending,
// every write also went to the current owners, and transfers only copy. It
// returns ErrNoPlan if no change is pending.
func CancelPlan(c kv.Cluster) (kv.Cluster, error) {
	if c.Next == nil {
		return kv.Cluster{}, ErrNoPlan
	}
	out := clone(c)
	out.Next = nil
	for i := range out.Nodes {
		n := &out.Nodes[i]
		switch {
		case n.State == kv.StateLeaving:
			n.State = kv.StateActive
		case n.State != kv.StateJoining && !slices.Contains(out.Owners, n.ID):
			n.State = kv.StateJoining
		}
	}
	out.Epoch = c.Epoch + 1
	out.RingEpoch = c.RingEpoch + 1
	return out, nil
}
