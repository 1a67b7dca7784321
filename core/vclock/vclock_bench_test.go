package vclock

import (
	"fmt"
	"testing"
)

// benchClock returns a clock of n actors named like replica actors
// ("node-07.3.9f2c...": node, incarnation, nonce), counters from seed.
func benchClock(n int, seed uint64) Clock {
	var c Clock
	for i := range n {
		c = append(c, Entry{Actor: Actor(fmt.Sprintf("node-%02d.1.%016x", i, uint64(i)*0x9e3779b97f4a7c15)), Counter: seed + uint64(i)*3 + 1, Time: 1_700_000_000_000 + int64(i)})
	}
	return c
}

// benchObject is a key's object with n siblings of size bytes each, minted
// by n different replica actors, under a clock of actors entries.
func benchObject(actors, n, size int) Object {
	o := Object{Key: "user:1234567"}
	val := make([]byte, size)
	for i := range n {
		a := Actor(fmt.Sprintf("node-%02d.1.%016x", i, uint64(i)*0x9e3779b97f4a7c15))
		o, _ = Update(o, nil, a, Sibling{Value: val, ContentType: "application/json"}, 1_700_000_000_000+int64(i))
	}
	for i := n; i < actors; i++ {
		o.Clock = Merge(o.Clock, Clock{{Actor: Actor(fmt.Sprintf("node-%02d.1.%016x", i, uint64(i)*0x9e3779b97f4a7c15)), Counter: 5, Time: 1}})
	}
	return o
}

func BenchmarkCompare(b *testing.B) {
	for _, n := range []int{3, 10, 50} {
		x, y := benchClock(n, 1), benchClock(n, 1)
		y[n/2].Counter++ // y descends x
		b.Run(fmt.Sprintf("actors=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if x.Compare(y) != Before {
					b.Fatal("wrong ordering")
				}
			}
		})
	}
}

func BenchmarkMerge(b *testing.B) {
	for _, n := range []int{3, 10, 50} {
		x, y := benchClock(n, 1), benchClock(n, 2)
		b.Run(fmt.Sprintf("actors=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(Merge(x, y)) != n {
					b.Fatal("wrong merge")
				}
			}
		})
	}
}

func BenchmarkMergeObjects(b *testing.B) {
	for _, tc := range []struct{ actors, siblings int }{{3, 1}, {3, 3}, {10, 5}} {
		x := benchObject(tc.actors, tc.siblings, 1024)
		// y: x plus one more write that supersedes x's first sibling only.
		y, _ := Update(x, Clock{{Actor: x.Siblings[0].Dot.Actor, Counter: x.Siblings[0].Dot.Counter}}, "node-99.1.0000000000000001",
			Sibling{Value: make([]byte, 1024)}, 1_700_000_001_000)
		b.Run(fmt.Sprintf("actors=%d/siblings=%d", tc.actors, tc.siblings), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				MergeObjects(x, y)
			}
		})
	}
}

func BenchmarkUpdate(b *testing.B) {
	local := benchObject(3, 1, 1024)
	ctx := local.Clock
	v := Sibling{Value: make([]byte, 1024), ContentType: "application/json"}
	b.ReportAllocs()
	for b.Loop() {
		Update(local, ctx, local.Siblings[0].Dot.Actor, v, 1_700_000_002_000)
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, tc := range []struct{ actors, siblings, size int }{{3, 1, 1024}, {3, 3, 1024}, {10, 1, 64 << 10}} {
		o := benchObject(tc.actors, tc.siblings, tc.size)
		b.Run(fmt.Sprintf("actors=%d/siblings=%d/value=%d", tc.actors, tc.siblings, tc.size), func(b *testing.B) {
			b.SetBytes(int64(len(Encode(o))))
			b.ReportAllocs()
			for b.Loop() {
				Encode(o)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, tc := range []struct{ actors, siblings, size int }{{3, 1, 1024}, {3, 3, 1024}, {10, 1, 64 << 10}} {
		data := Encode(benchObject(tc.actors, tc.siblings, tc.size))
		lim := DecodeLimits()
		b.Run(fmt.Sprintf("actors=%d/siblings=%d/value=%d", tc.actors, tc.siblings, tc.size), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(data, lim); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReconcileQuorum is what a (3,2) get does with its replies: merge
// three replica objects, one of them stale.
func BenchmarkReconcileQuorum(b *testing.B) {
	old := benchObject(3, 1, 1024)
	cur, _ := Update(old, old.Clock, old.Siblings[0].Dot.Actor, Sibling{Value: make([]byte, 1024)}, 1_700_000_003_000)
	b.ReportAllocs()
	for b.Loop() {
		if r := Reconcile(cur, old, cur); len(r.Siblings) != 1 {
			b.Fatal("wrong reconcile")
		}
	}
}
