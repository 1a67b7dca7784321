package quorum

import "testing"

// BenchmarkRead records three replies to a (3,2) read.
func BenchmarkRead(b *testing.B) {
	merge := func(a, b int) int { return max(a, b) }
	equal := func(a, b int) bool { return a == b }
	b.ReportAllocs()
	for b.Loop() {
		r := NewRead(2, 3, merge, equal)
		r.Record("n1", 1)
		if r.Record("n2", 2) != Won {
			b.Fatal("not won")
		}
		r.Record("n3", 2)
		r.Stale()
	}
}

// BenchmarkWrite records a (3,2) write with one failure and a fallback.
func BenchmarkWrite(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w := NewWrite(2, 3)
		w.Record("n1", true)
		w.Record("n2", false)
		w.AddCandidates(1)
		w.Record("n3", true)
		if w.Vote() != Won {
			b.Fatal("not won")
		}
	}
}
