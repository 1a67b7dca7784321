package ring

import (
	"cmp"
	"slices"
)

// Replica balancing (issue 17). Claim gives every node its share of
// partitions, but a node's load is the partition replicas it holds: the
// partitions for which it is among the n primaries of the zone-diverse walk.
// How many that is depends on where its partitions sit relative to the other
// nodes of its zone (in the default cluster, a node whose partitions follow
// long runs without its zone holds more replicas). balanceReplicas evens that
// out with swaps of two partitions between two nodes of the same zone: the
// sequence of zones around the ring is unchanged, so each zone's replica total
// is unchanged, and so are the partition counts; only the split of a zone's
// replicas among its nodes moves towards their weights. When a previous ring
// is given, swaps instead re-choose which partitions move (see ClaimN), so
// the movement of a join or leave is exactly the partition claim's.

const (
	// balanceTrigger is the deviation from ideal (relative) above which
	// Claim starts swapping; balanceGoal is where it stops. The gap between
	// them keeps a join that leaves the ring nearly balanced from moving
	// anything more than its share.
	balanceTrigger = 0.04
	balanceGoal    = 0.02
	// balanceTries bounds the candidate partitions tried per side for one
	// over/under pair before giving up on it.
	balanceTries = 64
	// balanceMinPerNode is the fewest partitions per node for which Claim
	// balances replicas: below it one partition is several percent of a
	// node's load and swaps cannot reach the goal.
	balanceMinPerNode = 32
)

// balancer is the working state of balanceReplicas.
type balancer struct {
	r     *Ring
	n     int
	prim  [][]int32 // prim[p]: the n primaries of start partition p
	ext   []int     // ext[p]: partitions the walk from p visited
	maxE  int       // max of ext, never decreased
	rep   []int     // replicas per node
	ideal []float64 // ideal replicas per node (0 for non-owning nodes)
	w     *walker
	// prev[p] is partition p's owner before the claim (-1 for none), or nil
	// for a new ring: then swaps stay within a zone; otherwise they only
	// re-choose which partitions move (see allowed).
	prev    []int
	members [][]int // members[z]: owning nodes of zone z
}

// balanceReplicas swaps owners of same-zone partitions until every owning
// node holds within balanceGoal of its ideal replica count (its zone's replica
// total split by weight among the zone's owning nodes), or no swap among the
// candidates improves the sum of squared deviations. It starts only when some
// node is more than balanceTrigger off. owner (node indexes into sorted) is
// changed in place; the number of swaps is returned.
func balanceReplicas(q, n int, sorted []Node, owner, prev []int) int {
	if n <= 0 || q < balanceMinPerNode*len(sorted) {
		return 0
	}
	r := ringOf(q, sorted, owner)
	b := &balancer{r: r, n: n, prim: make([][]int32, q), ext: make([]int, q), rep: make([]int, len(sorted)), prev: prev}
	owning := b.owning()
	b.members = make([][]int, len(r.zoneOwners))
	for i := range sorted {
		if owning[i] {
			b.members[r.zone[i]] = append(b.members[r.zone[i]], i)
		}
	}
	b.w = r.walker(0)
	for p := range q {
		b.walk(p)
		for _, i := range b.prim[p] {
			b.rep[i]++
		}
	}
	b.setIdeal()
	if b.worst() <= balanceTrigger {
		return 0
	}
	swaps := 0
	for b.worst() > balanceGoal && swaps < q {
		if !b.step() {
			break
		}
		swaps++
	}
	for p := range owner {
		owner[p] = int(r.own[p])
	}
	return swaps
}

// ringOf builds the Ring fields the walker needs from node-index owners.
func ringOf(q int, sorted []Node, owner []int) *Ring {
	r := &Ring{q: q, nodes: sorted, own: make([]int32, q), zone: make([]int32, len(sorted))}
	zones := make(map[string]int32)
	for i, nd := range sorted {
		z, ok := zones[nd.Zone]
		if !ok {
			z = int32(len(zones))
			zones[nd.Zone] = z
		}
		r.zone[i] = z
	}
	r.zoneOwners = make([]int, len(zones))
	owns := make([]bool, len(sorted))
	for p, i := range owner {
		r.own[p] = int32(i)
		if !owns[i] {
			owns[i] = true
			r.owning++
			r.zoneOwners[r.zone[i]]++
		}
	}
	return r
}

// walk recomputes prim[p] and ext[p].
func (b *balancer) walk(p int) {
	b.w.reset(p)
	order := b.w.prefix(b.n)
	b.prim[p] = append(b.prim[p][:0], order[:min(b.n, len(order))]...)
	b.ext[p] = b.r.q - b.w.left
	b.maxE = max(b.maxE, b.ext[p])
}

// setIdeal splits each zone's replica total among its owning nodes by weight,
// capped at Q (a node holds at most one replica of a partition): waterFill.
func (b *balancer) setIdeal() {
	if b.ideal == nil {
		b.ideal = make([]float64, len(b.r.nodes))
	}
	for _, members := range b.members {
		ws := make([]float64, len(members))
		total := 0.0
		for k, i := range members {
			ws[k] = float64(b.r.nodes[i].Weight)
			total += float64(b.rep[i])
		}
		for k, v := range waterFill(total, ws, float64(b.r.q)) {
			b.ideal[members[k]] = v
		}
	}
}

// waterFill splits total in proportion to weights with no share above cap:
// capped shares are fixed at cap and the rest is split again among the others.
func waterFill(total float64, weights []float64, cap float64) []float64 {
	out := make([]float64, len(weights))
	fixed := make([]bool, len(weights))
	for {
		w := 0.0
		for k, x := range weights {
			if !fixed[k] {
				w += x
			}
		}
		if w == 0 {
			return out
		}
		again := false
		for k, x := range weights {
			if !fixed[k] {
				out[k] = total * x / w
				if out[k] > cap {
					out[k], fixed[k], again = cap, true, true
					total -= cap
				}
			}
		}
		if !again {
			return out
		}
	}
}

func (b *balancer) owning() []bool {
	o := make([]bool, len(b.r.nodes))
	for _, i := range b.r.own {
		o[i] = true
	}
	return o
}

// worst returns the largest relative deviation from ideal.
func (b *balancer) worst() float64 {
	m := 0.0
	for i, id := range b.ideal {
		if id > 0 {
			m = max(m, abs(float64(b.rep[i])-id)/id)
		}
	}
	return m
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// pairs returns (over, under) node pairs of the same zone, worst first.
func (b *balancer) pairs() [][2]int {
	dev := func(i int) float64 { return (float64(b.rep[i]) - b.ideal[i]) / b.ideal[i] }
	var out [][2]int
	for i := range b.ideal {
		for j := range b.ideal {
			if b.ideal[i] > 0 && b.ideal[j] > 0 && (b.prev != nil || b.r.zone[i] == b.r.zone[j]) && dev(i) > balanceGoal/2 && dev(j) < dev(i) {
				out = append(out, [2]int{i, j})
			}
		}
	}
	slices.SortStableFunc(out, func(x, y [2]int) int {
		return cmp.Compare(dev(y[0])-dev(y[1]), dev(x[0])-dev(x[1]))
	})
	return out
}

// credit estimates how many replicas partition x earns its owner: the starts
// whose primaries include the owner and whose walk meets the owner first at x.
func (b *balancer) credit(x int) int {
	q, o := b.r.q, b.r.own[x]
	c := 0
	for d := 0; d < b.maxE; d++ {
		p := (x - d + q) % q
		if d > 0 && b.r.own[p] == o {
			break // starts at or before p meet o at p first
		}
		if b.ext[p] > d && slices.Contains(b.prim[p], o) {
			c++
		}
	}
	return c
}

// step makes one improving swap; false when none of the candidates improves.
// Swaps that give two adjacent partitions one owner are never made, so the
// partition claim's spread is kept (allowing them reaches balance in more
// clusters but gave up to 5% of adjacent pairs).
func (b *balancer) step() bool {
	for _, pr := range b.pairs() {
		i, j := pr[0], pr[1]
		var xs, ys []int
		for p, o := range b.r.own {
			if b.prev != nil && b.prev[p] != i && b.prev[p] != j {
				continue // cannot take part in a swap between i and j
			}
			switch int(o) {
			case i:
				xs = append(xs, p)
			case j:
				ys = append(ys, p)
			}
		}
		if len(xs) == 0 || len(ys) == 0 {
			continue
		}
		cx, cy := b.credits(xs), b.credits(ys)
		slices.SortStableFunc(xs, func(a, c int) int { return cmp.Compare(cx[c], cx[a]) })
		slices.SortStableFunc(ys, func(a, c int) int { return cmp.Compare(cy[a], cy[c]) })
		for _, x := range xs[:min(len(xs), balanceTries)] {
			for _, y := range ys[:min(len(ys), balanceTries)] {
				if b.prev != nil && b.prev[x] != b.prev[y] {
					continue
				}
				if b.adjacent(x, y) {
					continue
				}
				if b.try(x, y) {
					return true
				}
			}
		}
	}
	return false
}

func (b *balancer) credits(ps []int) map[int]int {
	m := make(map[int]int, len(ps))
	for _, p := range ps {
		m[p] = b.credit(p)
	}
	return m
}

// adjacent reports whether swapping the owners of x and y would give either
// a neighbour with its new owner.
func (b *balancer) adjacent(x, y int) bool {
	r, q := b.r, b.r.q
	ox, oy := r.own[x], r.own[y]
	adj := func(p int, o int32) bool {
		for _, nb := range [2]int{(p + 1) % q, (p - 1 + q) % q} {
			if nb != x && nb != y && r.own[nb] == o {
				return true
			}
		}
		return false
	}
	return adj(x, oy) || adj(y, ox)
}

// try swaps the owners of x and y, keeping the swap if it lowers the sum of
// squared relative deviations.
func (b *balancer) try(x, y int) bool {
	r, q := b.r, b.r.q
	ox, oy := r.own[x], r.own[y]
	// Starts whose walk visited x or y: the only ones the swap can change.
	seen := make(map[int]bool)
	var starts []int
	for _, c := range [2]int{x, y} {
		for d := 0; d < b.maxE; d++ {
			p := (c - d + q) % q
			if b.ext[p] > d && !seen[p] {
				seen[p] = true
				starts = append(starts, p)
			}
		}
	}
	before := b.cost()
	oldPrim := make([][]int32, len(starts))
	oldExt := make([]int, len(starts))
	oldMax := b.maxE
	for k, p := range starts {
		oldPrim[k], oldExt[k] = slices.Clone(b.prim[p]), b.ext[p]
		for _, i := range b.prim[p] {
			b.rep[i]--
		}
	}
	r.own[x], r.own[y] = oy, ox
	for _, p := range starts {
		b.walk(p)
		for _, i := range b.prim[p] {
			b.rep[i]++
		}
	}
	if b.cost() < before-1e-12 {
		return true
	}
	for k, p := range starts {
		for _, i := range b.prim[p] {
			b.rep[i]--
		}
		b.prim[p], b.ext[p] = oldPrim[k], oldExt[k]
		for _, i := range b.prim[p] {
			b.rep[i]++
		}
	}
	r.own[x], r.own[y] = ox, oy
	b.maxE = oldMax
	if b.prev != nil {
		b.setIdeal()
	}
	return false
}

// cost is the sum of squared relative deviations over all owning nodes (a
// swap can change other nodes' counts too, through the walk's pass order).
func (b *balancer) cost() float64 {
	if b.prev != nil {
		b.setIdeal() // swaps across zones move zone totals
	}
	s := 0.0
	for i, id := range b.ideal {
		if id > 0 {
			d := (float64(b.rep[i]) - id) / id
			s += d * d
		}
	}
	return s
}
