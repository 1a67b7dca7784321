package membership

import (
	"errors"
	"fmt"

	"github.com/cartwheel/cartwheel/core/kv"
)

// ErrStillMember is returned by ForgetCleanups for a node that is still in
// the cluster: remove it and commit the removal first.
var ErrStillMember = errors.New("membership: node is still a member")

// ErrNoCleanup is returned by ForgetCleanups when no clean-up of a departed
// node of that id is pending.
var ErrNoCleanup = errors.New("membership: no pending clean-up of a departed node")

// ForgetCleanups returns c without the pending clean-ups of node id that
// departed (kv.Cleanup.Departed), and how many partitions they held. It is
// the operator's escape hatch for a departed node whose storage is gone for
// good (bucket deleted, region lost): the repair job can never list it, so
// its clean-up never finishes and no key of those partitions is ever reaped.
// Forgetting gives up on merging its copies, and delivering its hinted
// replicas, into the current owners: a write whose only copies were on that
// storage is lost.
//
// Only a departed node's clean-ups go: all of them, those recorded when it
// left and those of partitions it lost while still a member (the same
// storage). A node that is still a member is refused with ErrStillMember
// (even its clean-ups of partitions it lost while staying a member, which
// its own storage still serves); a node with no clean-up with ErrNoCleanup. Every other clean-up, and every other field,
// is kept; the node stays retired (kv.Cluster.Retired, with the clean-up's
// incarnation), so an id reused later still starts from a fresh location.
// Like ClearCleanup it does not change the epoch: the caller's conditional
// save sets it.
func ForgetCleanups(c kv.Cluster, id string) (kv.Cluster, int, error) {
	if _, err := c.Node(id); err == nil {
		return kv.Cluster{}, 0, fmt.Errorf("forget clean-ups of %s: %w", id, ErrStillMember)
	}
	out := clone(c)
	var cls []kv.Cleanup
	var dropped []int
	for _, cl := range c.Cleanups {
		// Every clean-up of the storage goes, also one recorded while the
		// node was still a member (it lost partitions then, and left later):
		// kept, it could never finish, and would block reaping for ever.
		if cl.Node.ID == id {
			dropped = union(dropped, cl.Partitions)
			out.Retired = retire(out.Retired, cl.Node)
			continue
		}
		cls = append(cls, cl)
	}
	if len(cls) == len(c.Cleanups) {
		return kv.Cluster{}, 0, fmt.Errorf("forget clean-ups of %s: %w", id, ErrNoCleanup)
	}
	out.Cleanups = cls
	if len(out.Cleanups) == 0 {
		out.Cleanups = nil
	}
	return out, len(dropped), nil
}
