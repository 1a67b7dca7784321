package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
)

func TestRepairer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := newRepairer(repair.Config{}, repair.Deps{}); err == nil {
		t.Fatal("newRepairer accepted an invalid configuration")
	}
	cfg := repair.DefaultConfig()
	cfg.PlanSettle = 0
	var n uint64
	j, err := newRepairer(cfg, repair.Deps{Store: f.faults, Members: f.members, Handoff: f.co, Now: time.Now, Rand: func() uint64 { n++; return n }})
	if err != nil {
		t.Fatal(err)
	}
	// A write that misses a node leaves a hint: the repair delivers it and
	// reports the queue's drain as RepairResult.Hints.
	down := kv.Location{Bucket: "b", Prefix: "n1/"}
	_ = f.faults.Set(down, faults.Mode{Kind: "down"})
	for i := 0; i < 20; i++ {
		if _, err := f.co.Put(ctx, string(rune('a'+i)), "", coordinator.Value{Data: []byte("v")}, coordinator.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	f.co.Wait()
	_ = f.faults.Set(down, faults.Mode{})
	rr, err := j.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Hints != rr.Handoff.Queue || rr.Hints.Delivered == 0 || rr.AntiEntropy.Partitions != 64 {
		t.Fatalf("repair result: %+v", rr)
	}
	// Plan, commit, reap.
	c, _ := f.members.Load(ctx)
	next, err := membership.AddNode(c, kv.Node{ID: "n6", Zone: "c", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n6/"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.members.Save(ctx, next, c.Epoch); err != nil {
		t.Fatal(err)
	}
	if p, err := j.Plan(ctx); err != nil || !p.Pending {
		t.Fatalf("plan: %+v %v", p, err)
	}
	if rep, err := j.Commit(ctx); err != nil || !rep.Transfers.Committed {
		t.Fatalf("commit: %+v %v", rep.Transfers, err)
	}
	if _, err := j.Commit(ctx); !errors.Is(err, membership.ErrNoPlan) {
		t.Fatalf("second commit: %v", err)
	}
	if rep, err := j.Reap(ctx); err != nil || rep.AntiEntropy.Partitions != 64 {
		t.Fatalf("reap: %+v %v", rep.AntiEntropy, err)
	}
}

// newRepairer is a Repairer over the given ports, for these tests only
// (production Repairers come from infra/wire through RepairerOf).
func newRepairer(cfg repair.Config, deps repair.Deps) (*Repairer, error) {
	r, err := repair.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	return &Repairer{r: r}, nil
}
