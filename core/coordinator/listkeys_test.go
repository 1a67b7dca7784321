package coordinator_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"pgregory.net/rapid"
)

// listAll pages through a listing and checks each page's shape: at most limit
// keys, in strictly increasing byte order across pages, More exactly when
// another page follows with keys.
func listAll(t *testing.T, co *coordinator.Coordinator, prefix string, limit int, between func()) []string {
	t.Helper()
	var out []string
	var cur coordinator.ListCursor
	for {
		p, err := co.ListKeys(context.Background(), prefix, cur, limit)
		if err != nil {
			t.Fatalf("ListKeys(%q, %+v, %d): %v", prefix, cur, limit, err)
		}
		if len(p.Keys) > limit {
			t.Fatalf("page of %d keys, limit %d", len(p.Keys), limit)
		}
		for _, k := range p.Keys {
			if len(out) > 0 && k <= out[len(out)-1] {
				t.Fatalf("key %q after %q: not in byte order or repeated", k, out[len(out)-1])
			}
			out = append(out, k)
		}
		if !p.More {
			return out
		}
		if len(p.Keys) == 0 {
			t.Fatal("More with an empty page")
		}
		between()
		if p.Next.After != p.Keys[len(p.Keys)-1] {
			t.Fatalf("next %+v after the page %q", p.Next, p.Keys)
		}
		cur = p.Next
	}
}

// TestListKeysModel: whatever the history of puts, blind puts, deletes and a
// node down during some of them (writes to fallbacks, tombstones missing on
// the down node), every page sequence of a listing, through a warm or a new
// coordinator, lists exactly the model's live keys with the prefix, each once,
// in byte order. With writes and deletes between the pages, every key live
// and untouched for the whole listing appears (once: the order is strict),
// and no key appears that was never live during it.
func TestListKeysModel(t *testing.T) {
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		c, _, _ := memCluster(t)
		co := c.Coordinator()
		live := map[string]bool{}
		keyGen := rapid.StringOfN(rapid.RuneFrom([]rune{'a', 'b', 'é'}), 1, 3, -1)
		down := ""
		var touched map[string]bool // keys written during a listing
		write := func(op int, key string) {
			if touched != nil {
				touched[key] = true
			}
			switch op {
			case 0: // read-modify-write
				g, err := co.Get(ctx, key, coordinator.Options{})
				if err != nil {
					rt.Fatal(err)
				}
				if _, err := co.Put(ctx, key, g.Context, coordinator.Value{Data: []byte("v")}, coordinator.Options{}); err != nil {
					rt.Fatal(err)
				}
				live[key] = true
			case 1: // blind write
				if _, err := co.Put(ctx, key, "", coordinator.Value{Data: []byte("b")}, coordinator.Options{}); err != nil {
					rt.Fatal(err)
				}
				live[key] = true
			case 2: // delete what a quorum read sees
				if _, err := co.Delete(ctx, key, "", coordinator.Options{}); err != nil {
					rt.Fatal(err)
				}
				// With a node down, the delete's read may be answered by a
				// fallback and a replica the last write has not reached yet
				// (a sloppy quorum), and a version it did not see survives
				// as a sibling: what is left is what every replica shows.
				co.Wait()
				g, err := co.Get(ctx, key, coordinator.Options{R: coordinator.QuorumAll})
				if err != nil {
					rt.Fatal(err)
				}
				live[key] = g.Found()
			}
		}
		check := func(label string) {
			prefix := rapid.SampledFrom([]string{"", "a", "b", "ab", "é", "zz"}).Draw(rt, label+"prefix")
			limit := rapid.IntRange(1, 4).Draw(rt, label+"limit")
			lister := co
			if rapid.Bool().Draw(rt, label+"cold") {
				lister = c.Coordinator()
			}
			concurrent := rapid.Bool().Draw(rt, label+"concurrent")
			before := map[string]bool{}
			for k, ok := range live {
				if ok && strings.HasPrefix(k, prefix) {
					before[k] = true
				}
			}
			touched = map[string]bool{}
			between := func() {
				if concurrent {
					write(rapid.IntRange(0, 2).Draw(rt, "op"), keyGen.Draw(rt, "key"))
				}
			}
			got := listAll(t, lister, prefix, limit, between)
			defer func() { touched = nil }()
			if !concurrent {
				var want []string
				for k := range before {
					want = append(want, k)
				}
				slices.Sort(want)
				if !slices.Equal(got, want) {
					rt.Fatalf("list %q (limit %d, node down %q): %q, want %q", prefix, limit, down, got, want)
				}
				return
			}
			for k := range before {
				if !touched[k] && !slices.Contains(got, k) {
					rt.Fatalf("list %q (limit %d) with writes between pages: %q lacks %q, live and untouched throughout", prefix, limit, got, k)
				}
			}
			for _, k := range got {
				if !before[k] && !touched[k] {
					rt.Fatalf("list %q (limit %d): %q was never live during the listing", prefix, limit, k)
				}
			}
		}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for range steps {
			key := keyGen.Draw(rt, "key")
			switch op := rapid.IntRange(0, 5).Draw(rt, "op"); op {
			case 0, 1, 2:
				write(op, key)
			case 3: // one node down at a time, or back up
				if down != "" {
					c.Down(down, false)
					down = ""
				} else {
					down = rapid.SampledFrom([]string{"n1", "n2", "n3", "n4", "n5"}).Draw(rt, "down")
					c.Down(down, true)
				}
			case 4, 5:
				check("mid")
			}
		}
		co.Wait()
		check("end")
		if down != "" {
			c.Down(down, false)
			check("up")
		}
	})
}
