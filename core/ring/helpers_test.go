package ring

import (
	"fmt"
	"slices"

	"pgregory.net/rapid"
)

// genQ draws a partition count 2^k with k in [minLog, maxLog].
func genQ(t *rapid.T, minLog, maxLog int) int {
	return 1 << rapid.IntRange(minLog, maxLog).Draw(t, "log2q")
}

// genNodes draws between minN and maxN nodes with distinct IDs, zones from a
// pool of up to zones names, and weights in [1, maxW].
func genNodes(t *rapid.T, minN, maxN, zones, maxW int) []Node {
	ids := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z][a-z0-9:]{0,3}`), minN, maxN, rapid.ID[string]).Draw(t, "ids")
	nz := rapid.IntRange(1, zones).Draw(t, "zones")
	nodes := make([]Node, len(ids))
	for i, id := range ids {
		nodes[i] = Node{
			ID:     id,
			Zone:   fmt.Sprintf("z%d", rapid.IntRange(0, nz-1).Draw(t, "zone")),
			Weight: rapid.IntRange(1, maxW).Draw(t, "weight"),
		}
	}
	return nodes
}

// equalNodes returns s weight-1 nodes n000.. in distinct zones.
func equalNodes(s int) []Node {
	nodes := make([]Node, s)
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("n%03d", i), Zone: fmt.Sprintf("z%03d", i), Weight: 1}
	}
	return nodes
}

// counts returns partitions per owner.
func counts(owners []string) map[string]int {
	c := make(map[string]int)
	for _, o := range owners {
		c[o]++
	}
	return c
}

// adjacentSame counts p with owners[p] == owners[p+1 mod q] (q > 1).
func adjacentSame(owners []string) int {
	if len(owners) < 2 {
		return 0
	}
	n := 0
	for p := range owners {
		if owners[p] == owners[(p+1)%len(owners)] {
			n++
		}
	}
	return n
}

// tb is the part of testing.TB that *rapid.T also implements.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// mustClaim is Claim for inputs known to be valid.
func mustClaim(tb tb, q int, nodes []Node, prev []string) []string {
	tb.Helper()
	owners, err := Claim(q, nodes, prev)
	if err != nil {
		tb.Fatalf("Claim(q=%d, %d nodes): %v", q, len(nodes), err)
	}
	return owners
}

// mustClaimN is ClaimN for inputs known to be valid; n=0 is the partition
// claim alone (no replica balancing), whose movement contract is exact.
func mustClaimN(tb tb, q, n int, nodes []Node, prev []string) []string {
	tb.Helper()
	owners, err := ClaimN(q, n, nodes, prev)
	if err != nil {
		tb.Fatalf("ClaimN(q=%d, n=%d, %d nodes): %v", q, n, len(nodes), err)
	}
	return owners
}

// mustNew is New for inputs known to be valid.
func mustNew(tb tb, q int, nodes []Node, owners []string) *Ring {
	tb.Helper()
	r, err := New(q, nodes, owners)
	if err != nil {
		tb.Fatalf("New(q=%d, %d nodes): %v", q, len(nodes), err)
	}
	return r
}

// genRing draws a ring: either a Claim result or an arbitrary owners slice
// (including nodes that own nothing and long runs), to exercise Walk on
// layouts Claim never produces.
func genRing(t *rapid.T) *Ring {
	q := genQ(t, 0, 7)
	nodes := genNodes(t, 1, 10, 5, 3)
	var owners []string
	if rapid.Bool().Draw(t, "claimed") {
		owners = mustClaim(t, q, nodes, nil)
	} else {
		owners = make([]string, q)
		k := rapid.IntRange(1, len(nodes)).Draw(t, "owning")
		for p := range owners {
			owners[p] = nodes[rapid.IntRange(0, k-1).Draw(t, "owner")].ID
		}
	}
	return mustNew(t, q, nodes, owners)
}

// naiveWalk computes WalkPartition straight from its definition: the distinct
// owners clockwise from p (list D), then passes k = 0, 1, ... each taking, in
// D order, every unpicked node whose zone has exactly k picked nodes at that
// moment.
func naiveWalk(r *Ring, p int) []string {
	var d []string
	for k := range r.Q() {
		o := r.Owner((p + k) % r.Q())
		if !slices.Contains(d, o) {
			d = append(d, o)
		}
	}
	zoneOf := func(id string) string {
		n, _ := r.Node(id)
		return n.Zone
	}
	picked := make(map[string]bool)
	inZone := make(map[string]int)
	var out []string
	for k := 0; len(out) < len(d); k++ {
		for _, id := range d {
			if !picked[id] && inZone[zoneOf(id)] == k {
				picked[id] = true
				inZone[zoneOf(id)]++
				out = append(out, id)
			}
		}
	}
	return out
}

// naivePreferenceList computes the preference list from its definition.
func naivePreferenceList(r *Ring, p, n int, up func(string) bool) []Replica {
	walk := naiveWalk(r, p)
	if n <= 0 {
		return nil
	}
	prim := walk[:min(n, len(walk))]
	rest := walk[len(prim):]
	used := make(map[string]bool)
	var out []Replica
	for _, id := range prim {
		if up(id) {
			out = append(out, Replica{Node: id, Primary: true})
			continue
		}
		for _, fb := range rest {
			if !used[fb] && up(fb) {
				used[fb] = true
				out = append(out, Replica{Node: fb, StandsInFor: id})
				break
			}
		}
	}
	return out
}
