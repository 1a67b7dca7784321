// Package merkle implements fixed-shape Merkle trees for anti-entropy: two
// replicas of one key range (a ring partition) each build a tree over their
// (key hash, version hash) pairs, and exchanging a few interior nodes finds the
// segments whose contents differ, without listing every key.
//
// The model is riak_core's hashtree.erl. The tree has a fixed shape: Width^Depth
// leaves called segments, each key falling into one segment by SegmentOf. A
// segment's hash is the XOR, over its keys, of H(key hash || version hash), so
// inserting and removing a pair are the same operation, updates are
// incremental, and the result does not depend on insertion order. Interior
// nodes hash the concatenation of their Width children and are recomputed
// lazily, only along paths made dirty since the last read.
//
// Indexing: a node is named by (depth, index). Depth 0 holds the root (index
// 0); depth d holds Width^d nodes with indexes 0..Width^d-1; the children of
// node (d, i) are the nodes (d+1, i*Width+j) for j in 0..Width-1; depth Depth
// holds the segments, so segment s is node (Depth, s). Level(d, i) and
// Remote.Children(d, i) return the Width hashes of the children of (d, i),
// valid for 0 <= d < Depth.
//
// H is the first 16 bytes of SHA-256, with a one-byte domain prefix separating
// key/version pair hashes from interior node hashes.
//
// A Tree is not safe for concurrent use, not even for concurrent reads: Root,
// Level and Children refresh cached interior hashes.
package merkle

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/bits"
)

// Sentinel errors, wrapped with context by the functions that return them.
var (
	// ErrInvalidShape: a Shape violates the constraints documented on Shape.
	ErrInvalidShape = errors.New("merkle: invalid shape")
	// ErrShapeMismatch: two trees that must share a shape do not.
	ErrShapeMismatch = errors.New("merkle: shape mismatch")
	// ErrOutOfRange: a (depth, index) pair names no interior node of the tree.
	ErrOutOfRange = errors.New("merkle: node out of range")
	// ErrBadReply: a Remote returned a reply of the wrong length.
	ErrBadReply = errors.New("merkle: malformed remote reply")
	// ErrMalformed: an encoded tree is truncated, oversized or otherwise invalid.
	ErrMalformed = errors.New("merkle: malformed encoding")
)

// Limits on Shape.
const (
	// MinWidth and MaxWidth bound Shape.Width (which must be a power of two).
	MinWidth, MaxWidth = 2, 1024
	// MaxSegments bounds Shape.Segments, i.e. the number of leaves (16 MiB of
	// leaf hashes at most).
	MaxSegments = 1 << 20
)

// Shape is the fixed geometry of a tree: Width children per interior node and
// Depth levels below the root, so Width^Depth segments (leaves). Width must be
// a power of two in [MinWidth, MaxWidth], Depth at least 1, and Width^Depth at
// most MaxSegments. Two trees can only be compared if their shapes are equal.
type Shape struct {
	// Width is the fan-out of every interior node.
	Width int
	// Depth is the number of levels below the root; the segments are at depth Depth.
	Depth int
}

// DefaultShape returns the shape Cartwheel uses for a ring partition: Width 32,
// Depth 2, hence 1024 segments.
//
// Why: with 10^4..10^5 keys per partition a segment holds about 10 to 100 keys,
// so repairing a differing segment means listing only a few keys; depth 2
// bounds an exchange to 2 rounds of Children calls (root children, then the
// segments under each differing child), which matters when every call is a
// network or S3 round trip; each reply is 32 hashes (512 bytes); and the
// encoded tree is 16 KiB, small enough for one S3 object, one SQS message
// (256 KiB) or one DynamoDB item (400 KB).
func DefaultShape() Shape { return Shape{Width: 32, Depth: 2} }

// Validate returns an error wrapping ErrInvalidShape if s violates the
// constraints documented on Shape, nil otherwise.
func (s Shape) Validate() error {
	if s.Width < MinWidth || s.Width > MaxWidth || s.Width&(s.Width-1) != 0 {
		return fmt.Errorf("%w: width %d is not a power of two in [%d, %d]", ErrInvalidShape, s.Width, MinWidth, MaxWidth)
	}
	if s.Depth < 1 {
		return fmt.Errorf("%w: depth %d < 1", ErrInvalidShape, s.Depth)
	}
	if s.Depth*bits.TrailingZeros(uint(s.Width)) > bits.TrailingZeros(MaxSegments) {
		return fmt.Errorf("%w: %d^%d segments exceed %d", ErrInvalidShape, s.Width, s.Depth, MaxSegments)
	}
	return nil
}

// Segments returns Width^Depth, the number of leaves. The result is only
// meaningful for a valid shape.
func (s Shape) Segments() int { return s.nodes(s.Depth) }

// nodes returns Width^d, the number of nodes at depth d (for a valid shape).
func (s Shape) nodes(d int) int { return 1 << (d * bits.TrailingZeros(uint(s.Width))) }

// Hash is a 16-byte hash: a key hash (MD5 of the user key), a version hash
// (the MD5 of the replica's canonical bytes, i.e. its S3 ETag), or a tree node
// hash.
type Hash [16]byte

// SegmentOf returns the segment, in [0, shape.Segments()), that holds the key
// with hash key. It uses the low 8 bytes of the hash (bytes 8..15 as a
// big-endian uint64) modulo the segment count: ring partitions are chosen by
// the top bits, so all keys of one partition share them and they would put
// every key in the same segment. shape must be valid.
func SegmentOf(shape Shape, key Hash) int {
	return int(binary.BigEndian.Uint64(key[8:]) & uint64(shape.Segments()-1))
}

// Domain prefixes of H.
const (
	pairPrefix     = 0x00
	interiorPrefix = 0x01
)

// pairHash returns H(key || version), the contribution of one pair to its
// segment.
func pairHash(key, version Hash) Hash {
	var buf [1 + 2*len(Hash{})]byte
	buf[0] = pairPrefix
	copy(buf[1:], key[:])
	copy(buf[1+len(key):], version[:])
	sum := sha256.Sum256(buf[:])
	return Hash(sum[:16])
}

// Tree is a fixed-shape Merkle tree over (key hash, version hash) pairs. Create
// one with New (or decode one with UnmarshalBinary into a new(Tree)); the zero
// Tree has no shape and only UnmarshalBinary may be called on it.
type Tree struct {
	shape Shape
	// levels[d] holds the Width^d node hashes of depth d; levels[Depth] are
	// the segments, always up to date.
	levels [][]Hash
	// dirty[d][i] (d < Depth) marks an interior node whose cached hash is
	// stale. Invariant: the parent of a dirty node is dirty.
	dirty [][]bool
	// digest and scratch make interior hashing allocation-free.
	digest  hash.Hash
	scratch [sha256.Size]byte
}

// New returns an empty tree of the given shape. It panics if the shape is
// invalid (check it with Validate first when it comes from input).
func New(shape Shape) *Tree {
	if err := shape.Validate(); err != nil {
		panic(fmt.Sprintf("merkle.New: %v", err))
	}
	t := &Tree{shape: shape, digest: sha256.New()}
	t.levels = make([][]Hash, shape.Depth+1)
	t.dirty = make([][]bool, shape.Depth)
	for d := range t.levels {
		t.levels[d] = make([]Hash, shape.nodes(d))
		if d < shape.Depth {
			t.dirty[d] = make([]bool, shape.nodes(d))
			for i := range t.dirty[d] {
				t.dirty[d][i] = true
			}
		}
	}
	return t
}

// Shape returns the tree's shape.
func (t *Tree) Shape() Shape { return t.shape }

// Insert adds the pair (key, version) to the tree: it XORs H(key || version)
// into the key's segment. Inserting the same pair twice cancels it out, so each
// pair present in the data must be inserted exactly once.
func (t *Tree) Insert(key, version Hash) {
	t.toggle(SegmentOf(t.shape, key), pairHash(key, version))
}

// Remove removes the pair (key, version) from the tree. It is the same XOR as
// Insert. Removing a pair that was never inserted corrupts nothing
// structurally (the tree stays a valid tree), but the tree then no longer
// matches the data: it holds that phantom pair until it is inserted or removed
// again.
func (t *Tree) Remove(key, version Hash) { t.Insert(key, version) }

// Update replaces the version of key: it removes (key, oldVersion) and inserts
// (key, newVersion). The same caveat as Remove applies if (key, oldVersion) was
// not in the tree.
func (t *Tree) Update(key, oldVersion, newVersion Hash) {
	seg := SegmentOf(t.shape, key)
	t.toggle(seg, pairHash(key, oldVersion))
	t.toggle(seg, pairHash(key, newVersion))
}

func (t *Tree) toggle(seg int, h Hash) {
	leaf := &t.levels[t.shape.Depth][seg]
	for i := range leaf {
		leaf[i] ^= h[i]
	}
	t.markDirty(seg)
}

// markDirty marks the ancestors of segment seg dirty, stopping at the first
// one already dirty (its own ancestors are then dirty by the invariant).
func (t *Tree) markDirty(seg int) {
	shift := bits.TrailingZeros(uint(t.shape.Width))
	i := seg
	for d := t.shape.Depth - 1; d >= 0; d-- {
		i >>= shift
		if t.dirty[d][i] {
			return
		}
		t.dirty[d][i] = true
	}
}

// refresh recomputes the hash of interior node (d, i) if it is dirty.
func (t *Tree) refresh(d, i int) {
	if !t.dirty[d][i] {
		return
	}
	w := t.shape.Width
	children := t.levels[d+1][i*w : (i+1)*w]
	if d+1 < t.shape.Depth {
		for j := range children {
			t.refresh(d+1, i*w+j)
		}
	}
	t.digest.Reset()
	t.scratch[0] = interiorPrefix
	t.digest.Write(t.scratch[:1])
	for j := range children {
		t.digest.Write(children[j][:]) // not a range copy: that would escape
	}
	t.levels[d][i] = Hash(t.digest.Sum(t.scratch[:0])[:16])
	t.dirty[d][i] = false
}

// Root returns the root hash. Two trees of the same shape have the same root
// exactly when (barring hash collisions) they hold the same pairs.
func (t *Tree) Root() Hash {
	t.refresh(0, 0)
	return t.levels[0][0]
}

// Segment returns the hash of segment i (the XOR of its pair hashes; all zero
// for an empty segment). It panics if i is not in [0, Segments).
func (t *Tree) Segment(i int) Hash { return t.levels[t.shape.Depth][i] }

// Level returns a copy of the Width child hashes of interior node (depth,
// index): for depth 0 the root's children, for depth Depth-1 the segments
// index*Width .. index*Width+Width-1. It panics if (depth, index) names no
// interior node (0 <= depth < Depth, 0 <= index < Width^depth); Children is
// the checked form.
func (t *Tree) Level(depth, index int) []Hash {
	c, err := t.Children(depth, index)
	if err != nil {
		panic(err)
	}
	return c
}

// Children implements Remote for a local tree: it returns a copy of the Width
// child hashes of interior node (depth, index), or an error wrapping
// ErrOutOfRange if (depth, index) names no interior node.
func (t *Tree) Children(depth, index int) ([]Hash, error) {
	if depth < 0 || depth >= t.shape.Depth || index < 0 || index >= t.shape.nodes(depth) {
		return nil, fmt.Errorf("%w: (%d, %d) in a %dx%d tree", ErrOutOfRange, depth, index, t.shape.Width, t.shape.Depth)
	}
	w := t.shape.Width
	if depth+1 < t.shape.Depth {
		for j := range w {
			t.refresh(depth+1, index*w+j)
		}
	}
	return append([]Hash(nil), t.levels[depth+1][index*w:(index+1)*w]...), nil
}

// Equal reports whether t and o have the same shape and the same segment
// hashes (hence the same interior hashes and the same encoding).
func (t *Tree) Equal(o *Tree) bool {
	if t.shape != o.shape {
		return false
	}
	if len(t.levels) == 0 || len(o.levels) == 0 {
		return len(t.levels) == len(o.levels) // zero Trees
	}
	a, b := t.levels[t.shape.Depth], o.levels[o.shape.Depth]
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of t, independent of it.
func (t *Tree) Clone() *Tree {
	c := &Tree{shape: t.shape, digest: sha256.New()}
	c.levels = make([][]Hash, len(t.levels))
	for d := range t.levels {
		c.levels[d] = append([]Hash(nil), t.levels[d]...)
	}
	c.dirty = make([][]bool, len(t.dirty))
	for d := range t.dirty {
		c.dirty[d] = append([]bool(nil), t.dirty[d]...)
	}
	return c
}

// Merge returns a new tree holding the union of the pairs of a and b, which
// must be disjoint (a pair present in both cancels out: its segment hashes are
// XORed). It returns an error wrapping ErrShapeMismatch if the shapes differ.
// a and b are not modified.
func Merge(a, b *Tree) (*Tree, error) {
	if a.shape != b.shape {
		return nil, fmt.Errorf("merkle.Merge: %w: %dx%d vs %dx%d", ErrShapeMismatch, a.shape.Width, a.shape.Depth, b.shape.Width, b.shape.Depth)
	}
	m := New(a.shape)
	leaves := m.levels[m.shape.Depth]
	la, lb := a.levels[a.shape.Depth], b.levels[b.shape.Depth]
	for s := range leaves {
		for k := range leaves[s] {
			leaves[s][k] = la[s][k] ^ lb[s][k]
		}
	}
	return m, nil
}
