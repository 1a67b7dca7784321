// Package ring places keys on storage nodes: consistent hashing with the
// Dynamo paper's partitioning strategy 3.
//
// The 128-bit MD5 hash space is cut into Q equal partitions (Q a power of two),
// and every partition has exactly one owning node. Claim computes, and
// recomputes on membership changes, the owners slice, spreading partitions in
// proportion to node weights and moving as few partitions as possible. A Ring
// is an immutable view of one owners slice; Walk, Primaries and PreferenceList
// derive, for a key, the ordered zone-diverse list of nodes that hold it.
//
// Everything here is pure and deterministic: the same inputs give the same
// outputs on every machine, which lets every coordinator compute identical
// preference lists from the same membership record.
package ring

import (
	"crypto/md5"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Sentinel errors. Functions wrap them with context; test with errors.Is.
var (
	// ErrBadConfig reports an invalid argument: a bad partition count, an empty
	// node id, a weight out of range, no nodes, or a slice of the wrong length.
	ErrBadConfig = errors.New("bad ring configuration")
	// ErrDuplicateNode reports two nodes with the same id.
	ErrDuplicateNode = errors.New("duplicate node id")
	// ErrUnknownNode reports an owner that is not one of the ring's nodes.
	ErrUnknownNode = errors.New("unknown node")
)

// MaxQ is the largest supported number of partitions (2^16).
const MaxQ = 1 << 16

// MaxWeight is the largest accepted node weight. The bound keeps all share
// arithmetic exact in 64-bit integers.
const MaxWeight = 1 << 20

// Node is one member of the ring as far as placement is concerned.
type Node struct {
	// ID names the node; it must be non-empty and unique within a ring.
	ID string
	// Zone is the node's failure domain; preference lists prefer distinct
	// zones. Any string (including "") is a zone name.
	Zone string
	// Weight is the node's relative capacity, in [1, MaxWeight]; Claim gives
	// each node a number of partitions proportional to it.
	Weight int
}

// HashKey returns the key's position on the ring: the MD5 digest of the key,
// read as a 128-bit big-endian number.
func HashKey(key string) [16]byte {
	return md5.Sum([]byte(key))
}

// ValidQ reports whether q is a supported partition count: a power of two in
// [1, MaxQ].
func ValidQ(q int) bool {
	return q >= 1 && q <= MaxQ && q&(q-1) == 0
}

func checkQ(q int) error {
	if !ValidQ(q) {
		return fmt.Errorf("q=%d must be a power of two in [1, %d]: %w", q, MaxQ, ErrBadConfig)
	}
	return nil
}

// qBits returns log2(q) for a valid q.
func qBits(q int) int {
	return bits.TrailingZeros(uint(q))
}

// PartitionOf returns the partition in [0, q) holding hash h: the top log2(q)
// bits of h read big-endian. q must satisfy ValidQ; PartitionOf panics
// otherwise (a programming error, like an out-of-range slice index).
func PartitionOf(q int, h [16]byte) int {
	if !ValidQ(q) {
		panic(fmt.Sprintf("ring: PartitionOf: invalid q=%d", q))
	}
	top := uint32(h[0])<<8 | uint32(h[1])
	return int(top >> (16 - qBits(q)))
}

// PartitionRange returns the inclusive bounds of partition p's hash range: every
// h with first <= h <= last (big-endian) has PartitionOf(q, h) == p, and the
// ranges of partitions 0..q-1 tile the hash space in order. It panics unless q
// satisfies ValidQ and 0 <= p < q.
func PartitionRange(q, p int) (first, last [16]byte) {
	if !ValidQ(q) || p < 0 || p >= q {
		panic(fmt.Sprintf("ring: PartitionRange: invalid q=%d p=%d", q, p))
	}
	shift := 16 - qBits(q)
	lo := uint32(p) << shift
	hi := lo | (1<<shift - 1)
	first[0], first[1] = byte(lo>>8), byte(lo)
	last[0], last[1] = byte(hi>>8), byte(hi)
	for i := 2; i < 16; i++ {
		last[i] = 0xff
	}
	return first, last
}

// Moved returns the number of partitions whose owner differs between prev and
// next. If the lengths differ, a position present in only one slice counts as
// moved.
func Moved(prev, next []string) int {
	moved := 0
	for i := 0; i < max(len(prev), len(next)); i++ {
		var a, b string
		if i < len(prev) {
			a = prev[i]
		}
		if i < len(next) {
			b = next[i]
		}
		if a != b {
			moved++
		}
	}
	return moved
}

// checkNodes validates nodes and returns a copy sorted by ID. Like checkQ, its
// errors carry no "ring:" prefix; callers wrap them.
func checkNodes(nodes []Node) ([]Node, error) {
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no nodes: %w", ErrBadConfig)
	}
	sorted := slices.Clone(nodes)
	slices.SortStableFunc(sorted, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	for i, n := range sorted {
		switch {
		case n.ID == "":
			return nil, fmt.Errorf("node with empty id (zone %q): %w", n.Zone, ErrBadConfig)
		case n.Weight < 1 || n.Weight > MaxWeight:
			return nil, fmt.Errorf("node %q: weight %d must be in [1, %d]: %w", n.ID, n.Weight, MaxWeight, ErrBadConfig)
		case i > 0 && sorted[i-1].ID == n.ID:
			return nil, fmt.Errorf("node %q listed twice: %w", n.ID, ErrDuplicateNode)
		}
	}
	return sorted, nil
}
