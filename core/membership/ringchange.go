package membership

import (
	"fmt"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/ring"
)

// CommitAt is Commit at time now: besides switching Owners to Next, it
// records in the cluster a cleanup (kv.Cleanup) for every node that loses
// partitions, with the commit time, and retires the nodes that leave (so a
// node added again under the same id gets a fresh incarnation and location).
// A node that regains a partition it still had a cleanup of keeps its copy as
// live data (no key of the partition was reaped meanwhile: reaping waits for
// cleanups), so that partition is dropped from its cleanup.
func CommitAt(c kv.Cluster, now time.Time) (kv.Cluster, error) {
	if c.Next == nil {
		return kv.Cluster{}, ErrNoPlan
	}
	before, err := ringOf(c, c.Owners)
	if err != nil {
		return kv.Cluster{}, err
	}
	after, err := ringOf(c, c.Next)
	if err != nil {
		return kv.Cluster{}, err
	}
	n := c.Params.N
	lost := map[string][]int{}
	var order []string
	nowPrimary := make([][]string, c.Params.Q)
	for p := 0; p < c.Params.Q; p++ {
		was := before.PrimariesOfPartition(p, n)
		is := after.PrimariesOfPartition(p, n)
		nowPrimary[p] = is
		for _, id := range was {
			if !slices.Contains(is, id) {
				if _, ok := lost[id]; !ok {
					order = append(order, id)
				}
				lost[id] = append(lost[id], p)
			}
		}
	}
	out, err := Commit(c)
	if err != nil {
		return kv.Cluster{}, err
	}
	out.Change = nil
	ms := now.UnixMilli()
	if now.IsZero() {
		ms = 0
	}
	// Existing cleanups: drop the partitions their node serves again (the
	// same storage: a node added again under the id of one that left has a
	// location of its own, and does not serve the old one's copies).
	var cls []kv.Cleanup
	for _, cl := range c.Cleanups {
		cl.Partitions = slices.DeleteFunc(slices.Clone(cl.Partitions), func(p int) bool {
			n, err := out.Node(cl.Node.ID)
			return !cl.Departed && err == nil && n.Location == cl.Node.Location && slices.Contains(nowPrimary[p], cl.Node.ID)
		})
		if len(cl.Partitions) > 0 {
			cls = append(cls, cl)
		}
	}
	for _, id := range order {
		node, err := c.Node(id)
		if err != nil {
			return kv.Cluster{}, fmt.Errorf("membership: commit: %w", err)
		}
		_, gone := out.Node(id)
		cls = addCleanup(cls, kv.Cleanup{Node: node, Partitions: lost[id], Committed: ms, Departed: gone != nil})
	}
	out.Cleanups = cls
	// Retire the nodes that left.
	for _, nd := range c.Nodes {
		if _, err := out.Node(nd.ID); err == nil {
			continue
		}
		out.Retired = retire(out.Retired, nd)
	}
	return out, nil
}

// retire records that node n left, with its incarnation.
func retire(rs []kv.Retired, n kv.Node) []kv.Retired {
	rs = slices.Clone(rs)
	for i := range rs {
		if rs[i].ID == n.ID {
			rs[i].Incarnation = max(rs[i].Incarnation, n.Incarnation)
			return rs
		}
	}
	return append(rs, kv.Retired{ID: n.ID, Incarnation: n.Incarnation})
}

// reincarnate gives a node added under the id of one that left (retired, or
// still being cleaned up) a later incarnation and a location of its own
// (prefix "<prefix>i<incarnation>/"), so it starts empty: the old node's
// copies are reached only through its cleanup, which merges them into the
// current owners.
func reincarnate(c kv.Cluster, n kv.Node) kv.Node {
	var last uint64
	for _, r := range c.Retired {
		if r.ID == n.ID {
			last = max(last, r.Incarnation)
		}
	}
	for _, cl := range c.Cleanups {
		if cl.Node.ID == n.ID {
			last = max(last, cl.Node.Incarnation)
		}
	}
	if last == 0 {
		return n
	}
	n.Incarnation = max(n.Incarnation, last+1)
	n.Location.Prefix = fmt.Sprintf("%si%d/", n.Location.Prefix, n.Incarnation)
	return n
}

// addCleanup returns cls with cl added: merged into the entry of the same
// storage (node id and location) and kind (departed or not), whose
// partitions it joins and whose commit time becomes the later one; or
// appended. An entry of another location is never replaced: a node added
// again under the id of one that left, and removed again, has two clean-ups,
// one per location (issue 22, defect 3).
func addCleanup(cls []kv.Cleanup, cl kv.Cleanup) []kv.Cleanup {
	i := slices.IndexFunc(cls, func(o kv.Cleanup) bool { return sameCleanup(o, cl.Node.ID, cl.Node.Location, cl.Departed) })
	if i < 0 {
		return append(cls, cl)
	}
	cls = slices.Clone(cls)
	cl.Partitions = union(cls[i].Partitions, cl.Partitions)
	cl.Committed = max(cl.Committed, cls[i].Committed)
	cl.Node.Incarnation = max(cl.Node.Incarnation, cls[i].Node.Incarnation)
	cls[i] = cl
	return cls
}

func sameCleanup(cl kv.Cleanup, id string, loc kv.Location, departed bool) bool {
	return cl.Node.ID == id && cl.Node.Location == loc && cl.Departed == departed
}

// strandedCleanups returns next's cleanups plus one for every copy prev's
// plan may have put on a node that is not a primary under the owners: each
// partition's primaries under prev.Next that are not its primaries under
// prev.Owners (transfers filled them, coordinators forwarded writes to
// them). Like the cleanups of a commit they are committed at now; a node
// the re-plan dropped from the cluster gets a departed one.
func strandedCleanups(prev, next kv.Cluster, now time.Time) ([]kv.Cleanup, error) {
	before, err := ringOf(prev, prev.Owners)
	if err != nil {
		return nil, err
	}
	planned, err := ringOf(prev, prev.Next)
	if err != nil {
		return nil, err
	}
	ms := now.UnixMilli()
	if now.IsZero() {
		ms = 0
	}
	got := map[string][]int{}
	var order []string
	for p := 0; p < prev.Params.Q; p++ {
		was := before.PrimariesOfPartition(p, prev.Params.N)
		for _, id := range planned.PrimariesOfPartition(p, prev.Params.N) {
			if slices.Contains(was, id) {
				continue
			}
			if _, ok := got[id]; !ok {
				order = append(order, id)
			}
			got[id] = append(got[id], p)
		}
	}
	cls := slices.Clone(next.Cleanups)
	for _, id := range order {
		node, err := prev.Node(id)
		if err != nil {
			return nil, fmt.Errorf("membership: re-plan: %w", err)
		}
		_, gone := next.Node(id)
		cls = addCleanup(cls, kv.Cleanup{Node: node, Partitions: got[id], Committed: ms, Departed: gone != nil})
	}
	return cls, nil
}

// ClearCleanup returns c with partitions ps of the cleanup of node id at
// location loc done (removed; the entry goes when empty). It does not
// change the epoch.
func ClearCleanup(c kv.Cluster, id string, loc kv.Location, departed bool, ps []int) kv.Cluster {
	out := clone(c)
	var cls []kv.Cleanup
	for _, cl := range c.Cleanups {
		if sameCleanup(cl, id, loc, departed) {
			cl.Partitions = slices.DeleteFunc(slices.Clone(cl.Partitions), func(p int) bool { return slices.Contains(ps, p) })
			if len(cl.Partitions) == 0 {
				continue
			}
		}
		cls = append(cls, cl)
	}
	out.Cleanups = cls
	return out
}

func union(a, b []int) []int {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func ringOf(c kv.Cluster, owners []string) (*ring.Ring, error) {
	rn := make([]ring.Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
	}
	r, err := ring.New(c.Params.Q, rn, owners)
	if err != nil {
		return nil, fmt.Errorf("membership: cluster epoch %d: %w", c.Epoch, err)
	}
	return r, nil
}
