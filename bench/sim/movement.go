package sim

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/cartwheel/cartwheel/core/ring"
)

// Part (d): data moved when a node joins or leaves. Strategy 3 (core/ring:
// Claim from the previous owners, zone-diverse preference lists) against
// strategy 1 with the same metadata size (T = Q/S random tokens per node).
// Moved data is counted in key replicas: a key whose preference list gains
// a node must copy one replica to it.

// MoveRow is one membership change under one strategy.
type MoveRow struct {
	Event    string `json:"event"`
	Strategy int    `json:"strategy"`
	Param    string `json:"param"`
	Nodes    int    `json:"nodesBefore"`
	// PartitionsMoved is ring.Moved(prev, next) (strategy 3 only).
	PartitionsMoved int `json:"partitionsMoved,omitempty"`
	// IdealPartitions is the new node's (or the leaving node's) share.
	IdealPartitions float64 `json:"idealPartitions,omitempty"`
	// ReplicasMovedPct is the share of key replicas that must be copied.
	ReplicasMovedPct float64 `json:"replicasMovedPct"`
	// IdealPct is 1/(S+1) for a join, 1/S for a leave.
	IdealPct float64 `json:"idealPct"`
	// Senders and Receivers are the nodes that give or get replicas.
	Senders   int `json:"senders"`
	Receivers int `json:"receivers"`
}

// MoveResult is part (d)'s output.
type MoveResult struct {
	Keys int       `json:"keys"`
	N    int       `json:"n"`
	Rows []MoveRow `json:"rows"`
}

// replicaDiff counts, over keys, the replicas in after but not before, and
// the nodes that send (lose a replica or, for a join, hold the data that
// moves) and receive.
type replicaDiff struct {
	moved     int
	total     int
	senders   map[string]bool
	receivers map[string]bool
}

func newDiff() *replicaDiff {
	return &replicaDiff{senders: map[string]bool{}, receivers: map[string]bool{}}
}

func (d *replicaDiff) add(before, after []string, weight int) {
	d.total += weight * len(after)
	for _, n := range after {
		if !slices.Contains(before, n) {
			d.moved += weight
			d.receivers[n] = true
		}
	}
	for _, n := range before {
		if !slices.Contains(after, n) {
			d.senders[n] = true
		}
	}
}

func runMovement(cfg Config) (MoveResult, error) {
	res := MoveResult{Keys: cfg.MoveKeys, N: simN}
	zones := []string{"a", "b", "c"}
	s := cfg.Nodes
	nodes := make([]ring.Node, s+1)
	for i := range nodes {
		nodes[i] = ring.Node{ID: fmt.Sprintf("n%03d", i), Zone: zones[i%len(zones)], Weight: 1}
	}
	base, joined, left := nodes[:s], nodes, nodes[1:s]
	// Keys per partition (equal in expectation; counted exactly).
	positions := make([]uint64, cfg.MoveKeys)
	for i := range positions {
		h := md5.Sum(fmt.Appendf(nil, "key-%d", i))
		positions[i] = binary.BigEndian.Uint64(h[:8])
	}
	for _, q := range cfg.MoveQs {
		perPart := make([]int, q)
		var h [16]byte
		for _, p := range positions {
			binary.BigEndian.PutUint64(h[:8], p)
			perPart[ring.PartitionOf(q, h)]++
		}
		prev, err := ring.Claim(q, base, nil)
		if err != nil {
			return res, err
		}
		rb, err := ring.New(q, base, prev)
		if err != nil {
			return res, err
		}
		for _, ev := range []struct {
			name  string
			nodes []ring.Node
			ideal float64
		}{
			{fmt.Sprintf("join (%d -> %d nodes)", s, s+1), joined, 1 / float64(s+1)},
			{fmt.Sprintf("leave (%d -> %d nodes)", s, s-1), left, 1 / float64(s)},
		} {
			next, err := ring.Claim(q, ev.nodes, prev)
			if err != nil {
				return res, err
			}
			ra, err := ring.New(q, ev.nodes, next)
			if err != nil {
				return res, err
			}
			d := newDiff()
			for p := range q {
				d.add(rb.PrimariesOfPartition(p, simN), ra.PrimariesOfPartition(p, simN), perPart[p])
			}
			res.Rows = append(res.Rows, MoveRow{
				Event: ev.name, Strategy: 3, Param: fmt.Sprintf("Q=%d, zones a/b/c", q), Nodes: s,
				PartitionsMoved: ring.Moved(prev, next), IdealPartitions: float64(q) * ev.ideal,
				ReplicasMovedPct: 100 * float64(d.moved) / float64(d.total), IdealPct: 100 * ev.ideal,
				Senders: len(d.senders), Receivers: len(d.receivers),
			})
		}
		// Strategy 1 with the same metadata: T = Q/S tokens per node.
		t := max(1, (q+s/2)/s)
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(q)))
		tr := newTokenRing(s+1, t, rng) // node s is the joiner
		without := func(skip int32) *tokenRing {
			out := &tokenRing{}
			for i, o := range tr.tok {
				if tr.owner[i] != skip {
					out.tok = append(out.tok, o)
					out.owner = append(out.owner, tr.owner[i])
				}
			}
			return out
		}
		before := without(int32(s))  // S nodes
		after := tr                  // S+1 nodes: the join
		leave := func() *tokenRing { // S-1 nodes: node 0 leaves
			out := &tokenRing{}
			for i, o := range before.tok {
				if before.owner[i] != 0 {
					out.tok = append(out.tok, o)
					out.owner = append(out.owner, before.owner[i])
				}
			}
			return out
		}()
		for _, ev := range []struct {
			name  string
			r     *tokenRing
			ideal float64
		}{
			{fmt.Sprintf("join (%d -> %d nodes)", s, s+1), after, 1 / float64(s+1)},
			{fmt.Sprintf("leave (%d -> %d nodes)", s, s-1), leave, 1 / float64(s)},
		} {
			d := newDiff()
			var nm namer
			var a, b []int32
			for _, p := range positions {
				b = before.walk(b, before.successor(p), simN)
				a = ev.r.walk(a, ev.r.successor(p), simN)
				d.add(nm.names(b), nm.names(a), 1)
			}
			res.Rows = append(res.Rows, MoveRow{
				Event: ev.name, Strategy: 1, Param: fmt.Sprintf("T=%d", t), Nodes: s,
				ReplicasMovedPct: 100 * float64(d.moved) / float64(d.total), IdealPct: 100 * ev.ideal,
				Senders: len(d.senders), Receivers: len(d.receivers),
			})
		}
	}
	return res, nil
}

// namer turns node indexes into node ids, caching them.
type namer []string

func (n *namer) names(ix []int32) []string {
	out := make([]string, len(ix))
	for i, x := range ix {
		for int(x) >= len(*n) {
			*n = append(*n, fmt.Sprintf("n%03d", len(*n)))
		}
		out[i] = (*n)[x]
	}
	return out
}
