package ring

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestHashKeyIsMD5(t *testing.T) {
	// RFC 1321 test vectors.
	for key, want := range map[string]string{
		"":    "d41d8cd98f00b204e9800998ecf8427e",
		"a":   "0cc175b9c0f1b6a831c399e269772661",
		"abc": "900150983cd24fb0d6963f7d28e17f72",
	} {
		h := HashKey(key)
		if got := hex.EncodeToString(h[:]); got != want {
			t.Errorf("HashKey(%q) = %s, want %s", key, got, want)
		}
	}
}

func TestValidQ(t *testing.T) {
	for _, q := range []int{1, 2, 4, 4096, MaxQ} {
		if !ValidQ(q) {
			t.Errorf("ValidQ(%d) = false, want true", q)
		}
	}
	for _, q := range []int{-4, 0, 3, 6, 4095, 2 * MaxQ, 1 << 40} {
		if ValidQ(q) {
			t.Errorf("ValidQ(%d) = true, want false", q)
		}
	}
}

func TestPartitionOfExamples(t *testing.T) {
	h := [16]byte{0xAB, 0xCD}
	for q, want := range map[int]int{1: 0, 2: 1, 16: 0xA, 256: 0xAB, 4096: 0xABC, MaxQ: 0xABCD} {
		if got := PartitionOf(q, h); got != want {
			t.Errorf("PartitionOf(%d, %x) = %d, want %d", q, h, got, want)
		}
	}
	first, last := PartitionRange(16, 0xA)
	wantFirst := [16]byte{0xA0}
	wantLast := [16]byte{0xAF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	if first != wantFirst || last != wantLast {
		t.Errorf("PartitionRange(16, 10) = %x, %x; want %x, %x", first, last, wantFirst, wantLast)
	}
	first, last = PartitionRange(1, 0)
	if first != ([16]byte{}) || last != [16]byte(bytes.Repeat([]byte{0xFF}, 16)) {
		t.Errorf("PartitionRange(1, 0) = %x, %x; want the whole space", first, last)
	}
}

func TestPartitionRangeTilesHashSpace(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := genQ(t, 0, 16)
		p := rapid.IntRange(0, q-1).Draw(t, "p")
		first, last := PartitionRange(q, p)
		if PartitionOf(q, first) != p || PartitionOf(q, last) != p {
			t.Fatalf("q=%d p=%d: bounds %x..%x map to %d..%d", q, p, first, last, PartitionOf(q, first), PartitionOf(q, last))
		}
		if bytes.Compare(first[:], last[:]) > 0 {
			t.Fatalf("q=%d p=%d: first %x > last %x", q, p, first, last)
		}
		// The next partition starts right after last (last+1 == next first).
		if p+1 < q {
			next, _ := PartitionRange(q, p+1)
			succ := last
			for i := 15; i >= 0; i-- {
				succ[i]++
				if succ[i] != 0 {
					break
				}
			}
			if succ != next {
				t.Fatalf("q=%d p=%d: last+1 = %x, next first = %x", q, p, succ, next)
			}
		}
		// Any hash maps into the range of its partition.
		var h [16]byte
		copy(h[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "hash"))
		hp := PartitionOf(q, h)
		lo, hi := PartitionRange(q, hp)
		if bytes.Compare(lo[:], h[:]) > 0 || bytes.Compare(h[:], hi[:]) > 0 {
			t.Fatalf("q=%d: hash %x in partition %d but outside %x..%x", q, h, hp, lo, hi)
		}
	})
}

func TestPartitionFunctionsPanicOnBadArguments(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("PartitionOf(3)", func() { PartitionOf(3, [16]byte{}) })
	mustPanic("PartitionRange(3, 0)", func() { PartitionRange(3, 0) })
	mustPanic("PartitionRange(4, 4)", func() { PartitionRange(4, 4) })
	mustPanic("PartitionRange(4, -1)", func() { PartitionRange(4, -1) })
	r := mustNew(t, 4, equalNodes(2), []string{"n000", "n001", "n000", "n001"})
	mustPanic("WalkPartition(4)", func() { r.WalkPartition(4) })
	mustPanic("PrimariesOfPartition(-1, 0)", func() { r.PrimariesOfPartition(-1, 0) })
	mustPanic("PreferenceListOfPartition(9, 0)", func() { r.PreferenceListOfPartition(9, 0, nil) })
}

func TestMoved(t *testing.T) {
	for _, tc := range []struct {
		prev, next []string
		want       int
	}{
		{nil, nil, 0},
		{[]string{"a", "b"}, []string{"a", "b"}, 0},
		{[]string{"a", "b", "c"}, []string{"a", "c", "b"}, 2},
		{nil, []string{"a", "b"}, 2},
		{[]string{"a", "b", "c"}, []string{"a"}, 2},
	} {
		if got := Moved(tc.prev, tc.next); got != tc.want {
			t.Errorf("Moved(%q, %q) = %d, want %d", tc.prev, tc.next, got, tc.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	nodes := []Node{{ID: "a", Zone: "z1", Weight: 1}, {ID: "b", Zone: "z2", Weight: 2}}
	for _, tc := range []struct {
		name   string
		q      int
		nodes  []Node
		owners []string
		want   error
	}{
		{"q not power of two", 3, nodes, []string{"a", "b", "a"}, ErrBadConfig},
		{"q zero", 0, nodes, nil, ErrBadConfig},
		{"q too large", 2 * MaxQ, nodes, nil, ErrBadConfig},
		{"owners too short", 4, nodes, []string{"a", "b"}, ErrBadConfig},
		{"no nodes", 1, nil, []string{"a"}, ErrBadConfig},
		{"empty id", 1, []Node{{ID: "", Weight: 1}}, []string{""}, ErrBadConfig},
		{"zero weight", 1, []Node{{ID: "a", Weight: 0}}, []string{"a"}, ErrBadConfig},
		{"weight too large", 1, []Node{{ID: "a", Weight: MaxWeight + 1}}, []string{"a"}, ErrBadConfig},
		{"duplicate", 2, []Node{{ID: "a", Weight: 1}, {ID: "a", Zone: "other", Weight: 1}}, []string{"a", "a"}, ErrDuplicateNode},
		{"unknown owner", 2, nodes, []string{"a", "c"}, ErrUnknownNode},
		{"empty owner", 2, nodes, []string{"a", ""}, ErrUnknownNode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.q, tc.nodes, tc.owners)
			if !errors.Is(err, tc.want) {
				t.Fatalf("New: err = %v, want %v", err, tc.want)
			}
			if r != nil {
				t.Fatalf("New returned a ring with error %v", err)
			}
		})
	}
}

func TestRingAccessorsReturnCopies(t *testing.T) {
	nodes := []Node{{ID: "c", Zone: "z1", Weight: 1}, {ID: "a", Zone: "z2", Weight: 2}, {ID: "b", Zone: "z1", Weight: 1}}
	owners := []string{"a", "b", "a", "a"} // c owns nothing: allowed
	r := mustNew(t, 4, nodes, owners)
	owners[0] = "c"    // New copied its input
	nodes[0].ID = "zz" // likewise
	if r.Q() != 4 {
		t.Errorf("Q() = %d, want 4", r.Q())
	}
	if got := r.Owners(); !slices.Equal(got, []string{"a", "b", "a", "a"}) {
		t.Errorf("Owners() = %q", got)
	}
	if r.Owner(1) != "b" {
		t.Errorf("Owner(1) = %q, want b", r.Owner(1))
	}
	got := r.Nodes()
	if ids := []string{got[0].ID, got[1].ID, got[2].ID}; !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("Nodes() not sorted by ID: %q", ids)
	}
	got[0].ID = "mutated"
	r.Owners()[0] = "mutated"
	if n, ok := r.Node("a"); !ok || n != (Node{ID: "a", Zone: "z2", Weight: 2}) {
		t.Errorf(`Node("a") = %+v, %v`, n, ok)
	}
	if r.Owner(0) != "a" {
		t.Errorf("mutating Owners() changed the ring")
	}
	if _, ok := r.Node("zz"); ok {
		t.Errorf(`Node("zz") found a node`)
	}
	if walk := r.WalkPartition(0); !slices.Equal(walk, []string{"a", "b"}) {
		t.Errorf("WalkPartition(0) = %q; c owns nothing and must not appear", walk)
	}
	if p := r.Partition("k"); p != PartitionOf(4, HashKey("k")) {
		t.Errorf("Partition(k) = %d", p)
	}
}

// TestNodeIDCollisions mirrors buraksezer/consistent's replica-key collision
// test: IDs that would collide if suffixed with a replica index ("1" + "1:"
// vs "11" + ":") must be independent nodes, and a truly repeated ID must be
// rejected, never silently merged or overwritten.
func TestNodeIDCollisions(t *testing.T) {
	var nodes []Node
	for _, id := range []string{"1", "1:", "11", "11:", "1:1", ":11"} {
		nodes = append(nodes, Node{ID: id, Zone: id, Weight: 1})
	}
	owners := mustClaim(t, 64, nodes, nil)
	c := counts(owners)
	for _, n := range nodes {
		if c[n.ID] < 10 || c[n.ID] > 11 {
			t.Errorf("node %q owns %d of 64 partitions, want 10 or 11", n.ID, c[n.ID])
		}
	}
	r := mustNew(t, 64, nodes, owners)
	if walk := r.Walk("key"); len(walk) != len(nodes) {
		t.Errorf("Walk lists %d nodes, want %d", len(walk), len(nodes))
	}

	for _, dup := range [][]Node{
		{{ID: "1", Weight: 1}, {ID: "1", Weight: 1}},
		{{ID: "1:", Zone: "a", Weight: 1}, {ID: "x", Weight: 1}, {ID: "1:", Zone: "b", Weight: 3}},
	} {
		if _, err := Claim(64, dup, nil); !errors.Is(err, ErrDuplicateNode) {
			t.Errorf("Claim with nodes %v: err = %v, want ErrDuplicateNode", dup, err)
		}
		if _, err := New(1, dup, []string{"1"}); !errors.Is(err, ErrDuplicateNode) {
			t.Errorf("New with nodes %v: err = %v, want ErrDuplicateNode", dup, err)
		}
	}
}

func TestErrorsCarryContext(t *testing.T) {
	_, err := Claim(16, []Node{{ID: "a", Weight: 1}, {ID: "b", Weight: -2}}, nil)
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err = %v, want ErrBadConfig", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"b"`) || !strings.Contains(msg, "-2") {
		t.Errorf("error %q does not name the node and weight", msg)
	}
	_, err = New(8, equalNodes(1), slices.Repeat([]string{"n000"}, 4))
	if want := fmt.Sprintf("len(owners)=%d", 4); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %s", err, want)
	}
}
