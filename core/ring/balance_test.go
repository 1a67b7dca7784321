package ring

import (
	"fmt"
	"math"
	"testing"

	"pgregory.net/rapid"
)

// defaultCluster is the bootstrap cluster: n1..n6 over zones a, b, c in turn.
func defaultCluster(s int) []Node {
	zones := []string{"a", "b", "c"}
	nodes := make([]Node, s)
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("n%d", i+1), Zone: zones[i%3], Weight: 1}
	}
	return nodes
}

// replicaDeviation returns each owning node's replicas relative to its ideal
// and the worst absolute deviation. The ideal splits the zone's replica total
// among the zone's owning nodes by weight, except that no node can hold more
// than Q (one replica per partition): such nodes get Q and the rest is split
// again (computed here by repeated passes, independently of waterFill).
func replicaDeviation(r *Ring, n int) (map[string]float64, float64) {
	rep := r.ReplicaCounts(n)
	own := counts(r.Owners())
	q := float64(r.Q())
	ideal := map[string]float64{}
	capped := map[string]bool{}
	for changed := true; changed; {
		changed = false
		total, weight := map[string]float64{}, map[string]float64{}
		for _, nd := range r.Nodes() {
			if own[nd.ID] > 0 {
				total[nd.Zone] += float64(rep[nd.ID])
				if capped[nd.ID] {
					total[nd.Zone] -= q
				} else {
					weight[nd.Zone] += float64(nd.Weight)
				}
			}
		}
		for _, nd := range r.Nodes() {
			if own[nd.ID] == 0 {
				continue
			}
			if capped[nd.ID] {
				ideal[nd.ID] = q
				continue
			}
			ideal[nd.ID] = total[nd.Zone] * float64(nd.Weight) / weight[nd.Zone]
			if ideal[nd.ID] > q {
				capped[nd.ID], changed = true, true
			}
		}
	}
	dev, worst := map[string]float64{}, 0.0
	for id, v := range ideal {
		dev[id] = float64(rep[id])/v - 1
		worst = max(worst, math.Abs(dev[id]))
	}
	return dev, worst
}

// TestClaimBalancesReplicasDefaultCluster: in the default cluster (6 nodes,
// 3 zones, Q=4096, N=3) every node holds within 5% of the ideal 2,048
// partition replicas. The partition claim alone (n=0) gives n1 1,365 and n4
// 2,731 (issue 17), which this test also pins so that it keeps failing if
// the balancing is switched off.
func TestClaimBalancesReplicasDefaultCluster(t *testing.T) {
	nodes := defaultCluster(6)
	unbalanced := mustNew(t, 4096, nodes, mustClaimN(t, 4096, 0, nodes, nil)).ReplicaCounts(3)
	if unbalanced["n1"] != 1365 || unbalanced["n4"] != 2731 {
		t.Errorf("partition claim alone: n1 %d, n4 %d replicas; issue 17 measured 1365 and 2731", unbalanced["n1"], unbalanced["n4"])
	}
	r := mustNew(t, 4096, nodes, mustClaim(t, 4096, nodes, nil))
	rep := r.ReplicaCounts(3)
	t.Logf("replicas per node: %v (ideal 2048)", rep)
	for id, c := range rep {
		if math.Abs(float64(c)/2048-1) > 0.05 {
			t.Errorf("%s holds %d replicas, more than 5%% from 2048", id, c)
		}
	}
	if c := counts(r.Owners()); c["n1"] < 682 || c["n1"] > 683 {
		t.Errorf("n1 owns %d partitions, want 682 or 683", c["n1"])
	}
}

// TestClaimJoinReplicaMoves grows the default cluster one node at a time to
// 12 (zones in turn): after every join each node is within 5% of its ideal
// replicas, and the partitions moved exceed the joiner's own share by at most
// 15% (the balancing swaps; measured 0-11.6%).
func TestClaimJoinReplicaMoves(t *testing.T) {
	nodes := defaultCluster(6)
	owners := mustClaim(t, 4096, nodes, nil)
	for s := 7; s <= 12; s++ {
		grown := defaultCluster(s)
		next := mustClaim(t, 4096, grown, owners)
		joiner := grown[s-1].ID
		moved, share := Moved(owners, next), counts(next)[joiner]
		_, worst := replicaDeviation(mustNew(t, 4096, grown, next), 3)
		t.Logf("join %s: moved %d partitions, joiner owns %d (+%.1f%%); worst replica deviation %.1f%%",
			joiner, moved, share, 100*float64(moved-share)/float64(share), 100*worst)
		if worst > 0.05 {
			t.Errorf("after join of %s a node is %.1f%% from its ideal replicas", joiner, 100*worst)
		}
		if float64(moved) > 1.15*float64(share) {
			t.Errorf("join of %s moved %d partitions, more than 115%% of its share %d", joiner, moved, share)
		}
		nodes, owners = grown, next
	}
	_ = nodes
}

// TestClaimBalancedReplicasProperty: over random clusters (sizes, weights,
// zones, N; Q 1024 or 2048) with at least 85 partitions per node, ClaimN keeps every node's
// partition count (it equals the partition claim's, n=0), differs from the
// partition claim only by swaps within a zone (the ring's zone sequence is
// the same), never leaves the worst node further from its ideal replicas than
// the partition claim did, and, with equal weights, the same number of nodes
// in every zone of three and N=3 (the default
// cluster's shape, grown or shrunk), leaves every owning node within 5% of
// its ideal. Outside that shape the local search can stop short (swaps that
// would put one owner on two adjacent partitions are refused, to keep the
// claim's spread): in 1,000 random clusters, one with two zones and N=2
// stopped at 16% off.
func TestClaimBalancedReplicasProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := genNodes(t, 2, 12, 4, rapid.SampledFrom([]int{1, 3}).Draw(t, "maxW"))
		q := 1 << rapid.IntRange(10, 11).Draw(t, "log2q")
		n := rapid.IntRange(1, 4).Draw(t, "n")
		plain := mustClaimN(t, q, 0, nodes, nil)
		got := mustClaimN(t, q, n, nodes, nil)
		zone := map[string]string{}
		equal := true
		for _, nd := range nodes {
			zone[nd.ID] = nd.Zone
			equal = equal && nd.Weight == nodes[0].Weight
		}
		cp, cg := counts(plain), counts(got)
		for id, c := range cp {
			if cg[id] != c {
				t.Fatalf("%s owns %d partitions balanced, %d unbalanced", id, cg[id], c)
			}
		}
		for p := range got {
			if zone[got[p]] != zone[plain[p]] {
				t.Fatalf("partition %d: zone %s balanced, %s unbalanced", p, zone[got[p]], zone[plain[p]])
			}
		}
		_, before := replicaDeviation(mustNew(t, q, nodes, plain), n)
		dev, worst := replicaDeviation(mustNew(t, q, nodes, got), n)
		if worst > max(before, 0.05)+1e-9 {
			t.Fatalf("q=%d n=%d: worst replica deviation %.1f%%, partition claim alone %.1f%%", q, n, 100*worst, 100*before)
		}
		perZone := map[string]int{}
		for _, z := range zone {
			perZone[z]++
		}
		even := true
		for _, c := range perZone {
			even = even && c == len(nodes)/len(perZone)
		}
		if equal && even && n == 3 && len(perZone) == 3 && worst > 0.05 {
			t.Fatalf("q=%d n=%d: worst replica deviation %.1f%%: %v", q, n, 100*worst, dev)
		}
	})
}
