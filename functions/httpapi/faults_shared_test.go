package httpapi

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
)

// container is one API process (one Lambda container): its own coordinator
// and fault injector over the shared storage, queue and membership.
type container struct {
	h      *Handler
	faults *faults.Store
}

func newContainer(t *testing.T, store kv.ReplicaStore, hints kv.HintQueue, members kv.Membership) container {
	t.Helper()
	f := faults.New(store, func() float64 { return 0.5 }, nil)
	apply := func(c kv.Cluster) {
		modes := map[kv.Location]faults.Mode{}
		for _, n := range c.Nodes {
			if m, ok := c.Faults[n.ID]; ok {
				modes[n.Location] = m
			}
		}
		if err := f.Replace(modes); err != nil {
			t.Error(err)
		}
	}
	var seq atomic.Uint64
	cfg := coordinator.DefaultConfig()
	cfg.ClusterTTL = 0 // re-read membership on every request, as after the cache period
	co, err := coordinator.New(cfg, coordinator.Deps{
		Store: f, Hints: hints, Members: members, Now: time.Now, Rand: func() uint64 { return seq.Add(1) }, OnView: apply,
	})
	if err != nil {
		t.Fatal(err)
	}
	return container{h: New(Deps{Coord: co, Members: members, Hints: hints, Faults: f, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}), faults: f}
}

// A fault injected through one container applies in every container: the
// admin API stores it in membership (issue: fault injection in AWS, where
// each Lambda container has its own memory).
func TestFaultsAreSharedThroughMembership(t *testing.T) {
	store, hints, members := kvmem.NewStore(), kvmem.NewHintQueue(time.Second, 10), kvmem.NewMembership()
	var nodes []kv.Node
	for i, z := range []string{"a", "b", "c"} {
		id := "n" + string(rune('1'+i))
		nodes = append(nodes, kv.Node{ID: id, Zone: z, Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 16
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := members.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	a, b := newContainer(t, store, hints, members), newContainer(t, store, hints, members)
	if r := do(t, a.h, event(t, "apigw-v2-request-iam.json", "PUT", "/admin/faults/n2", []byte(`{"mode":"down"}`), nil)); r.StatusCode != 200 {
		t.Fatalf("inject: %+v", r)
	}
	// Container b learns of it on its next request (it reloads membership).
	if r := do(t, b.h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/kv/k", []byte("v"), nil)); r.StatusCode != 204 {
		t.Fatalf("put on b: %+v", r)
	}
	if got := b.faults.Mode(kv.Location{Bucket: "b", Prefix: "n2/"}); got.Kind != "down" {
		t.Fatalf("container b does not apply the fault: %+v", got)
	}
	if r := do(t, b.h, event(t, "apigw-v2-request-iam.json", "GET", "/admin/faults", nil, nil)); r.StatusCode != 200 || r.Body != `{"faults":{"n2":{"mode":"down"}}}` {
		t.Fatalf("faults listed by b: %+v", r)
	}
	// Clearing through b clears it in a too.
	if r := do(t, b.h, event(t, "apigw-v2-request-iam.json", "DELETE", "/admin/faults/n2", nil, nil)); r.StatusCode != 204 {
		t.Fatalf("clear: %+v", r)
	}
	if r := do(t, a.h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/kv/k", nil, nil)); r.StatusCode != 200 {
		t.Fatalf("get on a: %+v", r)
	}
	if got := a.faults.Mode(kv.Location{Bucket: "b", Prefix: "n2/"}); got.Kind != "" {
		t.Fatalf("container a still applies a cleared fault: %+v", got)
	}
}
