package coordtest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// ListKeysCost: a key listing over a backend lists every node once per 1,000
// objects and, with a cold cache, reads one replica object per key (the
// replicas agree, so one ETag per key); a second listing through the same
// coordinator reads nothing. Pages are whole and in byte order, a deleted
// key is left out, and a node down (fewer than W) does not change the answer.
// The pages after the first come from its snapshot, with no request, in the
// process that made it, and from a new scan in another.
func ListKeysCost(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co := c.Coordinator()
	const keys = 60
	var want []string
	for i := range keys {
		k := fmt.Sprintf("list/%03d", i)
		if _, err := co.Put(ctx, k, "", val("v"), coordinator.Options{W: coordinator.QuorumAll}); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	if _, err := co.Delete(ctx, "list/007", "", coordinator.Options{W: coordinator.QuorumAll}); err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(k string) bool { return k == "list/007" })
	co.Wait()

	lister := c.Coordinator()
	page := func(co *coordinator.Coordinator, cur coordinator.ListCursor, limit int) coordinator.KeyPage {
		t.Helper()
		p, err := co.ListKeys(ctx, "list/", cur, limit)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	nodes := len(c.Cluster.Nodes)
	first := page(lister, coordinator.ListCursor{}, 25)
	if !slices.Equal(first.Keys, want[:25]) || !first.More || first.Next.After != want[24] || first.Next.Snapshot == "" {
		t.Fatalf("first page: %q (more %v, next %+v)", first.Keys, first.More, first.Next)
	}
	if first.Lists != nodes || first.Gets != keys {
		t.Errorf("cold page: %d LISTs and %d GETs, want %d (one per node) and %d (one per key)", first.Lists, first.Gets, nodes, keys)
	}
	second := page(lister, first.Next, 20)
	if !slices.Equal(second.Keys, want[25:45]) || !second.More || second.Lists+second.Gets != 0 {
		t.Fatalf("second page, from the snapshot: %q (more %v), %d LISTs %d GETs", second.Keys, second.More, second.Lists, second.Gets)
	}
	warm := page(lister, coordinator.ListCursor{After: second.Next.After}, 100)
	if !slices.Equal(warm.Keys, want[45:]) || warm.More {
		t.Fatalf("third page, scanned again: %q (more %v)", warm.Keys, warm.More)
	}
	if warm.Lists != nodes || warm.Gets != 0 {
		t.Errorf("warm page: %d LISTs and %d GETs, want %d and 0", warm.Lists, warm.Gets, nodes)
	}
	if other := page(c.Coordinator(), second.Next, 100); !slices.Equal(other.Keys, want[45:]) || other.More {
		t.Fatalf("the cursor in another process (no snapshot): %q (more %v)", other.Keys, other.More)
	}
	t.Logf("%d keys on %d nodes: cold page %d LISTs %d GETs; from the snapshot %d LISTs %d GETs; warm page %d LISTs %d GETs",
		keys, nodes, first.Lists, first.Gets, second.Lists, second.Gets, warm.Lists, warm.Gets)

	all := func() []string {
		p, err := lister.ListKeys(ctx, "list/", coordinator.ListCursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		return p.Keys
	}
	c.Down("n1", true)
	defer c.Down("n1", false)
	if got := all(); !slices.Equal(got, want) {
		t.Errorf("n1 down: %q", got)
	}
	c.Down("n2", true)
	defer c.Down("n2", false)
	if _, err := lister.ListKeys(ctx, "list/", coordinator.ListCursor{}, 100); err == nil {
		t.Error("two nodes down (W=2): a listing that may miss keys answered")
	}
}
