package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// ---- requests: argument and limit errors ------------------------------------

func TestDeleteWithBadKey(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	for _, tok := range []string{"", "x"} {
		if _, err := co.Delete(context.Background(), "", tok, Options{}); !errors.Is(err, kv.ErrBadKey) {
			t.Fatalf("Delete of an empty key (token %q) = %v, want ErrBadKey", tok, err)
		}
	}
	if _, err := co.Delete(context.Background(), "k", "", Options{R: 7}); !errors.Is(err, kv.ErrBadRequest) {
		t.Fatalf("Delete with R=7 = %v, want ErrBadRequest", err)
	}
	if e.faults.Counts().Total() != 0 {
		t.Fatal("rejected requests reached the store")
	}
}

// A put whose replica object would exceed MaxObjectBytes is rejected before
// anything is written; resolving the siblings is still possible.
func TestTooLargeObjectRejected(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord(func(c *Config) { c.Limits.MaxValueBytes = 100; c.Limits.MaxObjectBytes = 150 })
	big := strings.Repeat("a", 80)
	mustPut(t, co, "k", "", big, Options{})
	data := func() []string {
		var out []string
		for _, id := range e.primaries("k") {
			b, _ := e.store.Get(context.Background(), e.loc(id), kv.DataName("k"))
			out = append(out, string(b.Data))
		}
		return out
	}
	before := data()
	_, err := co.Put(context.Background(), "k", "", val(strings.Repeat("b", 80)), Options{})
	if !errors.Is(err, kv.ErrTooManySiblings) || !strings.Contains(err.Error(), "bytes, over the limit of 150") {
		t.Fatalf("second blind put = %v, want ErrTooManySiblings for size", err)
	}
	co.Wait()
	if got := co.Stats().SiblingRejects.Load(); got != 1 {
		t.Fatalf("SiblingRejects = %d", got)
	}
	if !slices.Equal(data(), before) {
		t.Fatal("a rejected put changed a replica")
	}
	// The rejection is the client's fault, not the node's.
	if s := co.Suspects(); len(s) != 0 {
		t.Fatalf("a rejected put made nodes suspect: %v", s)
	}
	g := mustGet(t, co, "k", Options{})
	mustPut(t, co, "k", g.Context, strings.Repeat("c", 80), Options{})
	if got := mustGet(t, co, "k", Options{R: 3}); !slices.Equal(liveValues(got.Siblings), []string{strings.Repeat("c", 80)}) {
		t.Fatalf("after resolving: %v", liveValues(got.Siblings))
	}
}

func TestManySiblingsWarning(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord(func(c *Config) { c.Limits.WarnSiblings = 1 })
	mustPut(t, co, "k", "", "a", Options{})
	mustGet(t, co, "k", Options{})
	if e.logs.has("many siblings") {
		t.Fatal("warned about a single version")
	}
	mustPut(t, co, "k", "", "b", Options{})
	g := mustGet(t, co, "k", Options{})
	if len(g.Siblings) != 2 || !e.logs.has("many siblings") {
		t.Fatalf("%d siblings, warned=%v", len(g.Siblings), e.logs.has("many siblings"))
	}
	if got := co.Stats().MaxSiblings.Load(); got != 2 {
		t.Fatalf("MaxSiblings = %d", got)
	}
}

// With a prune policy, client writes prune old clock entries (never those of
// actors with live versions); without one, the clock keeps every entry.
func TestPruneOption(t *testing.T) {
	for _, prune := range []bool{false, true} {
		t.Run(fmt.Sprint("prune=", prune), func(t *testing.T) {
			e := newEnv(t, 3)
			co := e.coord(func(c *Config) {
				if prune {
					c.Prune = &vclock.PrunePolicy{Small: 1, Big: 1, Young: 0, Old: 0}
				}
			})
			key := "pruned"
			// History: five old actors, one of which still has a live version.
			old := vclock.Object{Key: key}
			for i := 1; i <= 5; i++ {
				old.Clock = append(old.Clock, vclock.Entry{Actor: vclock.Actor(fmt.Sprintf("old%d.1.x", i)), Counter: 1, Time: int64(i)})
			}
			old.Siblings = []vclock.Sibling{{Dot: vclock.Dot{Actor: "old1.1.x", Counter: 1}, Time: 1, Value: []byte("ancient")}}
			if err := old.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, id := range e.primaries(key) {
				if _, err := e.store.Put(context.Background(), e.loc(id), kv.DataName(key), vclock.Encode(old), "old1.1.x", ""); err != nil {
					t.Fatal(err)
				}
			}
			mustPut(t, co, key, "", "new", Options{}) // blind: a sibling of "ancient"
			for _, id := range e.primaries(key) {
				o, _ := e.object(id, kv.DataName(key), key)
				if got := liveValues(o.Live()); !slices.Equal(got, []string{"ancient", "new"}) {
					t.Fatalf("%s holds %v", id, got)
				}
			}
			// The version is committed (and pruned) at the coordinating
			// replica, the first primary.
			o, _ := e.object(e.primaries(key)[0], kv.DataName(key), key)
			if prune && (len(o.Clock) != 2 || o.Clock.Counter("old1.1.x") != 1) {
				t.Fatalf("pruned clock has %d entries (%v), want the 2 actors with live versions", len(o.Clock), o.Clock)
			}
			if !prune && len(o.Clock) != 6 {
				t.Fatalf("unpruned clock has %d entries (%v), want 6", len(o.Clock), o.Clock)
			}
		})
	}
}
