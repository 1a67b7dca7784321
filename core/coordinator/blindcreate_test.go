package coordinator

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestBlindPutCreatesWithoutRead: a put with an empty context (a blind put,
// or the put after a get that found nothing) first tries a create-only PUT
// at its coordinating replica, so a new key costs no GET; where the key
// exists the create loses its condition and the put reads, merges and
// writes as before: the new version becomes a sibling of what was there,
// never replaces it.
func TestBlindPutCreatesWithoutRead(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := newEnv(t, rapid.IntRange(3, 5).Draw(rt, "nodes"))
		co, err := New(e.config(), e.deps())
		if err != nil {
			rt.Fatal(err)
		}
		key := fmt.Sprintf("k%d", rapid.IntRange(0, 1000).Draw(rt, "key"))
		existing := rapid.IntRange(0, 2).Draw(rt, "existing") // blind versions already there
		var want []string
		for i := range existing {
			v := fmt.Sprintf("old%d", i)
			if _, err := co.Put(context.Background(), key, "", val(v), Options{}); err != nil {
				rt.Fatal(err)
			}
			want = append(want, v)
		}
		co.Wait()
		before := e.store.TotalCounts()
		if _, err := co.Put(context.Background(), key, "", val("new"), Options{}); err != nil {
			rt.Fatal(err)
		}
		co.Wait()
		gets := e.store.TotalCounts().Get - before.Get
		if existing == 0 && gets != 0 {
			rt.Fatalf("a blind put of a new key sent %d GETs, want 0", gets)
		}
		g, err := co.Get(context.Background(), key, Options{R: 3})
		if err != nil {
			rt.Fatal(err)
		}
		want = append(want, "new")
		got := liveValues(g.Siblings)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			rt.Fatalf("after the blind put: %v, want %v", got, want)
		}
	})
}
