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
func listAll(t *testing.T, co *coordinator.Coordinator, prefix string, limit int) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		p, err := co.ListKeys(context.Background(), prefix, after, limit)
		if err != nil {
			t.Fatalf("ListKeys(%q, %q, %d): %v", prefix, after, limit, err)
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
		after = p.Keys[len(p.Keys)-1]
	}
}

// TestListKeysModel: whatever the history of puts, blind puts, deletes and a
// node down during some of them (writes to fallbacks, tombstones missing on
// the down node), every page sequence of a listing, through a warm or a new
// coordinator, lists exactly the model's live keys with the prefix, each once,
// in byte order.
func TestListKeysModel(t *testing.T) {
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		c, _, _ := memCluster(t)
		co := c.Coordinator()
		live := map[string]bool{}
		keyGen := rapid.StringOfN(rapid.RuneFrom([]rune{'a', 'b', 'é'}), 1, 3, -1)
		down := ""
		check := func(label string) {
			prefix := rapid.SampledFrom([]string{"", "a", "b", "ab", "é", "zz"}).Draw(rt, label+"prefix")
			limit := rapid.IntRange(1, 4).Draw(rt, label+"limit")
			lister := co
			if rapid.Bool().Draw(rt, label+"cold") {
				lister = c.Coordinator()
			}
			var want []string
			for k, ok := range live {
				if ok && strings.HasPrefix(k, prefix) {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			if got := listAll(t, lister, prefix, limit); !slices.Equal(got, want) {
				rt.Fatalf("list %q (limit %d, node down %q): %q, want %q", prefix, limit, down, got, want)
			}
		}
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for range steps {
			key := keyGen.Draw(rt, "key")
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1: // read-modify-write
				g, err := co.Get(ctx, key, coordinator.Options{})
				if err != nil {
					rt.Fatal(err)
				}
				if _, err := co.Put(ctx, key, g.Context, coordinator.Value{Data: []byte("v")}, coordinator.Options{}); err != nil {
					rt.Fatal(err)
				}
				live[key] = true
			case 2: // blind write
				if _, err := co.Put(ctx, key, "", coordinator.Value{Data: []byte("b")}, coordinator.Options{}); err != nil {
					rt.Fatal(err)
				}
				live[key] = true
			case 3: // delete what a quorum read sees
				if _, err := co.Delete(ctx, key, "", coordinator.Options{}); err != nil {
					rt.Fatal(err)
				}
				live[key] = false
			case 4: // one node down at a time, or back up
				if down != "" {
					c.Down(down, false)
					down = ""
				} else {
					down = rapid.SampledFrom([]string{"n1", "n2", "n3", "n4", "n5"}).Draw(rt, "down")
					c.Down(down, true)
				}
			case 5:
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
