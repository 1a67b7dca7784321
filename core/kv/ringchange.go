package kv

import "slices"

// RingChange is the durable progress of the pending ring change (Cluster.Next):
// which moving partitions have been transferred, and which were written
// since they were. It lives in the membership record, so any process can
// resume the transfers and decide the commit; it is reset whenever the plan
// changes (membership's replan) and dropped at the commit.
type RingChange struct {
	// Seen is when a repair process first saw the plan (Unix ms): transfers
	// start PlanSettle after it, once every coordinator writes to the
	// pending owners too.
	Seen int64 `json:"seen"`
	// Done lists, sorted, the moving partitions whose data has been copied to
	// their pending owners.
	Done []int `json:"done,omitempty"`
	// Marks are partitions written after a transfer could have listed them
	// without the write reaching every pending owner (a coordinator's forward
	// failed): each with the epoch of the record that recorded it. A transfer
	// that loaded an earlier epoch must not mark such a partition done.
	Marks []WriteMark `json:"marks,omitempty"`
}

// WriteMark records that partition P was written, not reaching every pending
// owner, in the record of epoch Epoch.
type WriteMark struct {
	P     int    `json:"p"`
	Epoch uint64 `json:"epoch"`
}

// IsDone reports whether partition p is marked transferred.
func (rc *RingChange) IsDone(p int) bool {
	if rc == nil {
		return false
	}
	_, ok := slices.BinarySearch(rc.Done, p)
	return ok
}

// MarkedAfter reports whether partition p was marked written in a record of
// an epoch after epoch.
func (rc *RingChange) MarkedAfter(p int, epoch uint64) bool {
	if rc == nil {
		return false
	}
	for _, m := range rc.Marks {
		if m.P == p && m.Epoch > epoch {
			return true
		}
	}
	return false
}

// Cleanup is a node's copies of partitions it no longer serves after a
// commit, still to be merged into the partitions' current owners and then
// deleted. It holds the whole node (location included), because a node that
// left the cluster is no longer in Cluster.Nodes. While a cleanup of a
// partition is pending, no key of the partition is reaped, so merging an old
// copy can never bring back a reaped key.
type Cleanup struct {
	// Node is the node holding the copies, as it was at the commit.
	Node Node `json:"node"`
	// Partitions lists, sorted, the partitions to clean.
	Partitions []int `json:"partitions"`
	// Committed is when the commit happened (Unix ms): the copies are merged
	// and deleted only once every coordinator's view has the commit.
	Committed int64 `json:"committed"`
	// Departed: the node left the cluster in the commit; its hinted replicas
	// are delivered too, and once it is clean it is forgotten.
	Departed bool `json:"departed,omitempty"`
}

// Retired is a node id that left the cluster and the last incarnation it had:
// a node added again under that id gets a later incarnation and a fresh
// storage location, so it never serves the old one's leftovers.
type Retired struct {
	ID          string `json:"id"`
	Incarnation uint64 `json:"incarnation"`
}

// CleaningPartition reports whether a cleanup of partition p is pending.
func (c Cluster) CleaningPartition(p int) bool {
	for _, cl := range c.Cleanups {
		if _, ok := slices.BinarySearch(cl.Partitions, p); ok {
			return true
		}
	}
	return false
}

// DepartedNodes returns every storage of node id that left the cluster and
// still has copies to clean: more than one when the id was added again and
// removed again before the first clean-up finished.
func (c Cluster) DepartedNodes(id string) []Node {
	var out []Node
	for _, cl := range c.Cleanups {
		if cl.Node.ID == id && cl.Departed && !slices.ContainsFunc(out, func(n Node) bool { return n.Location == cl.Node.Location }) {
			out = append(out, cl.Node)
		}
	}
	return out
}

// Departed returns the node id that left the cluster but still has copies
// to clean, if any.
func (c Cluster) Departed(id string) (Node, bool) {
	for _, cl := range c.Cleanups {
		if cl.Node.ID == id && cl.Departed {
			return cl.Node, true
		}
	}
	return Node{}, false
}
