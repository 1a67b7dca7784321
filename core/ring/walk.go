package ring

import (
	"fmt"
	"slices"
)

// Ring is an immutable assignment of Q partitions to nodes. It is safe for
// concurrent use; no method mutates it.
type Ring struct {
	q      int
	nodes  []Node         // sorted by ID
	index  map[string]int // ID -> position in nodes
	owners []string       // owners[p] = node ID
	own    []int32        // own[p] = index of owners[p] in nodes
	zone   []int32        // zone[i] = zone number of nodes[i]
	// zoneOwners[z] is the number of nodes in zone z owning >= 1 partition.
	zoneOwners []int
	// owning is the number of nodes owning >= 1 partition.
	owning int
}

// New validates and builds a Ring over q partitions, where owners[p] is the ID
// of the node owning partition p (typically the result of Claim).
//
// Errors: q not a power of two in [1, MaxQ], len(owners) != q, no nodes, an
// empty ID or a weight outside [1, MaxWeight] (ErrBadConfig); a repeated node
// ID (ErrDuplicateNode); an owner that is not among nodes (ErrUnknownNode).
// Nodes that own no partition are allowed; they never appear in Walk.
// New copies its arguments.
func New(q int, nodes []Node, owners []string) (*Ring, error) {
	if err := checkQ(q); err != nil {
		return nil, fmt.Errorf("ring: new: %w", err)
	}
	if len(owners) != q {
		return nil, fmt.Errorf("ring: new: len(owners)=%d, want q=%d: %w", len(owners), q, ErrBadConfig)
	}
	sorted, err := checkNodes(nodes)
	if err != nil {
		return nil, fmt.Errorf("ring: new: %w", err)
	}
	r := &Ring{
		q:      q,
		nodes:  sorted,
		index:  make(map[string]int, len(sorted)),
		owners: slices.Clone(owners),
		own:    make([]int32, q),
		zone:   make([]int32, len(sorted)),
	}
	zones := make(map[string]int32)
	for i, n := range sorted {
		r.index[n.ID] = i
		z, ok := zones[n.Zone]
		if !ok {
			z = int32(len(zones))
			zones[n.Zone] = z
		}
		r.zone[i] = z
	}
	r.zoneOwners = make([]int, len(zones))
	owns := make([]bool, len(sorted))
	for p, id := range owners {
		i, ok := r.index[id]
		if !ok {
			return nil, fmt.Errorf("ring: new: partition %d owner %q: %w", p, id, ErrUnknownNode)
		}
		r.own[p] = int32(i)
		if !owns[i] {
			owns[i] = true
			r.owning++
			r.zoneOwners[r.zone[i]]++
		}
	}
	return r, nil
}

// Q returns the number of partitions.
func (r *Ring) Q() int { return r.q }

// Nodes returns a copy of the ring's nodes, sorted by ID.
func (r *Ring) Nodes() []Node { return slices.Clone(r.nodes) }

// Owners returns a copy of the owners slice: element p is partition p's owner.
func (r *Ring) Owners() []string { return slices.Clone(r.owners) }

// Owner returns the ID of partition p's owner. It panics unless 0 <= p < Q().
func (r *Ring) Owner(p int) string { return r.owners[p] }

// Node returns the node with the given ID and whether it is a member.
func (r *Ring) Node(id string) (Node, bool) {
	i, ok := r.index[id]
	if !ok {
		return Node{}, false
	}
	return r.nodes[i], true
}

// Partition returns the partition holding key: PartitionOf(Q(), HashKey(key)).
func (r *Ring) Partition(key string) int {
	return PartitionOf(r.q, HashKey(key))
}

// Walk returns every node owning at least one partition, in the key's
// zone-diverse preference order (see WalkPartition).
func (r *Ring) Walk(key string) []string {
	return r.WalkPartition(r.Partition(key))
}

// WalkPartition returns every node owning at least one partition, in the
// zone-diverse preference order for partition p. Let D be the distinct owners
// met walking clockwise from p (p, p+1, ..., wrapping). The result takes, in
// passes k = 0, 1, 2, ..., in D order, every not-yet-taken node whose zone has
// exactly k taken nodes: first one node per zone in ring order, then a second
// node per zone, and so on. It panics unless 0 <= p < Q().
//
// Cost: O(Q) in the worst case (all partitions visited to find every owner).
func (r *Ring) WalkPartition(p int) []string {
	w := r.walker(p)
	return r.ids(w.prefix(r.owning))
}

// Primaries returns the first min(n, number of owning nodes) nodes of Walk(key):
// the nodes responsible for key. Nodes' liveness plays no part.
func (r *Ring) Primaries(key string, n int) []string {
	return r.PrimariesOfPartition(r.Partition(key), n)
}

// PrimariesOfPartition returns the first min(n, number of owning nodes) nodes
// of WalkPartition(p). It panics unless 0 <= p < Q().
//
// Cost: the walk stops as soon as the first n entries are certain, which for
// an interleaved ring is after visiting a few times n partitions (more when
// there are fewer zones than n).
func (r *Ring) PrimariesOfPartition(p, n int) []string {
	if n <= 0 {
		r.checkPartition(p)
		return nil
	}
	w := r.walker(p)
	order := w.prefix(n)
	return r.ids(order[:min(n, len(order))])
}

// Replica is one entry of a preference list.
type Replica struct {
	// Node is the ID of the node to contact.
	Node string
	// Primary is true when Node is one of the key's N primaries.
	Primary bool
	// StandsInFor is, for a fallback (Primary false), the ID of the down
	// primary whose replica Node holds as a hint; empty for primaries.
	StandsInFor string
}

// PreferenceList returns the nodes to contact for key with n replicas, given
// the liveness predicate up (nil means every node is up; up is called at most
// once per node).
//
// The primaries are the first n nodes of Walk(key), whatever their liveness.
// In primary order, an up primary yields Replica{Node: id, Primary: true}; a
// down primary is replaced in place by the next up node of Walk after the n
// primaries not already used, as Replica{Node: fb, StandsInFor: primary}. When
// no such node remains the slot is dropped, so the list can be shorter than n
// (also when fewer than n nodes own partitions). No node appears twice. The
// result depends only on the ring, key, n and the answers of up.
func (r *Ring) PreferenceList(key string, n int, up func(id string) bool) []Replica {
	return r.PreferenceListOfPartition(r.Partition(key), n, up)
}

// PreferenceListOfPartition is PreferenceList for partition p. It panics
// unless 0 <= p < Q().
//
// Cost: like PrimariesOfPartition when all primaries are up; each down primary
// extends the walk until enough up fallbacks are found (O(Q) at worst).
func (r *Ring) PreferenceListOfPartition(p, n int, up func(id string) bool) []Replica {
	if n <= 0 {
		r.checkPartition(p)
		return nil
	}
	if up == nil {
		up = func(string) bool { return true }
	}
	w := r.walker(p)
	order := w.prefix(n)
	np := min(n, len(order))
	out := make([]Replica, 0, np)
	down := 0
	for _, i := range order[:np] {
		if up(r.nodes[i].ID) {
			out = append(out, Replica{Node: r.nodes[i].ID, Primary: true})
		} else {
			out = append(out, Replica{StandsInFor: r.nodes[i].ID})
			down++
		}
	}
	if down == 0 {
		return out
	}
	// Collect up to down fallbacks from the walk after the primaries.
	var fallbacks []string
	for next := np; len(fallbacks) < down; next++ {
		if next >= len(order) {
			if w.done {
				break
			}
			order = w.prefix(next + down - len(fallbacks))
			if next >= len(order) {
				break
			}
		}
		if id := r.nodes[order[next]].ID; up(id) {
			fallbacks = append(fallbacks, id)
		}
	}
	kept := out[:0]
	for _, rep := range out {
		if rep.StandsInFor != "" {
			if len(fallbacks) == 0 {
				continue
			}
			rep.Node, fallbacks = fallbacks[0], fallbacks[1:]
		}
		kept = append(kept, rep)
	}
	return kept
}

// PartitionsOf returns, in increasing order, the partitions for which nodeID
// is among the n primaries: the partitions the node should hold replicas of.
// It returns nil for a node that is not a member or n <= 0.
//
// Cost: one PrimariesOfPartition per partition.
func (r *Ring) PartitionsOf(nodeID string, n int) []int {
	i, ok := r.index[nodeID]
	if !ok || n <= 0 {
		return nil
	}
	var out []int
	w := r.walker(0)
	for p := range r.q {
		w.reset(p)
		order := w.prefix(n)
		if slices.Contains(order[:min(n, len(order))], int32(i)) {
			out = append(out, p)
		}
	}
	return out
}

func (r *Ring) checkPartition(p int) {
	if p < 0 || p >= r.q {
		panic(fmt.Sprintf("ring: partition %d out of range [0, %d)", p, r.q))
	}
}

func (r *Ring) ids(order []int32) []string {
	out := make([]string, len(order))
	for k, i := range order {
		out[k] = r.nodes[i].ID
	}
	return out
}

// walker incrementally computes the zone-diverse order for one start
// partition, walking only as far as needed. reset reuses its buffers.
type walker struct {
	r    *Ring
	next int // next partition to visit
	left int // partitions not yet visited
	done bool
	// count holds, in one allocation, seen flags by node index (first
	// len(nodes) entries) and nodes met so far per zone (the rest).
	count []int32
	met   []metNode // distinct owners in ring order
	out   []int32   // buffer for prefix results
}

// metNode is one distinct owner met by the walk.
type metNode struct {
	node int32
	pass int32 // nodes of the same zone met before this one
}

func (r *Ring) walker(p int) *walker {
	w := &walker{
		r:     r,
		count: make([]int32, len(r.nodes)+len(r.zoneOwners)),
		met:   make([]metNode, 0, 8),
	}
	w.reset(p)
	return w
}

// reset restarts the walk at partition p.
func (w *walker) reset(p int) {
	w.r.checkPartition(p)
	w.next, w.left, w.done = p, w.r.q, false
	clear(w.count)
	w.met = w.met[:0]
}

// advance visits partitions until it meets a new owner or has seen them all.
func (w *walker) advance() {
	seen, nz := w.count[:len(w.r.nodes)], w.count[len(w.r.nodes):]
	for w.left > 0 {
		i := w.r.own[w.next]
		w.next++
		if w.next == w.r.q {
			w.next = 0
		}
		w.left--
		if seen[i] != 0 {
			continue
		}
		seen[i] = 1
		z := w.r.zone[i]
		w.met = append(w.met, metNode{node: i, pass: nz[z]})
		nz[z]++
		break
	}
	if w.left == 0 || len(w.met) == w.r.owning {
		w.done = true
	}
}

// settled returns the pass bound m such that every met node with pass <= m
// is certain to precede, in the final order, every node not met yet: an
// unmet node of zone z has pass >= nz[z], so m is the least nz[z] over zones
// with unmet owning nodes. It returns -1 when the walk is done (all settled).
func (w *walker) settled() int {
	if w.done {
		return -1
	}
	m := -1
	for z, n := range w.count[len(w.r.nodes):] {
		if int(n) < w.r.zoneOwners[z] && (m < 0 || int(n) < m) {
			m = int(n)
		}
	}
	return m
}

// prefix walks until at least want nodes of the final order are certain (or
// the walk is done) and returns all certain nodes in final order: by pass,
// then by ring order. The result is a prefix of the full order; it is valid
// until the next call of prefix or reset.
func (w *walker) prefix(want int) []int32 {
	m := w.settled()
	for m >= 0 {
		n := 0
		for _, e := range w.met {
			if int(e.pass) <= m {
				n++
			}
		}
		if n >= want {
			break
		}
		w.advance()
		m = w.settled()
	}
	maxPass := 0
	for _, e := range w.met {
		maxPass = max(maxPass, int(e.pass))
	}
	if m >= 0 {
		maxPass = min(maxPass, m)
	}
	// Selection by pass; stable, so ring order is kept within a pass. Passes
	// are few (at most the largest zone's node count), and so are met nodes.
	w.out = w.out[:0]
	for k := 0; k <= maxPass; k++ {
		for _, e := range w.met {
			if int(e.pass) == k {
				w.out = append(w.out, e.node)
			}
		}
	}
	return w.out
}
