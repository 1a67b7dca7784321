package membership

import (
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// CancelPlanAt returns c without its pending ring change (like riak-admin
// "cluster clear"), at time now. Owners stay as they are; Next and the
// transfer progress are dropped. Leaving nodes become active again; nodes
// the plan added (owning nothing under Owners) leave and are retired, so one
// added again under the same id starts on a fresh location.
//
// It is the plan's commit in reverse: CommitAt from Next back to Owners. So
// every copy the plan may have put on a node that is not a primary under
// Owners (transfers done, writes forwarded to pending owners) gets a cleanup
// with time now, and is merged into the owners and deleted like the copies a
// commit leaves; none is left to be merged back into the ring later, where it
// could resurrect a key deleted and reaped meanwhile. Nothing acknowledged is
// lost: while the plan was pending, the owners remained every key's
// primaries. It returns ErrNoPlan if no change is pending.
func CancelPlanAt(c kv.Cluster, now time.Time) (kv.Cluster, error) {
	if c.Next == nil {
		return kv.Cluster{}, ErrNoPlan
	}
	rev := clone(c)
	rev.Owners, rev.Next, rev.Change = c.Next, slices.Clone(c.Owners), nil
	for i := range rev.Nodes {
		n := &rev.Nodes[i]
		switch {
		case n.State == kv.StateLeaving:
			n.State = kv.StateActive
		case !slices.Contains(c.Owners, n.ID) && slices.Contains(c.Next, n.ID):
			n.State = kv.StateLeaving // added by the plan: leaves with it
		}
	}
	out, err := CommitAt(rev, now)
	if err != nil {
		return kv.Cluster{}, err
	}
	out.Epoch, out.RingEpoch = c.Epoch+1, c.RingEpoch+1
	return out, nil
}
