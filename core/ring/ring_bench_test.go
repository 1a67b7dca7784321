package ring

import (
	"fmt"
	"testing"
)

// BenchmarkPreferenceListLarge looks up preference lists on a large ring:
// 300 nodes in three zones over Q=16384, all up and with a primary down.
func BenchmarkPreferenceListLarge(b *testing.B) {
	nodes := make([]Node, 300)
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("n%03d", i), Zone: fmt.Sprintf("az-%d", i%3), Weight: 1}
	}
	r := mustNew(b, 16384, nodes, mustClaim(b, 16384, nodes, nil))
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("cart-%d", i)
	}
	down := r.Primaries(keys[0], 1)[0]
	for _, tc := range []struct {
		name string
		up   func(string) bool
	}{{"all-up", nil}, {"one-down", func(id string) bool { return id != down }}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if len(r.PreferenceList(keys[i%len(keys)], 3, tc.up)) != 3 {
					b.Fatal("short preference list")
				}
				i++
			}
		})
	}
}

// BenchmarkPartition hashes a key to its partition.
func BenchmarkPartition(b *testing.B) {
	r, keys := benchRing(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Partition(keys[i%len(keys)])
		i++
	}
}
