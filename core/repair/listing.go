package repair

import (
	"crypto/md5"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/merkle"
	"github.com/cartwheel/cartwheel/core/ring"
)

// This file is the pure half of the exchange: object names, listings, trees
// and the keys in which replicas differ. No I/O.

// hashHexLen is the length of a key hash in an object name (MD5, hex).
const hashHexLen = 32

// ParseDataName returns the key hash of a replica object name
// "data/<32 lowercase hex digits>", and false for any other name.
func ParseDataName(name string) (merkle.Hash, bool) {
	rest, ok := strings.CutPrefix(name, kv.DataPrefix)
	if !ok {
		return merkle.Hash{}, false
	}
	return parseHash(rest)
}

func parseHash(s string) (merkle.Hash, bool) {
	var h merkle.Hash
	if len(s) != hashHexLen || strings.ToLower(s) != s {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true
}

// dataName is the object name of the replica with key hash h.
func dataName(h merkle.Hash) string { return kv.DataPrefix + hex.EncodeToString(h[:]) }

// ParseHintName splits a hinted replica's name "hints/<32 hex>/<intended>"
// into its key hash and the id of the node it is held for.
func ParseHintName(name string) (merkle.Hash, string, bool) {
	rest, ok := strings.CutPrefix(name, kv.HintPrefix)
	if !ok || len(rest) < hashHexLen+2 || rest[hashHexLen] != '/' {
		return merkle.Hash{}, "", false
	}
	h, ok := parseHash(rest[:hashHexLen])
	intended := rest[hashHexLen+1:]
	if !ok || !kv.ValidNodeID(intended) {
		return merkle.Hash{}, "", false
	}
	return h, intended, true
}

// hintKeyPrefix is the name prefix of every hinted replica of key hash h.
func hintKeyPrefix(h merkle.Hash) string { return kv.HintPrefix + hex.EncodeToString(h[:]) + "/" }

// normETag strips an entity tag's quotes and lowercases it, as S3 compares them.
func normETag(etag string) string { return strings.ToLower(strings.Trim(etag, `"`)) }

// sameETag reports whether two entity tags name the same bytes; an empty one
// (no object) equals only another empty one.
func sameETag(a, b string) bool { return normETag(a) == normETag(b) }

// ETagOf is the entity tag S3 gives an object holding data (a single-part
// upload without KMS encryption): the quoted hex MD5 of the bytes.
func ETagOf(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// VersionHash is the version hash of a replica for its Merkle tree: the MD5
// its ETag carries. Replica encodings are canonical, so replicas that hold the
// same versions have the same bytes, hence the same ETag and version hash.
// An ETag that is not a plain MD5 (a multipart upload) is hashed instead: it
// still identifies the object's bytes, only less usefully.
func VersionHash(etag string) merkle.Hash {
	e := normETag(etag)
	if h, ok := parseHash(e); ok {
		return h
	}
	return md5.Sum([]byte(e))
}

// partitionNames returns the names bounding partition p of q on a node:
// every replica object of a key in p has a name in [lo, hi], and after is
// the greatest name before lo ("" for partition 0), to start a listing at p.
// Names are hex hashes of fixed length, so the order of names is the order of
// the hash space and a partition is one contiguous name range.
func partitionNames(q, p int) (lo, hi, after string) {
	first, last := ring.PartitionRange(q, p)
	lo = kv.DataPrefix + hex.EncodeToString(first[:])
	hi = kv.DataPrefix + hex.EncodeToString(last[:])
	if p > 0 {
		_, prev := ring.PartitionRange(q, p-1)
		after = kv.DataPrefix + hex.EncodeToString(prev[:])
	}
	return lo, hi, after
}

// Listing is one replica's view of one partition, built from LIST pages
// alone: the ETag of every replica object by key hash, and the fixed-shape
// Merkle tree of the (key hash, version hash) pairs.
type Listing struct {
	ETags map[merkle.Hash]string
	Tree  *merkle.Tree
}

// NewListing builds the listing of one replica's partition from its listed
// objects. Names that are not replica object names are ignored.
func NewListing(shape merkle.Shape, entries []kv.Listed) Listing {
	return newListing(merkle.New(shape), entries)
}

// newListing builds a listing into tree, which must be empty.
func newListing(tree *merkle.Tree, entries []kv.Listed) Listing {
	l := Listing{ETags: make(map[merkle.Hash]string, len(entries)), Tree: tree}
	for _, e := range entries {
		h, ok := ParseDataName(e.Name)
		if !ok {
			continue
		}
		if _, dup := l.ETags[h]; dup {
			continue // a store never lists a name twice; stay consistent if one did
		}
		l.ETags[h] = e.ETag
		l.Tree.Insert(h, VersionHash(e.ETag))
	}
	return l
}

// clear removes every pair from l's tree (an XOR, like inserting them), so
// the tree is empty again and can be reused.
func (l Listing) clear() {
	for h, e := range l.ETags {
		l.Tree.Remove(h, VersionHash(e))
	}
}

// DifferingSegments returns the sorted segments whose hashes are not the same
// in every listing. It compares every listing's tree with the first one's
// (merkle.Diff, top-down): segment hashes are equal or not, so a segment
// differs between some pair of replicas exactly when it differs between the
// first replica and some other, and N-1 comparisons find what all N(N-1)/2
// pairs would.
func DifferingSegments(ls []Listing) []int {
	var out []int
	for _, l := range ls[min(1, len(ls)):] {
		out = append(out, merkle.DiffTrees(ls[0].Tree, l.Tree)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DifferingKeys returns, sorted, the key hashes whose replicas are not the
// same object in every listing: absent from some, or with different ETags.
// Only keys in the differing segments are looked at, so replicas that agree
// cost a tree comparison and no key-by-key work.
func DifferingKeys(shape merkle.Shape, ls []Listing) []merkle.Hash {
	segs := DifferingSegments(ls)
	if len(segs) == 0 {
		return nil
	}
	in := make(map[int]bool, len(segs))
	for _, s := range segs {
		in[s] = true
	}
	seen := map[merkle.Hash]bool{}
	var out []merkle.Hash
	for _, l := range ls {
		for h := range l.ETags {
			if seen[h] || !in[merkle.SegmentOf(shape, h)] {
				continue
			}
			seen[h] = true
			if !agree(ls, h) {
				out = append(out, h)
			}
		}
	}
	slices.SortFunc(out, func(a, b merkle.Hash) int { return strings.Compare(string(a[:]), string(b[:])) })
	return out
}

// agree reports whether every listing holds key h with the same ETag.
func agree(ls []Listing, h merkle.Hash) bool {
	first, ok := ls[0].ETags[h]
	if !ok {
		return false
	}
	for _, l := range ls[1:] {
		e, ok := l.ETags[h]
		if !ok || !sameETag(e, first) {
			return false
		}
	}
	return true
}
