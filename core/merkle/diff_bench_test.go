package merkle

import (
	"fmt"
	"testing"
)

// copyRemote serves a tree's children as copies, as a remote replica's
// exchange would (each reply is a fresh slice).
type copyRemote struct {
	t     *Tree
	calls int
}

func (r *copyRemote) Children(depth, index int) ([]Hash, error) {
	r.calls++
	h, err := r.t.Children(depth, index)
	return append([]Hash(nil), h...), err
}

// BenchmarkDiffRemote runs the anti-entropy exchange: Diff against a Remote,
// descending only into differing subtrees.
func BenchmarkDiffRemote(b *testing.B) {
	for _, changes := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("keys=10000/changes=%d", changes), func(b *testing.B) {
			local := sampleTree(DefaultShape(), 10000)
			other := local.Clone()
			for i := range changes {
				other.Update(md5Hash("key-%d", i*97), md5Hash("v-%d", i*97), md5Hash("w-%d", i))
			}
			remote := &copyRemote{t: other}
			b.ReportAllocs()
			for b.Loop() {
				segs, err := Diff(local, remote)
				if err != nil || len(segs) == 0 {
					b.Fatal("no differences", err)
				}
			}
			b.ReportMetric(float64(remote.calls)/float64(b.N), "fetches/op")
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data, err := sampleTree(DefaultShape(), 10000).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var t Tree
		if err := t.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}
