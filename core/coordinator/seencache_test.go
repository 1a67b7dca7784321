package coordinator

import (
	"fmt"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// TestSeenCacheNeedsCoverage: an entry serves only a context that covers
// its clock (equal or later); the oldest key goes first when full.
func TestSeenCacheNeedsCoverage(t *testing.T) {
	c := newSeenCache(2)
	at := func(n uint64) vclock.Clock {
		o, _ := vclock.Update(vclock.Object{Key: "k"}, nil, "a", vclock.Sibling{Value: []byte("v")}, 1)
		for i := uint64(1); i < n; i++ {
			o, _ = vclock.Update(o, o.Clock, "a", vclock.Sibling{Value: []byte("v")}, int64(i+1))
		}
		return o.Clock
	}
	c.record("k", kv.Seen{Node: "n1", ETag: "e2"}, at(2))
	for n, want := range map[uint64]bool{1: false, 2: true, 3: true} {
		if _, ok := c.lookup("k", "n1", at(n)); ok != want {
			t.Errorf("context at a:%d: hit %v, want %v", n, ok, want)
		}
	}
	if _, ok := c.lookup("k", "n2", at(3)); ok {
		t.Error("a node never recorded was found")
	}
	c.record("k2", kv.Seen{Node: "n1"}, nil)
	c.record("k3", kv.Seen{Node: "n1"}, nil)
	if _, ok := c.lookup("k", "n1", at(3)); ok {
		t.Error("the oldest key was kept past the bound")
	}
	if _, ok := c.lookup("k3", "n1", nil); !ok {
		t.Error("the newest key was dropped")
	}
}

// TestSeenCacheStaleEntry: a coordinator's cached replica state goes stale
// when another coordinator writes; its next put loses that replica's
// condition, reads and merges, and both writes survive as siblings.
func TestSeenCacheStaleEntry(t *testing.T) {
	for i := range 20 {
		key := fmt.Sprintf("stale-%d", i)
		e := newEnv(t, 3)
		co, other := e.coord(), e.coord()
		mustPut(t, co, key, "", "v0", Options{})
		g := mustGet(t, co, key, Options{}) // the late reply is cached
		mustPut(t, other, key, g.Context, "x", Options{})
		before := co.Stats().CASRetries.Load()
		mustPut(t, co, key, g.Context, "y", Options{}) // concurrent with x
		// Three lost conditions: the two replicas the context named, and
		// the one the cache named (without the cache it is read first).
		if n := co.Stats().CASRetries.Load() - before; n != 3 {
			t.Fatalf("%s: %d conditions lost, want 3: the stale entry was not tried", key, n)
		}
		got := mustGet(t, co, key, Options{R: QuorumAll})
		if vals := liveValues(got.Siblings); fmt.Sprint(vals) != "[x y]" {
			t.Fatalf("%s: get = %v, want [x y]", key, vals)
		}
		for _, id := range e.primaries(key) {
			if vals := e.values(id, key); fmt.Sprint(vals) != "[x y]" {
				t.Fatalf("%s: primary %s holds %v, want [x y]", key, id, vals)
			}
		}
	}
}
