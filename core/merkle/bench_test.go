package merkle

import (
	"fmt"
	"testing"
)

func BenchmarkInsert(b *testing.B) {
	const n = 4096
	keys, versions := make([]Hash, n), make([]Hash, n)
	for i := range n {
		keys[i], versions[i] = md5Hash("key-%d", i), md5Hash("v-%d", i)
	}
	tr := New(DefaultShape())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tr.Insert(keys[i%n], versions[i%n])
		i++
	}
}

// BenchmarkInsertRoot measures an insert followed by the lazy recomputation of
// the dirty path up to the root.
func BenchmarkInsertRoot(b *testing.B) {
	tr := sampleTree(DefaultShape(), 10000)
	k, v := md5Hash("extra"), md5Hash("v")
	b.ReportAllocs()
	for b.Loop() {
		tr.Insert(k, v)
		tr.Root()
	}
}

func BenchmarkDiff(b *testing.B) {
	for _, changes := range []int{10, 100} {
		b.Run(fmt.Sprintf("keys=10000/changes=%d", changes), func(b *testing.B) {
			local := sampleTree(DefaultShape(), 10000)
			remote := local.Clone()
			for i := range changes {
				remote.Update(md5Hash("key-%d", i*97), md5Hash("v-%d", i*97), md5Hash("w-%d", i))
			}
			b.ReportAllocs()
			for b.Loop() {
				if len(DiffTrees(local, remote)) == 0 {
					b.Fatal("no differences")
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	tr := sampleTree(DefaultShape(), 10000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}
