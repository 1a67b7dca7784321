// Package membership holds the pure operations on the cluster description:
// bootstrapping a cluster, planning ring changes (adding, removing,
// (de)activating nodes), committing them, and changing a node's state. Each
// returns a new kv.Cluster with the next epoch; the caller saves it with a
// conditional write (kv.Membership.Save) and retries on a lost race.
//
// Ring changes are two-step, like riak's "cluster plan" and "cluster commit":
// AddNode, RemoveNode and the SetState changes that move partitions leave
// Owners as it is and set Next, the ownership after the change (nil when
// nothing moves). Keys keep their primaries under Owners while the repair job
// copies every moving partition to its new primaries and coordinators send new
// writes to both; Commit then switches Owners to Next. So a partition's data
// is copied before its ownership switches, and the switch is one conditional
// write that every coordinator sees through the membership epoch.
package membership

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/ring"
)

// planNodes are the nodes that own partitions once the pending change
// commits: active and down ones (a down node keeps its share while fallbacks
// stand in for it), not joining ones (they own nothing until activated) nor
// leaving ones (their partitions move away).
func planNodes(nodes []kv.Node) []ring.Node {
	var out []ring.Node
	for _, n := range nodes {
		if n.State == kv.StateJoining || n.State == kv.StateLeaving {
			continue
		}
		out = append(out, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
	}
	return out
}

func validateNode(n kv.Node) error {
	if !kv.ValidNodeID(n.ID) {
		return fmt.Errorf("membership: node id %q must be 1-64 chars of [A-Za-z0-9_-]", n.ID)
	}
	if n.Zone == "" {
		return fmt.Errorf("membership: node %s: zone is required", n.ID)
	}
	if n.Weight < 1 {
		return fmt.Errorf("membership: node %s: weight %d must be >= 1", n.ID, n.Weight)
	}
	if n.Location.Bucket == "" {
		return fmt.Errorf("membership: node %s: bucket is required", n.ID)
	}
	return nil
}

// Bootstrap returns the first cluster (epoch 1) of nodes with params. Its
// owners are final: there is no data to move yet, so no plan. Its context key
// (kv.ContextKeys) is drawn from crypto/rand here, once per cluster, so no
// secret is ever in the repository or in configuration.
func Bootstrap(p kv.Params, nodes []kv.Node) (kv.Cluster, error) {
	if err := p.Validate(); err != nil {
		return kv.Cluster{}, err
	}
	keys := kv.NewContextKeys(kv.NewContextSecret(), time.UnixMilli(0))
	c := kv.Cluster{Epoch: 1, RingEpoch: 1, Params: p, ContextKeys: &keys}
	for _, n := range nodes {
		if err := validateNode(n); err != nil {
			return kv.Cluster{}, err
		}
		if n.State == "" {
			n.State = kv.StateActive
		}
		if n.Incarnation == 0 {
			n.Incarnation = 1
		}
		c.Nodes = append(c.Nodes, n)
	}
	owners, err := ring.ClaimN(p.Q, p.N, planNodes(c.Nodes), nil)
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	c.Owners = owners
	return c, nil
}

// ErrNodeExists is returned by AddNode for an id that is already a member.
var ErrNodeExists = errors.New("a node with this id already exists")

// AddNode returns c with n added and a plan that rebalances partitions onto
// it (only partitions moving to n change owner): n is a member at once, but
// owns partitions only once the plan is committed (see Commit). Owners is
// unchanged; Next holds the planned owners (nil if nothing moves, as for a
// joining node). A change already pending is re-planned together with this
// one, from the current Owners.
func AddNode(c kv.Cluster, n kv.Node) (kv.Cluster, error) {
	return AddNodeAt(c, n, time.Time{})
}

// AddNodeAt is AddNode at time now: when it re-plans a pending change, the
// copies that change may have put on its pending owners get clean-ups
// committed at now (see replan).
func AddNodeAt(c kv.Cluster, n kv.Node, now time.Time) (kv.Cluster, error) {
	if err := validateNode(n); err != nil {
		return kv.Cluster{}, err
	}
	if _, err := c.Node(n.ID); err == nil {
		return kv.Cluster{}, fmt.Errorf("membership: node %s: %w", n.ID, ErrNodeExists)
	}
	if n.State == "" {
		n.State = kv.StateActive
	}
	if n.Incarnation == 0 {
		n.Incarnation = 1
	}
	n = reincarnate(c, n)
	out := clone(c)
	out.Nodes = append(out.Nodes, n)
	return replan(c, out, now)
}

// RemoveNode plans the departure of node id: it becomes Leaving and Next
// moves its partitions to the others (only its partitions move). It keeps
// serving them until the plan is committed; Commit then removes it. A node
// that owns nothing now nor in the plan (e.g. added but never committed, or
// joining) is removed at once.
func RemoveNode(c kv.Cluster, id string) (kv.Cluster, error) {
	return RemoveNodeAt(c, id, time.Time{})
}

// RemoveNodeAt is RemoveNode at time now (see AddNodeAt).
func RemoveNodeAt(c kv.Cluster, id string, now time.Time) (kv.Cluster, error) {
	if _, err := c.Node(id); err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	out := clone(c)
	staying := 0
	for i := range out.Nodes {
		if out.Nodes[i].ID == id {
			out.Nodes[i].State = kv.StateLeaving
		} else if out.Nodes[i].State != kv.StateLeaving {
			staying++
		}
	}
	if staying == 0 {
		return kv.Cluster{}, fmt.Errorf("membership: cannot remove the last node")
	}
	return replan(c, out, now)
}

// SetState returns c with node id in state s. Down and Active only record
// the health verdict: no partitions move (a down node keeps its partitions and
// fallbacks stand in for it). Changes that alter which nodes should own
// partitions are planned like AddNode and RemoveNode: activating a joining
// node plans its share, Leaving plans the node's departure (as RemoveNode), and
// making a leaving node active or down again cancels its departure.
func SetState(c kv.Cluster, id string, s kv.NodeState) (kv.Cluster, error) {
	return SetStateAt(c, id, s, time.Time{})
}

// SetStateAt is SetState at time now (see AddNodeAt).
func SetStateAt(c kv.Cluster, id string, s kv.NodeState, now time.Time) (kv.Cluster, error) {
	switch s {
	case kv.StateActive, kv.StateDown, kv.StateLeaving:
	default:
		return kv.Cluster{}, fmt.Errorf("membership: state %q cannot be set directly", s)
	}
	out := clone(c)
	for i := range out.Nodes {
		if out.Nodes[i].ID == id {
			was := out.Nodes[i].State
			out.Nodes[i].State = s
			moves := func(st kv.NodeState) bool { return st == kv.StateJoining || st == kv.StateLeaving }
			if was != s && (moves(was) || moves(s)) {
				return replan(c, out, now)
			}
			out.Epoch++
			return out, nil
		}
	}
	return kv.Cluster{}, fmt.Errorf("membership: %w: %s", kv.ErrNoNode, id)
}

// ErrNoPlan is returned by Commit when no ring change is pending.
var ErrNoPlan = errors.New("membership: no ring change is pending")

// Commit switches ownership to the pending plan: Owners = Next, Next = nil,
// and leaving nodes that now own nothing are removed. It records no
// cleanups: the repair job commits with CommitAt. Call it only once every
// moving partition has been copied to its new primaries (the repair job's
// transfers do that and then commit). It returns ErrNoPlan if none is pending.
func Commit(c kv.Cluster) (kv.Cluster, error) {
	if c.Next == nil {
		return kv.Cluster{}, ErrNoPlan
	}
	out := clone(c)
	out.Owners, out.Next, out.Change = out.Next, nil, nil
	out.Nodes = dropDeparted(out)
	out.Epoch = c.Epoch + 1
	out.RingEpoch = c.RingEpoch + 1
	return out, nil
}

// BumpIncarnation returns c with node id's incarnation increased: do this when a
// node's storage is wiped or replaced, so it never reuses old actor ids.
func BumpIncarnation(c kv.Cluster, id string) (kv.Cluster, error) {
	out := clone(c)
	for i := range out.Nodes {
		if out.Nodes[i].ID == id {
			out.Nodes[i].Incarnation++
			out.Epoch++
			return out, nil
		}
	}
	return kv.Cluster{}, fmt.Errorf("membership: %w: %s", kv.ErrNoNode, id)
}

// replan recomputes next.Next from next.Owners for next's nodes (the claim
// moves as few partitions as possible from the current owners), and returns
// next with the epoch after prev's. A plan equal to the current owners is no
// plan (Next nil). Leaving nodes that own nothing now nor in the plan are
// dropped. When the plan changes, the copies the old plan may have put on
// its pending owners (transfers, forwarded writes) get clean-ups committed
// at now, as CancelPlanAt records them: none is left to be merged back by a
// later plan after its keys were deleted and reaped (issue 22).
func replan(prev, next kv.Cluster, now time.Time) (kv.Cluster, error) {
	owners, err := ring.ClaimN(next.Params.Q, next.Params.N, planNodes(next.Nodes), next.Owners)
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	next.Next = owners
	if slices.Equal(owners, next.Owners) {
		next.Next = nil
	}
	if !slices.Equal(next.Next, prev.Next) {
		next.Change = nil // a new plan: its transfers start over
	}
	all := slices.Clone(next.Nodes)
	kept := dropDeparted(next)
	for _, n := range all {
		if !slices.ContainsFunc(kept, func(k kv.Node) bool { return k.ID == n.ID }) {
			next.Retired = retire(next.Retired, n) // its location may hold forwarded writes
		}
	}
	next.Nodes = kept
	if prev.Next != nil && !slices.Equal(next.Next, prev.Next) {
		cls, err := strandedCleanups(prev, next, now)
		if err != nil {
			return kv.Cluster{}, err
		}
		next.Cleanups = cls
	}
	next.Epoch = prev.Epoch + 1
	if !slices.Equal(next.Next, prev.Next) {
		next.RingEpoch = prev.RingEpoch + 1
	}
	return next, nil
}

// dropDeparted returns c's nodes without the leaving ones that own no
// partition under Owners or Next.
func dropDeparted(c kv.Cluster) []kv.Node {
	return slices.DeleteFunc(c.Nodes, func(n kv.Node) bool {
		return n.State == kv.StateLeaving && !slices.Contains(c.Owners, n.ID) && !slices.Contains(c.Next, n.ID)
	})
}

func clone(c kv.Cluster) kv.Cluster {
	c.Nodes = slices.Clone(c.Nodes)
	c.Owners = slices.Clone(c.Owners)
	c.Next = slices.Clone(c.Next)
	if c.Change != nil {
		rc := *c.Change
		rc.Done = slices.Clone(rc.Done)
		rc.Marks = slices.Clone(rc.Marks)
		c.Change = &rc
	}
	c.Cleanups = slices.Clone(c.Cleanups)
	c.Retired = slices.Clone(c.Retired)
	return c
}

// SetFault returns c with node id's injected fault set to m (the zero mode
// clears it). No partitions move.
func SetFault(c kv.Cluster, id string, m kv.FaultMode) (kv.Cluster, error) {
	if _, err := c.Node(id); err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	if err := m.Validate(); err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	out := clone(c)
	out.Faults = make(map[string]kv.FaultMode, len(c.Faults)+1)
	for k, v := range c.Faults {
		out.Faults[k] = v
	}
	if m.Kind == "" {
		delete(out.Faults, id)
	} else {
		out.Faults[id] = m
	}
	if len(out.Faults) == 0 {
		out.Faults = nil
	}
	out.Epoch++
	return out, nil
}

// RotateContextKey returns c with a new context key made from secret (random
// bytes from the caller): new contexts are signed with it, and contexts of
// the previous key are still accepted for kv.ContextKeyGrace. A key older
// than that is dropped. No partitions move.
func RotateContextKey(c kv.Cluster, secret []byte, now time.Time) (kv.Cluster, error) {
	out := clone(c)
	keys := kv.NewContextKeys(secret, now)
	if c.ContextKeys != nil {
		keys = c.ContextKeys.Rotate(secret, now)
	}
	if err := keys.Validate(); err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	out.ContextKeys = &keys
	out.Epoch++
	return out, nil
}
