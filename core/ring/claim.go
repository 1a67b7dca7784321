package ring

import (
	"cmp"
	"container/heap"
	"fmt"
	"math/bits"
	"slices"
)

// Claim computes the owners of q partitions (owners[p] is a node ID) for the
// given nodes, starting from the previous owners prev (nil or empty for a new
// ring; otherwise len(prev) must be q).
//
// Contract:
//   - Balance: node i owns target(i) partitions, where target(i) is its exact
//     fair share q*w(i)/sum(w) rounded down or up, so every count is within
//     one of the exact share and the counts sum to q. Which nodes are rounded
//     up is chosen to minimise movement (nodes already holding the rounded-up
//     count keep it), then by largest fractional part, then by ID.
//   - Minimal movement: a partition changes owner only if its previous owner
//     is not in nodes (or prev names no owner) or the previous owner holds more
//     than its target, and it only moves to a node holding fewer than its
//     target. So the number of moved partitions is exactly the number of
//     orphaned partitions plus the total excess over target. With equal
//     weights, adding a node to a claimed ring moves partitions only to it
//     (exactly its target, floor or ceil of q/(S+1)), and removing one moves
//     only its partitions. With unequal weights this holds except when the
//     rounding of the new shares forces an unchanged node down by one
//     partition (rare; see TestClaimWeightedRoundingCorner).
//   - Spread: freed partitions are chosen evenly around each donor's holdings,
//     avoiding partitions next to other freed partitions, and each freed
//     partition goes (in ring order) to the receiver that is furthest behind
//     its proportional schedule among those that own neither neighbouring
//     partition when one exists. For a new ring this interleaves the owners
//     round-robin in proportion to weight, so consecutive partitions almost
//     always have distinct owners. Zones are not considered here; Walk makes
//     preference lists zone-diverse.
//   - Determinism: the result depends only on q, the set of nodes (not their
//     order in the slice) and prev.
//
// Errors (wrapping ErrBadConfig or ErrDuplicateNode): q not a power of two in
// [1, MaxQ], no nodes, an empty node ID, a weight outside [1, MaxWeight], a
// repeated node ID, or 0 < len(prev) != q. prev may name nodes that are not in
// nodes (departed nodes); their partitions are reassigned.
//
// Cost: O(q log(len(nodes)) + len(nodes) log(len(nodes))) time, O(q + len(nodes))
// memory.
func Claim(q int, nodes []Node, prev []string) ([]string, error) {
	return ClaimN(q, DefaultReplicas, nodes, prev)
}

// DefaultReplicas is the replica count Claim balances replica load for: the
// cluster default N=3. ClaimN takes the cluster's N.
const DefaultReplicas = 3

// ClaimN is Claim balancing the partition replicas each node holds for n
// replicas per key (the n primaries of the zone-diverse walk), not only the
// partitions it owns.
//
// After the partition claim, when the ring has at least 32 partitions per
// node and some owning node holds more than 4% more or
// fewer replicas than its ideal (its zone's replica total split by weight
// among the zone's owning nodes, none above Q), ClaimN swaps the owners of
// pairs of partitions until every node is within 2% or no candidate swap
// helps. Every swap keeps every partition count, so the balance contract
// holds unchanged:
//   - For a new ring (no prev), swaps are between two nodes of the same zone,
//     so the ring's sequence of zones, and each zone's replica total, stay.
//   - With prev, swaps only change which partitions move, never how many move
//     from which node to which: a partition that moved from a to b goes back
//     to a while another of a's partitions moves to b instead. So the
//     movement contract above holds exactly (a join still moves partitions
//     only to the joiner, exactly its share).
//
// n <= 0 disables replica balancing.
//
// Across zones the walk, not the claim, fixes the split: with N=3 over three
// zones each zone holds one replica of every key, so a zone with fewer nodes
// holds more per node. Ideal is per zone for that reason.
func ClaimN(q, n int, nodes []Node, prev []string) ([]string, error) {
	if err := checkQ(q); err != nil {
		return nil, fmt.Errorf("ring: claim: %w", err)
	}
	sorted, err := checkNodes(nodes)
	if err != nil {
		return nil, fmt.Errorf("ring: claim: %w", err)
	}
	if len(prev) != 0 && len(prev) != q {
		return nil, fmt.Errorf("ring: claim: len(prev)=%d, want 0 or q=%d: %w", len(prev), q, ErrBadConfig)
	}

	index := make(map[string]int, len(sorted))
	for i, n := range sorted {
		index[n.ID] = i
	}
	c := &claimState{
		q:     q,
		owner: make([]int, q),
		cur:   make([]int, len(sorted)),
	}
	for p := range c.owner {
		c.owner[p] = -1
		if len(prev) == 0 {
			continue
		}
		if i, ok := index[prev[p]]; ok {
			c.owner[p] = i
			c.cur[i]++
		}
	}
	c.target = targets(q, sorted, c.cur)
	var before []int
	if len(prev) != 0 {
		before = slices.Clone(c.owner)
	}
	c.release()
	c.assign()
	balanceReplicas(q, n, sorted, c.owner, before)

	owners := make([]string, q)
	for p, i := range c.owner {
		owners[p] = sorted[i].ID
	}
	return owners, nil
}

// targets returns each node's partition count: floor or ceil of its exact
// share q*w/sum(w), summing to q. The ceil slots go first to nodes already
// holding more than the floor (keeping them saves a move), then to the rest;
// within each group by larger fractional part, then by position (nodes are
// sorted by ID).
func targets(q int, nodes []Node, cur []int) []int {
	var total int64
	for _, n := range nodes {
		total += int64(n.Weight)
	}
	t := make([]int, len(nodes))
	rem := make([]int64, len(nodes))
	left := q
	var cand []int
	for i, n := range nodes {
		num := int64(q) * int64(n.Weight)
		t[i] = int(num / total)
		rem[i] = num % total
		left -= t[i]
		if rem[i] > 0 {
			cand = append(cand, i)
		}
	}
	tier := func(i int) int {
		if cur[i] > t[i] {
			return 0
		}
		return 1
	}
	slices.SortFunc(cand, func(a, b int) int {
		if c := cmp.Compare(tier(a), tier(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(rem[b], rem[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	// The fractional parts sum to exactly left, and each is < 1, so
	// left < len(cand) whenever left > 0.
	for _, i := range cand[:left] {
		t[i]++
	}
	return t
}

// claimState is Claim's working state. Nodes are indexes into the sorted node
// slice; owner[p] == -1 marks a free partition.
type claimState struct {
	q      int
	owner  []int
	cur    []int // partitions held before the claim
	target []int
}

func (c *claimState) prev(p int) int { return (p - 1 + c.q) % c.q }
func (c *claimState) next(p int) int { return (p + 1) % c.q }

// release frees, on every node above its target, exactly its excess, picking
// partitions evenly spaced over its holdings and, within each spacing window,
// preferring partitions whose neighbours are neither free nor held by a
// receiving node (so the receivers do not end up with adjacent partitions).
func (c *claimState) release() {
	held := make([][]int, len(c.cur))
	for p, i := range c.owner {
		if i >= 0 && c.cur[i] > c.target[i] {
			held[i] = append(held[i], p)
		}
	}
	receiving := func(p int) bool {
		i := c.owner[p]
		return i < 0 || c.cur[i] < c.target[i]
	}
	good := func(p int) bool {
		return c.owner[p] >= 0 && !receiving(c.prev(p)) && !receiving(c.next(p))
	}
	for i, ps := range held {
		m, e := len(ps), c.cur[i]-c.target[i]
		if e <= 0 {
			continue
		}
		half := m / (2 * e)
		for j := range e {
			ideal := (2*j + 1) * m / (2 * e)
			pick := -1
			for off := 0; off <= half && pick < 0; off++ {
				for _, k := range [2]int{ideal + off, ideal - off} {
					if k >= 0 && k < m && good(ps[k]) {
						pick = k
						break
					}
				}
			}
			// No good candidate nearby: take the nearest still-held one. One
			// exists because fewer than e <= m partitions were freed so far.
			for off := 0; pick < 0; off++ {
				for _, k := range [2]int{ideal + off, ideal - off} {
					if k >= 0 && k < m && c.owner[ps[k]] >= 0 {
						pick = k
						break
					}
				}
			}
			c.owner[ps[pick]] = -1
		}
	}
}

// assign gives every free partition, in ring order, to a node below its
// target. Receivers are scheduled by virtual time (received+phase)/deficit,
// which interleaves them in proportion to their deficits (phases staggered by
// rank so equal receivers alternate); a receiver owning a neighbouring
// partition is skipped when another receiver is available.
func (c *claimState) assign() {
	var h recvHeap
	for i := range c.cur {
		if d := c.target[i] - c.cur[i]; d > 0 {
			h = append(h, &receiver{node: i, deficit: uint64(d)})
		}
	}
	r := uint64(len(h))
	for rank, rv := range h {
		rv.phase = 2*uint64(rank) + 1
		rv.scale = 2 * r
	}
	heap.Init(&h)
	var popped []*receiver
	for p, i := range c.owner {
		if i >= 0 {
			continue
		}
		// The free partitions' count equals the total deficit, so the heap is
		// not empty here. At most two receivers own a neighbour, so at most
		// three pops find an acceptable one if it exists.
		popped = popped[:0]
		var chosen *receiver
		for len(h) > 0 && len(popped) < 3 {
			rv := heap.Pop(&h).(*receiver)
			popped = append(popped, rv)
			if c.owner[c.prev(p)] != rv.node && c.owner[c.next(p)] != rv.node {
				chosen = rv
				break
			}
		}
		if chosen == nil {
			chosen = popped[0]
		}
		c.owner[p] = chosen.node
		chosen.got++
		for _, rv := range popped {
			if rv.got < rv.deficit {
				heap.Push(&h, rv)
			}
		}
	}
}

// receiver is one node below its target during assign.
type receiver struct {
	node    int
	deficit uint64 // partitions still owed at the start of assign
	got     uint64 // partitions given so far
	phase   uint64 // stagger numerator, 2*rank+1
	scale   uint64 // stagger denominator, 2*number of receivers
}

// before reports whether a's next virtual time (got+phase/scale)/deficit is
// earlier than b's, ties broken by node index. Exact 128-bit arithmetic.
func (a *receiver) before(b *receiver) bool {
	an := a.got*a.scale + a.phase
	bn := b.got*b.scale + b.phase
	ahi, alo := bits.Mul64(an, b.deficit)
	bhi, blo := bits.Mul64(bn, a.deficit)
	if ahi != bhi {
		return ahi < bhi
	}
	if alo != blo {
		return alo < blo
	}
	return a.node < b.node
}

// recvHeap is a min-heap of receivers by virtual time.
type recvHeap []*receiver

func (h recvHeap) Len() int           { return len(h) }
func (h recvHeap) Less(i, j int) bool { return h[i].before(h[j]) }
func (h recvHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *recvHeap) Push(x any)        { *h = append(*h, x.(*receiver)) }
func (h *recvHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
