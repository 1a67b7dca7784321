package kv_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
)

// The ring-change helpers agree with naive scans over random records.
func TestRingChangeHelpersProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var rc *kv.RingChange
		if rapid.Bool().Draw(t, "change") {
			rc = &kv.RingChange{}
			done := rapid.SliceOfDistinct(rapid.IntRange(0, 15), rapid.ID[int]).Draw(t, "done")
			slices.Sort(done)
			rc.Done = done
			for _, m := range rapid.SliceOf(rapid.IntRange(0, 63)).Draw(t, "marks") {
				rc.Marks = append(rc.Marks, kv.WriteMark{P: m % 16, Epoch: uint64(m / 16)})
			}
		}
		p := rapid.IntRange(0, 15).Draw(t, "p")
		epoch := uint64(rapid.IntRange(0, 4).Draw(t, "epoch"))
		if got, want := rc.IsDone(p), rc != nil && slices.Contains(rc.Done, p); got != want {
			t.Fatalf("IsDone(%d) = %v, want %v (%+v)", p, got, want, rc)
		}
		want := false
		if rc != nil {
			for _, m := range rc.Marks {
				want = want || (m.P == p && m.Epoch > epoch)
			}
		}
		if got := rc.MarkedAfter(p, epoch); got != want {
			t.Fatalf("MarkedAfter(%d, %d) = %v, want %v (%+v)", p, epoch, got, want, rc)
		}

		var c kv.Cluster
		ids := []string{"a", "b", "c"}
		for i, n := 0, rapid.IntRange(0, 6).Draw(t, "cleanups"); i < n; i++ {
			id := rapid.SampledFrom(ids).Draw(t, "id")
			inc := uint64(rapid.IntRange(1, 2).Draw(t, "incarnation"))
			ps := rapid.SliceOfDistinct(rapid.IntRange(0, 15), rapid.ID[int]).Draw(t, "partitions")
			slices.Sort(ps)
			c.Cleanups = append(c.Cleanups, kv.Cleanup{
				Node:       kv.Node{ID: id, Incarnation: inc, Location: kv.Location{Bucket: "b", Prefix: fmt.Sprintf("%s/i%d/", id, inc)}},
				Partitions: ps, Departed: rapid.Bool().Draw(t, "departed"),
			})
		}
		cleaning := false
		for _, cl := range c.Cleanups {
			cleaning = cleaning || slices.Contains(cl.Partitions, p)
		}
		if got := c.CleaningPartition(p); got != cleaning {
			t.Fatalf("CleaningPartition(%d) = %v, want %v", p, got, cleaning)
		}
		id := rapid.SampledFrom(ids).Draw(t, "asked")
		var locs []kv.Location
		for _, cl := range c.Cleanups {
			if cl.Node.ID == id && cl.Departed && !slices.Contains(locs, cl.Node.Location) {
				locs = append(locs, cl.Node.Location)
			}
		}
		nodes := c.DepartedNodes(id)
		if len(nodes) != len(locs) {
			t.Fatalf("DepartedNodes(%s) = %+v, want the locations %+v", id, nodes, locs)
		}
		for i, n := range nodes {
			if n.ID != id || n.Location != locs[i] {
				t.Fatalf("DepartedNodes(%s)[%d] = %+v, want location %+v", id, i, n, locs[i])
			}
		}
		first, ok := c.Departed(id)
		if ok != (len(locs) > 0) || (ok && first.Location != locs[0]) {
			t.Fatalf("Departed(%s) = %+v %v, want the first of %+v", id, first, ok, locs)
		}
	})
}

func TestWriteGuard(t *testing.T) {
	ctx := context.Background()
	if err := kv.CheckWrite(ctx); err != nil {
		t.Fatalf("no guard: %v", err)
	}
	if err := kv.CheckWrite(kv.WithWriteGuard(ctx, nil)); err != nil {
		t.Fatalf("nil guard: %v", err)
	}
	frozen := errors.New("suspended")
	calls := 0
	g := kv.WithWriteGuard(ctx, func() error { calls++; return frozen })
	if err := kv.CheckWrite(g); !errors.Is(err, frozen) || calls != 1 {
		t.Fatalf("guard: %v after %d calls", err, calls)
	}
	open := kv.WithWriteGuard(g, func() error { return nil }) // the innermost guard decides
	if err := kv.CheckWrite(open); err != nil {
		t.Fatalf("inner guard: %v", err)
	}
}

func TestNewContextSecret(t *testing.T) {
	a, b := kv.NewContextSecret(), kv.NewContextSecret()
	if len(a) != kv.MinContextSecret || len(b) != kv.MinContextSecret {
		t.Fatalf("secrets of %d and %d bytes, want %d", len(a), len(b), kv.MinContextSecret)
	}
	if string(a) == string(b) {
		t.Fatal("two secrets are equal")
	}
}

func TestContextKeysValidatePrevious(t *testing.T) {
	now := time.UnixMilli(1_000)
	k := kv.NewContextKeys(kv.NewContextSecret(), now).Rotate(kv.NewContextSecret(), now)
	if err := k.Validate(); err != nil {
		t.Fatalf("rotated keys: %v", err)
	}
	short := k
	prev := *k.Previous
	prev.Secret = prev.Secret[:kv.MinContextSecret-1]
	short.Previous = &prev
	if err := short.Validate(); err == nil {
		t.Fatal("a short previous secret was accepted")
	}
	same := k
	prev = *k.Previous
	prev.ID = k.Current.ID
	same.Previous = &prev
	if err := same.Validate(); err == nil {
		t.Fatal("a previous key with the current key's id was accepted")
	}
}
