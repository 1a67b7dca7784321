package merkle

import (
	"fmt"
)

// Remote is the far side of an exchange: any transport that can fetch the
// child hashes of one interior node of the remote tree. The remote tree must
// have the same Shape as the local one (agree on it out of band, e.g. from the
// encoded tree's header); a reply of the wrong length is rejected, but a remote
// of the same Width and another Depth is not detectable. *Tree implements
// Remote.
type Remote interface {
	// Children returns the Width child hashes of interior node (depth, index),
	// indexed as documented on the package: depth 0 is the root, the children
	// of (d, i) are (d+1, i*Width+j), and 0 <= depth < Depth.
	Children(depth, index int) ([]Hash, error)
}

// Diff compares local with remote top-down and returns the sorted indexes of
// the segments whose hashes differ (nil when the trees are equal). It fetches the root's children, then descends only into
// differing children, so it makes 1 + (differing interior nodes below the root)
// calls to remote.Children: at most 1 + d*(Depth-1) for d differing segments,
// never one per segment. It returns an error wrapping the remote's error, or
// ErrBadReply if a reply does not hold Width hashes.
func Diff(local *Tree, remote Remote) ([]int, error) {
	var out []int
	if err := local.diffNode(remote, 0, 0, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// diffNode appends to out the differing segments under interior node (d, i),
// visiting children in index order so out stays sorted.
func (t *Tree) diffNode(remote Remote, d, i int, out *[]int) error {
	theirs, err := remote.Children(d, i)
	if err != nil {
		return fmt.Errorf("merkle.Diff: children of (%d, %d): %w", d, i, err)
	}
	w := t.shape.Width
	if len(theirs) != w {
		return fmt.Errorf("merkle.Diff: children of (%d, %d): %w: %d hashes, want %d", d, i, ErrBadReply, len(theirs), w)
	}
	if d+1 < t.shape.Depth {
		for j := range w {
			t.refresh(d+1, i*w+j)
		}
	}
	ours := t.levels[d+1][i*w : (i+1)*w]
	for j := range w {
		if ours[j] == theirs[j] {
			continue
		}
		c := i*w + j
		if d+1 == t.shape.Depth {
			*out = append(*out, c)
			continue
		}
		if err := t.diffNode(remote, d+1, c, out); err != nil {
			return err
		}
	}
	return nil
}

// DiffTrees returns the sorted indexes of the segments that differ between
// two local trees. It panics if their shapes differ.
func DiffTrees(a, b *Tree) []int {
	if a.shape != b.shape {
		panic(fmt.Sprintf("merkle.DiffTrees: %v: %dx%d vs %dx%d", ErrShapeMismatch, a.shape.Width, a.shape.Depth, b.shape.Width, b.shape.Depth))
	}
	out, err := Diff(a, b)
	if err != nil {
		panic(err) // unreachable: a local tree of the same shape never fails
	}
	return out
}
