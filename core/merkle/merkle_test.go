package merkle

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// Note on collisions: every property below compares XORs of 16-byte hashes; a
// false "equal" needs a 128-bit collision, astronomically unlikely, so the
// properties are stated as exact equalities.

func md5Hash(format string, args ...any) Hash {
	return md5.Sum(fmt.Appendf(nil, format, args...))
}

func hashGen() *rapid.Generator[Hash] {
	return rapid.Custom(func(t *rapid.T) Hash {
		var h Hash
		copy(h[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "bytes"))
		return h
	})
}

// shapeGen draws small shapes, so that segments collide and every depth is
// exercised.
func shapeGen() *rapid.Generator[Shape] {
	return rapid.Custom(func(t *rapid.T) Shape {
		return Shape{
			Width: 1 << rapid.IntRange(1, 3).Draw(t, "log2width"),
			Depth: rapid.IntRange(1, 3).Draw(t, "depth"),
		}
	})
}

type pair struct{ key, version Hash }

func build(shape Shape, data map[Hash]Hash) *Tree {
	t := New(shape)
	for k, v := range data {
		t.Insert(k, v)
	}
	return t
}

// naiveDiff returns the sorted segments whose sets of (key, version) pairs
// differ between a and b.
func naiveDiff(shape Shape, a, b map[Hash]Hash) []int {
	segs := map[int]bool{}
	for k, va := range a {
		if vb, ok := b[k]; !ok || va != vb {
			segs[SegmentOf(shape, k)] = true
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			segs[SegmentOf(shape, k)] = true
		}
	}
	return slices.Sorted(maps.Keys(segs))
}

// codecRemote serves Children from a tree that went through MarshalBinary and
// UnmarshalBinary, as a transport would.
func codecRemote(t interface{ Fatal(...any) }, tree *Tree) *Tree {
	enc, err := tree.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out Tree
	if err := out.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	return &out
}

// countingRemote counts the calls made through it.
type countingRemote struct {
	Remote
	calls int
}

func (c *countingRemote) Children(depth, index int) ([]Hash, error) {
	c.calls++
	return c.Remote.Children(depth, index)
}

func TestDiffMatchesNaive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		shape := shapeGen().Draw(t, "shape")
		a := rapid.MapOfN(hashGen(), hashGen(), 0, 40).Draw(t, "a")
		b := maps.Clone(a)
		for k := range a {
			switch rapid.IntRange(0, 5).Draw(t, "change") {
			case 0:
				delete(b, k)
			case 1:
				b[k] = hashGen().Draw(t, "newversion")
			}
		}
		for k, v := range rapid.MapOfN(hashGen(), hashGen(), 0, 5).Draw(t, "extra") {
			b[k] = v
		}
		ta, tb := build(shape, a), build(shape, b)
		want := naiveDiff(shape, a, b)

		if got := DiffTrees(ta, tb); !slices.Equal(got, want) {
			t.Fatalf("DiffTrees = %v, want %v", got, want)
		}
		if got := DiffTrees(tb, ta); !slices.Equal(got, want) {
			t.Fatalf("DiffTrees reversed = %v, want %v", got, want)
		}
		remote := &countingRemote{Remote: codecRemote(t, tb)}
		got, err := Diff(ta, remote)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Diff over codec = %v, want %v", got, want)
		}
		if limit := 1 + len(want)*(shape.Depth-1); remote.calls > limit {
			t.Fatalf("Diff made %d calls for %d differing segments, depth %d: more than %d", remote.calls, len(want), shape.Depth, limit)
		}
		if (len(want) == 0) != (ta.Root() == tb.Root()) {
			t.Fatalf("roots equal = %v but %d segments differ", ta.Root() == tb.Root(), len(want))
		}
	})
}

func TestInsertOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		shape := shapeGen().Draw(t, "shape")
		data := rapid.MapOfN(hashGen(), hashGen(), 0, 40).Draw(t, "data")
		var pairs []pair
		for k, v := range data {
			pairs = append(pairs, pair{k, v})
		}
		slices.SortFunc(pairs, func(x, y pair) int { return bytes.Compare(x.key[:], y.key[:]) })
		perm := rapid.Permutation(pairs).Draw(t, "perm")

		a, b := New(shape), New(shape)
		for _, p := range pairs {
			a.Insert(p.key, p.version)
		}
		for _, p := range perm {
			b.Insert(p.key, p.version)
			// Interleaved reads must not disturb the lazy recomputation.
			if rapid.Bool().Draw(t, "readRoot") {
				b.Root()
			}
		}
		if !a.Equal(b) || a.Root() != b.Root() {
			t.Fatal("insertion order changed the tree")
		}
		ea, _ := a.MarshalBinary()
		eb, _ := b.MarshalBinary()
		if !bytes.Equal(ea, eb) {
			t.Fatal("equal trees encoded differently")
		}
		// A decoded tree recomputes every interior node from scratch.
		if fresh := codecRemote(t, b); fresh.Root() != b.Root() {
			t.Fatal("incrementally maintained root differs from a full recomputation")
		}
	})
}

func TestInsertThenRemoveIsEmpty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		shape := shapeGen().Draw(t, "shape")
		data := rapid.MapOfN(hashGen(), hashGen(), 0, 40).Draw(t, "data")
		empty := New(shape)
		tr := build(shape, data)
		if len(data) > 0 && tr.Root() == empty.Root() {
			t.Fatal("non-empty tree has the empty root")
		}
		for k, v := range data {
			tr.Remove(k, v)
		}
		if tr.Root() != empty.Root() || !tr.Equal(empty) {
			t.Fatal("insert then remove did not return to the empty tree")
		}
	})
}

func TestMergeDisjointHalves(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		shape := shapeGen().Draw(t, "shape")
		data := rapid.MapOfN(hashGen(), hashGen(), 0, 40).Draw(t, "data")
		left, right := map[Hash]Hash{}, map[Hash]Hash{}
		for k, v := range data {
			if rapid.Bool().Draw(t, "left") {
				left[k] = v
			} else {
				right[k] = v
			}
		}
		ta, tb := build(shape, left), build(shape, right)
		rootA := ta.Root()
		m, err := Merge(ta, tb)
		if err != nil {
			t.Fatal(err)
		}
		all := build(shape, data)
		if !m.Equal(all) || m.Root() != all.Root() {
			t.Fatal("Merge of disjoint halves differs from the tree of the union")
		}
		if ta.Root() != rootA {
			t.Fatal("Merge modified its input")
		}
	})
}

func TestUpdate(t *testing.T) {
	shape := Shape{Width: 4, Depth: 2}
	a, b := New(shape), New(shape)
	for i := range 50 {
		a.Insert(md5Hash("k%d", i), md5Hash("v1-%d", i))
		b.Insert(md5Hash("k%d", i), md5Hash("v1-%d", i))
	}
	a.Update(md5Hash("k7"), md5Hash("v1-7"), md5Hash("v2-7"))
	seg := SegmentOf(shape, md5Hash("k7"))
	if got := DiffTrees(a, b); !slices.Equal(got, []int{seg}) {
		t.Fatalf("after Update, diff = %v, want [%d]", got, seg)
	}
	b.Remove(md5Hash("k7"), md5Hash("v1-7"))
	b.Insert(md5Hash("k7"), md5Hash("v2-7"))
	if !a.Equal(b) || a.Root() != b.Root() {
		t.Fatal("Update differs from Remove+Insert")
	}
}

// TestHashDefinition pins the hash construction with an independent
// computation, so an accidental change of the format is caught.
func TestHashDefinition(t *testing.T) {
	shape := Shape{Width: 2, Depth: 1}
	tr := New(shape)
	k, v := md5Hash("key"), md5Hash("version")
	tr.Insert(k, v)
	sum := sha256.Sum256(slices.Concat([]byte{0}, k[:], v[:]))
	var leaf Hash
	copy(leaf[:], sum[:16])
	seg := int(k[15] & 1)
	if tr.Segment(seg) != leaf || tr.Segment(1-seg) != (Hash{}) {
		t.Fatalf("segments %x %x, want pair hash %x in segment %d", tr.Segment(0), tr.Segment(1), leaf, seg)
	}
	children := [2]Hash{}
	children[seg] = leaf
	rsum := sha256.Sum256(slices.Concat([]byte{1}, children[0][:], children[1][:]))
	if got := tr.Root(); !bytes.Equal(got[:], rsum[:16]) {
		t.Fatalf("root %x, want %x", got, rsum[:16])
	}
	if got := tr.Level(0, 0); !slices.Equal(got, children[:]) {
		t.Fatalf("Level(0, 0) = %x, want %x", got, children)
	}
}

func TestShape(t *testing.T) {
	d := DefaultShape()
	if err := d.Validate(); err != nil || d.Segments() != 1024 || d.Width != 32 || d.Depth != 2 {
		t.Fatalf("DefaultShape = %+v (%d segments), %v", d, d.Segments(), err)
	}
	for _, s := range []Shape{{2, 1}, {2, 20}, {1024, 2}, {32, 4}, {4, 10}} {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	for _, s := range []Shape{{0, 1}, {1, 1}, {3, 2}, {2048, 1}, {2, 0}, {2, -1}, {2, 21}, {1024, 3}, {-2, 1}, {32, 5}} {
		if err := s.Validate(); !errors.Is(err, ErrInvalidShape) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidShape", s, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New with an invalid shape did not panic")
		}
	}()
	New(Shape{Width: 3, Depth: 1})
}

func TestSegmentOfIgnoresTopBytes(t *testing.T) {
	shape := DefaultShape()
	var k Hash
	k[15] = 0x05
	k[14] = 0x01 // 0x0105 & 1023 = 261
	if got := SegmentOf(shape, k); got != 261 {
		t.Fatalf("SegmentOf = %d, want 261", got)
	}
	for i := range 8 {
		k2 := k
		k2[i] = 0xff
		if SegmentOf(shape, k2) != 261 {
			t.Fatalf("byte %d (a partition bit) changed the segment", i)
		}
	}
	seen := map[int]bool{}
	for i := range 10000 {
		s := SegmentOf(shape, md5Hash("user-key-%d", i))
		if s < 0 || s >= shape.Segments() {
			t.Fatalf("segment %d out of range", s)
		}
		seen[s] = true
	}
	if len(seen) < 1000 {
		t.Fatalf("10^4 keys covered only %d of 1024 segments", len(seen))
	}
}

func TestChildrenAndLevelBounds(t *testing.T) {
	tr := New(Shape{Width: 4, Depth: 3})
	for _, di := range [][2]int{{-1, 0}, {3, 0}, {0, 1}, {1, 4}, {2, 16}, {2, -1}} {
		if _, err := tr.Children(di[0], di[1]); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Children(%d, %d) = %v, want ErrOutOfRange", di[0], di[1], err)
		}
	}
	if c, err := tr.Children(2, 15); err != nil || len(c) != 4 {
		t.Fatalf("Children(2, 15) = %v, %v", c, err)
	}
	orig := tr.Level(1, 0)
	c := tr.Level(1, 0)
	c[0][0] ^= 1 // Level returns a copy
	if tr.Level(1, 0)[0] != orig[0] {
		t.Fatal("Level exposes internal state")
	}
	defer func() {
		if recover() == nil {
			t.Error("Level out of range did not panic")
		}
	}()
	tr.Level(3, 0)
}

type failingRemote struct{ err error }

func (f failingRemote) Children(int, int) ([]Hash, error) { return nil, f.err }

type shortRemote struct{}

func (shortRemote) Children(int, int) ([]Hash, error) { return make([]Hash, 3), nil }

func TestDiffRemoteErrors(t *testing.T) {
	tr := New(DefaultShape())
	boom := errors.New("boom")
	if _, err := Diff(tr, failingRemote{boom}); !errors.Is(err, boom) {
		t.Fatalf("Diff with failing remote = %v, want wrapping boom", err)
	}
	if _, err := Diff(tr, shortRemote{}); !errors.Is(err, ErrBadReply) {
		t.Fatalf("Diff with short reply = %v, want ErrBadReply", err)
	}
	// An error deep in the descent is reported as well.
	other := New(DefaultShape())
	other.Insert(md5Hash("k"), md5Hash("v"))
	deep := &errAfter{Remote: other, n: 1, err: boom}
	if _, err := Diff(tr, deep); !errors.Is(err, boom) {
		t.Fatalf("Diff with remote failing at depth 1 = %v", err)
	}
	// A remote of another shape is rejected by length.
	if _, err := Diff(tr, New(Shape{Width: 16, Depth: 2})); !errors.Is(err, ErrBadReply) {
		t.Fatalf("Diff against another width = %v, want ErrBadReply", err)
	}
}

// errAfter fails every call after the first n.
type errAfter struct {
	Remote
	n   int
	err error
}

func (e *errAfter) Children(depth, index int) ([]Hash, error) {
	if e.n == 0 {
		return nil, e.err
	}
	e.n--
	return e.Remote.Children(depth, index)
}

func TestShapeMismatch(t *testing.T) {
	a, b := New(Shape{Width: 4, Depth: 2}), New(Shape{Width: 4, Depth: 3})
	if _, err := Merge(a, b); !errors.Is(err, ErrShapeMismatch) {
		t.Fatalf("Merge = %v, want ErrShapeMismatch", err)
	}
	if a.Equal(b) {
		t.Fatal("trees of different shapes are Equal")
	}
	defer func() {
		if recover() == nil {
			t.Error("DiffTrees with different shapes did not panic")
		}
	}()
	DiffTrees(a, b)
}

func TestCloneIsIndependent(t *testing.T) {
	a := New(DefaultShape())
	a.Insert(md5Hash("k1"), md5Hash("v1"))
	c := a.Clone()
	if !c.Equal(a) || c.Root() != a.Root() || c.Shape() != a.Shape() {
		t.Fatal("clone differs")
	}
	c.Insert(md5Hash("k2"), md5Hash("v2"))
	if c.Equal(a) || c.Root() == a.Root() {
		t.Fatal("modifying the clone changed the original")
	}
	if got := DiffTrees(a, c); !slices.Equal(got, []int{SegmentOf(a.Shape(), md5Hash("k2"))}) {
		t.Fatalf("diff = %v", got)
	}
}

// TestDiffCallCount checks that Diff costs O(differences × depth) calls, not
// O(segments), on 10^4 keys with 10 and 100 differing keys.
func TestDiffCallCount(t *testing.T) {
	const keys = 10000
	shape := DefaultShape()
	for _, changes := range []int{0, 10, 100} {
		rng := rand.New(rand.NewPCG(1, uint64(changes)))
		local, remote := New(shape), New(shape)
		for i := range keys {
			local.Insert(md5Hash("key-%d", i), md5Hash("v1-%d", i))
			remote.Insert(md5Hash("key-%d", i), md5Hash("v1-%d", i))
		}
		want := map[int]bool{}
		for _, i := range rng.Perm(keys)[:changes] {
			remote.Update(md5Hash("key-%d", i), md5Hash("v1-%d", i), md5Hash("v2-%d", i))
			want[SegmentOf(shape, md5Hash("key-%d", i))] = true
		}
		cr := &countingRemote{Remote: remote}
		got, err := Diff(local, cr)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("%d changes: diff %v, want %v", changes, got, slices.Sorted(maps.Keys(want)))
		}
		limit := len(got)*shape.Depth*2 + shape.Depth
		t.Logf("%d keys, %d changed keys: %d differing segments, %d Children calls (limit %d, %d segments)",
			keys, changes, len(got), cr.calls, limit, shape.Segments())
		if cr.calls > limit {
			t.Fatalf("%d calls > limit %d", cr.calls, limit)
		}
	}
}
