package ring

import (
	"fmt"
	"testing"
)

// benchRing is Q=4096 over 64 equal nodes in 3 zones.
func benchRing(b *testing.B) (*Ring, []string) {
	nodes := make([]Node, 64)
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("node-%02d", i), Zone: fmt.Sprintf("az-%d", i%3), Weight: 1}
	}
	r := mustNew(b, 4096, nodes, mustClaim(b, 4096, nodes, nil))
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
	}
	return r, keys
}

func BenchmarkPreferenceList(b *testing.B) {
	r, keys := benchRing(b)
	b.Run("all-up", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if len(r.PreferenceList(keys[i%len(keys)], 3, nil)) != 3 {
				b.Fatal("short preference list")
			}
			i++
		}
	})
	b.Run("two-down", func(b *testing.B) {
		up := func(id string) bool { return id != "node-07" && id != "node-42" }
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if len(r.PreferenceList(keys[i%len(keys)], 3, up)) != 3 {
				b.Fatal("short preference list")
			}
			i++
		}
	})
}

func BenchmarkClaim(b *testing.B) {
	for _, tc := range []struct{ q, nodes int }{{4096, 64}, {65536, 512}} {
		nodes := equalNodes(tc.nodes)
		b.Run(fmt.Sprintf("initial/q=%d/nodes=%d", tc.q, tc.nodes), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mustClaim(b, tc.q, nodes, nil)
			}
		})
		prev := mustClaim(b, tc.q, nodes[:tc.nodes-1], nil)
		b.Run(fmt.Sprintf("join/q=%d/nodes=%d", tc.q, tc.nodes), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mustClaim(b, tc.q, nodes, prev)
			}
		})
	}
}

func BenchmarkPartitionsOf(b *testing.B) {
	r, _ := benchRing(b)
	b.ReportAllocs()
	for b.Loop() {
		if len(r.PartitionsOf("node-05", 3)) == 0 {
			b.Fatal("node holds nothing")
		}
	}
}
