package sim

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/cartwheel/cartwheel/bench/zipf"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
)

// Part (b), the paper's section 6.2: load-balance efficiency (average load /
// hottest node's load) of the three partitioning strategies at equal sizes
// of membership metadata, under a skewed (zipfian) key popularity. Every
// request counts at each of the key's N replicas. Strategies 1 and 2 are
// implemented here (random tokens); strategy 3 is core/ring's Claim and
// preference lists.

// BalanceRow is one strategy at one metadata size.
type BalanceRow struct {
	Nodes    int     `json:"nodes"`
	Theta    float64 `json:"zipfTheta"`
	Strategy int     `json:"strategy"`
	Param    string  `json:"param"`
	// MetadataEntries is what each node keeps: S*T tokens (strategies 1, 2)
	// or Q partition owners (strategy 3).
	MetadataEntries int `json:"metadataEntries"`
	// MetadataBytes: 16-byte token position + 2-byte node index per token;
	// 2-byte node index per partition.
	MetadataBytes int `json:"metadataBytes"`
	// CartwheelRecordBytes is, for strategy 3, the size of the membership
	// record Cartwheel stores in DynamoDB (kv.Cluster as JSON).
	CartwheelRecordBytes int     `json:"cartwheelRecordBytes,omitempty"`
	Efficiency           float64 `json:"efficiency"`
	EfficiencyMin        float64 `json:"efficiencyMin"`
	Trials               int     `json:"trials"`
}

// BalanceResult is part (b)'s output.
type BalanceResult struct {
	Keys int          `json:"keys"`
	N    int          `json:"n"`
	Rows []BalanceRow `json:"rows"`
	// Findings compare, per ring size and skew, the metadata strategy 3
	// needs to match strategy 1's best efficiency.
	Findings []string `json:"findings"`
}

// keySpace is the keys sorted by ring position, with prefix sums of their
// request shares.
type keySpace struct {
	pos []uint64  // sorted ring positions (top 64 bits of MD5)
	cum []float64 // cum[i] = sum of shares of keys 0..i-1 in position order
}

func newKeySpace(keys int, theta float64, seed uint64) (*keySpace, error) {
	z, err := zipf.New(keys, theta, rand.New(rand.NewPCG(seed, 0xb)))
	if err != nil {
		return nil, err
	}
	type kp struct {
		pos uint64
		w   float64
	}
	all := make([]kp, keys)
	for i := range all {
		h := md5.Sum(fmt.Appendf(nil, "key-%d", i))
		all[i] = kp{binary.BigEndian.Uint64(h[:8]), z.Prob(i)}
	}
	slices.SortFunc(all, func(a, b kp) int { return cmp.Compare(a.pos, b.pos) })
	ks := &keySpace{pos: make([]uint64, keys), cum: make([]float64, keys+1)}
	for i, k := range all {
		ks.pos[i] = k.pos
		ks.cum[i+1] = ks.cum[i] + k.w
	}
	return ks, nil
}

// upTo returns the share of keys with position <= x.
func (ks *keySpace) upTo(x uint64) float64 {
	i := sort.Search(len(ks.pos), func(i int) bool { return ks.pos[i] > x })
	return ks.cum[i]
}

// between returns the share of keys in the ring interval (a, b] (wrapping).
func (ks *keySpace) between(a, b uint64) float64 {
	if a < b {
		return ks.upTo(b) - ks.upTo(a)
	}
	return ks.cum[len(ks.pos)] - ks.upTo(a) + ks.upTo(b)
}

// tokenRing is strategy 1's and 2's ring: random tokens, each owned by a node.
type tokenRing struct {
	tok   []uint64
	owner []int32
}

func newTokenRing(nodes, t int, rng *rand.Rand) *tokenRing {
	type to struct {
		t uint64
		o int32
	}
	all := make([]to, 0, nodes*t)
	for n := range nodes {
		for range t {
			all = append(all, to{rng.Uint64(), int32(n)})
		}
	}
	slices.SortFunc(all, func(a, b to) int { return cmp.Compare(a.t, b.t) })
	r := &tokenRing{tok: make([]uint64, len(all)), owner: make([]int32, len(all))}
	for i, x := range all {
		r.tok[i], r.owner[i] = x.t, x.o
	}
	return r
}

// successor returns the index of the first token >= x (wrapping).
func (r *tokenRing) successor(x uint64) int {
	i := sort.Search(len(r.tok), func(i int) bool { return r.tok[i] >= x })
	if i == len(r.tok) {
		i = 0
	}
	return i
}

// walk appends to dst the first n distinct owners from token index i on.
func (r *tokenRing) walk(dst []int32, i, n int) []int32 {
	dst = dst[:0]
	for k := 0; k < len(r.tok) && len(dst) < n; k++ {
		o := r.owner[(i+k)%len(r.tok)]
		if !slices.Contains(dst, o) {
			dst = append(dst, o)
		}
	}
	return dst
}

func efficiency(load []float64) float64 {
	sum, hot := 0.0, 0.0
	for _, l := range load {
		sum += l
		hot = max(hot, l)
	}
	if hot == 0 {
		return 0
	}
	return sum / float64(len(load)) / hot
}

// strategy1 places each range between consecutive tokens on its end token's
// node and the next N-1 distinct nodes clockwise.
func strategy1(ks *keySpace, nodes, t, n int, rng *rand.Rand) float64 {
	r := newTokenRing(nodes, t, rng)
	load := make([]float64, nodes)
	var pl []int32
	for i := range r.tok {
		prev := r.tok[(i-1+len(r.tok))%len(r.tok)]
		share := ks.between(prev, r.tok[i])
		pl = r.walk(pl, i, n)
		for _, o := range pl {
			load[o] += share
		}
	}
	return efficiency(load)
}

// partitionShares returns each of q equal partitions' share of requests,
// partitioned by core/ring.PartitionOf.
func partitionShares(ks *keySpace, q int) []float64 {
	shares := make([]float64, q)
	var h [16]byte
	for i, p := range ks.pos {
		binary.BigEndian.PutUint64(h[:8], p)
		shares[ring.PartitionOf(q, h)] += ks.cum[i+1] - ks.cum[i]
	}
	return shares
}

// strategy2 places each of q equal partitions on the first N distinct nodes
// met walking clockwise from the partition's end, over S*T random tokens.
func strategy2(shares []float64, nodes, t, n int, rng *rand.Rand) float64 {
	r := newTokenRing(nodes, t, rng)
	q := len(shares)
	load := make([]float64, nodes)
	var pl []int32
	shift := 64 - bits.TrailingZeros(uint(q))
	for p, share := range shares {
		end := uint64(p+1) << shift // 0 for the last partition: wraps to the first token
		if shift == 64 {
			end = 0
		}
		pl = r.walk(pl, r.successor(end), n)
		for _, o := range pl {
			load[o] += share
		}
	}
	return efficiency(load)
}

// strategy3 is core/ring: Claim's Q/S partitions per node, and preference
// lists walked by PrimariesOfPartition (one zone, as in the paper).
func strategy3(shares []float64, nodes, n int) (float64, error) {
	q := len(shares)
	rn := make([]ring.Node, nodes)
	for i := range rn {
		rn[i] = ring.Node{ID: fmt.Sprintf("n%03d", i), Zone: "z", Weight: 1}
	}
	owners, err := ring.Claim(q, rn, nil)
	if err != nil {
		return 0, err
	}
	r, err := ring.New(q, rn, owners)
	if err != nil {
		return 0, err
	}
	load := map[string]float64{}
	for p, share := range shares {
		for _, id := range r.PrimariesOfPartition(p, n) {
			load[id] += share
		}
	}
	l := make([]float64, 0, nodes)
	for _, id := range rn {
		l = append(l, load[id.ID])
	}
	return efficiency(l), nil
}

// cartwheelRecordBytes is the JSON size of the membership record Cartwheel
// keeps for nodes nodes and q partitions.
func cartwheelRecordBytes(nodes, q int) int {
	var ns []kv.Node
	for i := range nodes {
		id := fmt.Sprintf("n%03d", i)
		ns = append(ns, kv.Node{ID: id, Zone: []string{"a", "b", "c"}[i%3], Weight: 1,
			Location: kv.Location{Bucket: "cartwheel-data", Prefix: "nodes/" + id + "/"}})
	}
	p := kv.DefaultParams()
	if q > kv.MaxQ {
		return 0
	}
	p.Q = q
	c, err := membership.Bootstrap(p, ns)
	if err != nil {
		return 0
	}
	b, _ := json.Marshal(c)
	return len(b)
}

func runBalance(cfg Config) (BalanceResult, error) {
	res := BalanceResult{Keys: cfg.BalanceKeys, N: simN}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc))
	for _, set := range cfg.BalanceSets {
		ks, err := newKeySpace(cfg.BalanceKeys, set.Theta, cfg.Seed)
		if err != nil {
			return res, err
		}
		s2q := ring.MaxQ // strategy 2 wants Q >> S*T
		s2shares := partitionShares(ks, s2q)
		for _, q := range set.Qs {
			t := max(1, (q+set.Nodes/2)/set.Nodes) // S*T ~ Q: the same metadata size
			row := func(strategy int, param string, entries, bytes int) BalanceRow {
				return BalanceRow{Nodes: set.Nodes, Theta: set.Theta, Strategy: strategy, Param: param, MetadataEntries: entries, MetadataBytes: bytes}
			}
			r1 := row(1, fmt.Sprintf("T=%d", t), set.Nodes*t, set.Nodes*t*18)
			r2 := row(2, fmt.Sprintf("T=%d, Q=%d", t, s2q), set.Nodes*t, set.Nodes*t*18)
			r1.EfficiencyMin, r2.EfficiencyMin = 1, 1
			for range cfg.BalanceTrials {
				e1 := strategy1(ks, set.Nodes, t, simN, rng)
				e2 := strategy2(s2shares, set.Nodes, t, simN, rng)
				r1.Efficiency += e1 / float64(cfg.BalanceTrials)
				r2.Efficiency += e2 / float64(cfg.BalanceTrials)
				r1.EfficiencyMin, r2.EfficiencyMin = min(r1.EfficiencyMin, e1), min(r2.EfficiencyMin, e2)
			}
			r1.Trials, r2.Trials = cfg.BalanceTrials, cfg.BalanceTrials
			e3, err := strategy3(partitionShares(ks, q), set.Nodes, simN)
			if err != nil {
				return res, err
			}
			r3 := row(3, fmt.Sprintf("Q=%d (Q/S=%.1f)", q, float64(q)/float64(set.Nodes)), q, q*2)
			r3.Efficiency, r3.EfficiencyMin, r3.Trials = e3, e3, 1
			r3.CartwheelRecordBytes = cartwheelRecordBytes(set.Nodes, q)
			res.Rows = append(res.Rows, r1, r2, r3)
		}
		res.Findings = append(res.Findings, matchFinding(res.Rows[len(res.Rows)-3*len(set.Qs):], set))
	}
	return res, nil
}

// matchFinding says how much less metadata strategy 3 needs than strategy 1
// for at least strategy 1's best efficiency in rows (one set).
func matchFinding(rows []BalanceRow, set BalanceSet) string {
	best := BalanceRow{}
	for _, r := range rows {
		if r.Strategy == 1 && r.Efficiency > best.Efficiency {
			best = r
		}
	}
	for _, r := range rows {
		if r.Strategy == 3 && r.Efficiency >= best.Efficiency {
			return fmt.Sprintf("S=%d, theta %.2f: strategy 3 reaches strategy 1's best efficiency (%.3f with %s, %d bytes) with %s and %d bytes: %.0fx less metadata",
				set.Nodes, set.Theta, best.Efficiency, best.Param, best.MetadataBytes, r.Param, r.MetadataBytes, float64(best.MetadataBytes)/float64(r.MetadataBytes))
		}
	}
	return fmt.Sprintf("S=%d, theta %.2f: no strategy-3 row reaches strategy 1's best efficiency (%.3f with %s)", set.Nodes, set.Theta, best.Efficiency, best.Param)
}
