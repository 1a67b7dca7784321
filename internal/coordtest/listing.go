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
	page := func(after string, limit int) coordinator.KeyPage {
		t.Helper()
		p, err := lister.ListKeys(ctx, "list/", after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	nodes := len(c.Cluster.Nodes)
	first := page("", 25)
	if !slices.Equal(first.Keys, want[:25]) || !first.More {
		t.Fatalf("first page: %q (more %v)", first.Keys, first.More)
	}
	if first.Lists != nodes || first.Gets != keys {
		t.Errorf("cold page: %d LISTs and %d GETs, want %d (one per node) and %d (one per key)", first.Lists, first.Gets, nodes, keys)
	}
	second := page(first.Keys[24], 100)
	if !slices.Equal(second.Keys, want[25:]) || second.More {
		t.Fatalf("second page: %q (more %v)", second.Keys, second.More)
	}
	if second.Lists != nodes || second.Gets != 0 {
		t.Errorf("warm page: %d LISTs and %d GETs, want %d and 0", second.Lists, second.Gets, nodes)
	}
	t.Logf("%d keys on %d nodes: cold page %d LISTs %d GETs; warm page %d LISTs %d GETs", keys, nodes, first.Lists, first.Gets, second.Lists, second.Gets)

	c.Down("n1", true)
	defer c.Down("n1", false)
	if p := page("", 100); !slices.Equal(p.Keys, want) {
		t.Errorf("n1 down: %q", p.Keys)
	}
	c.Down("n2", true)
	defer c.Down("n2", false)
	if _, err := lister.ListKeys(ctx, "list/", "", 100); err == nil {
		t.Error("two nodes down (W=2): a listing that may miss keys answered")
	}
}
