package crdt

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// TestCartStateSize measures the state of a cart of 100 items (a map of
// item -> counter) after 10,000 operations from 3 replicas: increments,
// and removes (with the context of a read just before) each followed by a
// new item, with replicas merging every few operations. Removed items
// leave nothing behind (no tombstones), so the state stays the size of the
// items present.
func TestCartStateSize(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	rs := []*replica{{actor: "n1.1.3k8v2x"}, {actor: "n2.1.9q4m1z"}, {actor: "n3.1.7c2p0w"}}
	for _, r := range rs {
		r.st = New(Map)
	}
	next := 0
	inc := func(r *replica, item string) {
		n := int64(1)
		if err := r.commit(Op{Type: Map, Update: map[string]Op{item: {Type: Counter, Increment: &n}}}, nil, 1); err != nil {
			t.Fatal(err)
		}
	}
	for next < 100 {
		next++
		inc(rs[0], fmt.Sprintf("sku-%05d", next))
	}
	rs[1].st, rs[2].st = rs[0].st, rs[0].st
	removed := 0
	for op := 0; op < 10_000; op++ {
		r := rs[rnd.Intn(3)]
		if op%4 == 0 { // replication catches up
			for _, o := range rs {
				r.st = Merge(r.st, o.st)
			}
		}
		ctx := r.st // the client reads this replica, and acts on what it sees
		seen := make([]string, 0, len(ctx.Root.Fields))
		for f := range ctx.Root.Fields {
			seen = append(seen, f.Name)
		}
		slices.Sort(seen)
		if len(seen) == 0 {
			continue
		}
		item := seen[rnd.Intn(len(seen))]
		if rnd.Intn(10) < 7 {
			inc(r, item)
			continue
		}
		if err := r.commit(Op{Type: Map, Remove: []string{item}}, &ctx, 1); err != nil {
			t.Fatal(err)
		}
		removed++
		if len(seen) <= 100 {
			next++
			inc(r, fmt.Sprintf("sku-%05d", next))
		}
	}
	all := rs[0].st
	for _, o := range rs[1:] {
		all = Merge(all, o.st)
	}
	size := len(Encode(all))
	fields := len(all.Root.Fields)
	extra := 0
	for _, e := range all.Clock {
		extra += len(e.Extra)
	}
	t.Logf("cart after 10,000 operations (%d removes, %d items ever): %d fields, %d dots, %d clock entries (%d gap events), %d bytes (%.1f per field)",
		removed, next, fields, len(all.Dots()), len(all.Clock), extra, size, float64(size)/float64(fields))
	if fields > 100+10 || size > fields*64 || extra > 0 {
		t.Fatalf("the state grew with history: %d fields, %d bytes", fields, size)
	}
}
