package repairtest

import (
	"context"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
)

// DepartedFallbackHintNotReaped (issue 22, defect 1): a put leaves v1 as a
// hinted replica on a fallback F; the key is deleted; F becomes unreachable
// and is removed (the commit goes ahead without it); the reaper runs on the
// three primaries; F answers again and its clean-up and the queued hint
// deliver v1. The deleted key must stay deleted: no key is reaped while a
// departed node that may hold a hinted replica of it cannot be listed.
func DepartedFallbackHintNotReaped(f *Ring) {
	ctx := context.Background()
	f.PutBatch("live", 5)
	key := f.Keys("dfh", 1, func(_, _ []string) bool { return true })[0]
	prim := f.Primaries(key)
	f.Down(true, prim[0])
	if !f.Put(f.Coord(), key, "v1", 2) {
		f.T.Fatal("put failed")
	}
	hints := f.TakeHints()
	if len(hints) != 1 {
		f.T.Fatalf("setup: hints %+v", hints)
	}
	fb := hints[0].Fallback
	f.Down(false, prim[0])
	f.Delete(key)
	f.Down(true, fb)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, fb) })
	f.CommitFresh()
	if _, err := f.Cluster().Node(fb); err == nil {
		f.T.Fatal("setup: the fallback is still a member")
	}
	f.Advance(2 * time.Hour)
	f.RunFresh()
	if _, err := f.Proc().Reap(ctx); err != nil {
		f.T.Fatal(err)
	}
	f.Down(false, fb)
	_ = f.Coord().DeliverHint(ctx, hints[0])
	f.CleanFresh()
	f.RunFresh()
	f.Check("after the departed fallback answered again")
	f.Advance(2 * time.Hour)
	if rep, err := f.Proc().Reap(ctx); err != nil || rep.AntiEntropy.Reaped == 0 {
		f.T.Fatalf("the key was never reaped once the fallback was clean: %+v %v", rep.AntiEntropy, err)
	}
	f.Check("after the reap")
}

// ReplannedCopiesCleaned (issue 22, defect 2): n5's removal is planned and
// its transfers fill the pending owners; "node state n5 active" re-plans
// (no plan left). The copies the transfers made are cleaned up, so keys
// deleted and reaped afterwards do not come back when n5's removal is
// planned again and the same nodes become pending owners again.
func ReplannedCopiesCleaned(f *Ring) {
	ctx := context.Background()
	f.PutBatch("k", 40)
	before := f.Cluster()
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNodeAt(c, "n5", f.Now()) })
	planned := f.Cluster()
	r := f.Proc(func(c *repair.Config) { c.AutoCommit = false })
	f.MustRun(r)
	f.Advance(f.Settle + time.Second)
	if tr := f.MustRun(r).Transfers; tr.Moves == 0 || tr.Done != tr.Moves || tr.Committed {
		f.T.Fatalf("transfers: %+v", tr)
	}
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetStateAt(c, "n5", kv.StateActive, f.Now()) })
	if c := f.Cluster(); c.Next != nil {
		f.T.Fatal("setup: a plan is still pending")
	}
	f.Check("right after the re-plan")
	f.CleanFresh()
	for k := range f.acked {
		if !slices.Equal(primariesOf(f.T, before, before.Owners, k), primariesOf(f.T, planned, planned.Next, k)) {
			f.Delete(k)
		}
	}
	if len(f.deleted) == 0 {
		f.T.Fatal("setup: no key was to move")
	}
	f.Advance(2 * time.Hour)
	f.RunFresh()
	if rep, err := f.Proc().Reap(ctx); err != nil || rep.AntiEntropy.Reaped == 0 {
		f.T.Fatalf("reap: %+v %v", rep.AntiEntropy, err)
	}
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNodeAt(c, "n5", f.Now()) })
	f.CommitFresh()
	f.CleanFresh()
	f.RunFresh()
	f.Check("after n5's removal was planned again")
}

// ReaddedTwiceKeepsFirstCleanup (issue 22, defect 3): a put is acknowledged
// by n5 alone (W=1); n5 is removed while unreachable; it is added again (a
// new incarnation and location) and removed again. Both locations keep their
// clean-ups: when the first one answers again its copy is merged, and the
// acknowledged write is read back.
func ReaddedTwiceKeepsFirstCleanup(f *Ring) {
	key := f.Keys("twice", 1, func(now, _ []string) bool { return slices.Contains(now, "n5") })[0]
	f.Down(true, "n1", "n2", "n3", "n4")
	if !f.Put(f.Coord(), key, "v-"+key, 1) {
		f.T.Fatal("put on n5 alone failed")
	}
	f.Down(false, "n1", "n2", "n3", "n4")
	first := f.nodes["n5"].Location
	f.Down(true, "n5")
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	f.CommitFresh()
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n5", "z2")) })
	if f.nodes["n5"].Location == first {
		f.T.Fatal("setup: the re-added node got its old location")
	}
	f.CommitFresh()
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	f.CommitFresh()
	if !slices.ContainsFunc(f.Cluster().Cleanups, func(cl kv.Cleanup) bool { return cl.Node.Location == first }) {
		f.T.Errorf("the first location's clean-up was forgotten: %+v", f.Cluster().Cleanups)
	}
	if err := f.C.Faults.Set(first, faults.Mode{}); err != nil {
		f.T.Fatal(err)
	}
	f.CleanFresh()
	f.RunFresh()
	f.Check("after the first location answered again")
}

// CleanupOfNodeMarkedDown (found by internal/ringmodel): n1 gets a clean-up
// while the health job has it marked down (here: n5's removal is planned,
// making n1 a pending owner, and re-planned away); once n1 is active again
// its clean-up finishes. The record's copy of the node, taken when the
// clean-up was recorded, said down, and the exchange skipped it for ever.
func CleanupOfNodeMarkedDown(f *Ring) {
	f.PutBatch("k", 20)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNodeAt(c, "n5", f.Now()) })
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, "n1", kv.StateDown) })
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetStateAt(c, "n5", kv.StateActive, f.Now()) })
	if !slices.ContainsFunc(f.Cluster().Cleanups, func(cl kv.Cleanup) bool { return cl.Node.ID == "n1" && cl.Node.State == kv.StateDown }) {
		f.T.Fatalf("setup: no clean-up of n1 marked down: %+v", f.Cluster().Cleanups)
	}
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, "n1", kv.StateActive) })
	f.CleanFresh()
	f.Check("after the clean-up")
}
