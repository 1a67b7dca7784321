package repairtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// RunRingChanges runs the ring-change scenarios. Every step (plan,
// transfer, put, commit, clean-up, reap, re-add) runs in a fresh process: a
// new coordinator and a new repairer built over the same store and
// membership, with nothing carried in memory, except where a scenario says
// that one process does two steps (the defect it shows needs it). Each
// scenario counts the writes acknowledged, and checks that every one is read
// back and that no deleted (and reaped) key returns.
func RunRingChanges(t *testing.T, newEnv func(t *testing.T) coordtest.Env) {
	scenarios := []struct {
		name string
		fn   func(f *Ring)
	}{
		{"StrandedOnLeavingNodes", StrandedOnLeavingNodes},
		{"OldCopiesMergedAfterGrace", OldCopiesMergedAfterGrace},
		{"ReaddedNodeResurrectsNothing", ReaddedNodeResurrectsNothing},
		{"RegainedPartitionResurrectsNothing", RegainedPartitionResurrectsNothing},
		{"HintFromDepartedFallback", HintFromDepartedFallback},
		{"HintNeverToNonOwner", HintNeverToNonOwner},
		{"HintOnReaddedFallback", HintOnReaddedFallback},
		{"TwoNodesRemovedAtOnce", TwoNodesRemovedAtOnce},
		{"AddAndRemoveInOnePlan", AddAndRemoveInOnePlan},
		{"CommitWhileNodeDown", CommitWhileNodeDown},
		{"CleanupInterruptedResumes", CleanupInterruptedResumes},
		{"CancelledPlanResurrectsNothing", CancelledPlanResurrectsNothing},
		{"DepartedFallbackHintNotReaped", DepartedFallbackHintNotReaped},
		{"ReplannedCopiesCleaned", ReplannedCopiesCleaned},
		{"ReaddedTwiceKeepsFirstCleanup", ReaddedTwiceKeepsFirstCleanup},
		{"CleanupOfNodeMarkedDown", CleanupOfNodeMarkedDown},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			f := NewRing(t, newEnv(t), 5)
			s.fn(f)
			if f.Checked == 0 {
				f.T.Fatal("the scenario checked no acknowledged write")
			}
			f.T.Logf("%s: %d acknowledged writes, read back %d times in all; %d deleted keys stayed deleted", s.name, len(f.acked), f.Checked, len(f.deleted))
		})
	}
}

// StrandedOnLeavingNodes (defect 1): n4 and n5 are removed; their transfers
// finish; puts are acknowledged by n4 and n5 only while n1-n3 fail; the
// process that transferred then commits and goes away. Reads from the new
// owners must see every acknowledged write, at once and after the cleanup.
func StrandedOnLeavingNodes(f *Ring) {
	f.PutBatch("before", 20)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n4") })
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	r1 := f.Proc(func(c *repair.Config) { c.AutoCommit = false })
	f.MustRun(r1)
	f.Advance(f.Settle + time.Second)
	rep := f.MustRun(r1)
	if tr := rep.Transfers; tr.Done != tr.Moves || tr.Committed {
		f.T.Fatalf("transfers: %+v", tr)
	}
	keys := f.Keys("stranded", 8, func(now, _ []string) bool { return has(now, "n4", "n5") })
	f.Down(true, "n1", "n2", "n3")
	co := f.Coord()
	for _, k := range keys {
		if !f.Put(co, k, "v-"+k, 2) {
			f.T.Fatalf("put %s with n1-n3 down failed", k)
		}
	}
	f.Down(false, "n1", "n2", "n3")
	if _, err := r1.Commit(context.Background()); err != nil {
		f.T.Fatalf("commit: %v", err)
	}
	f.remember()
	f.Check("right after the commit")
	f.PutBatch("after", 10)
	f.CleanFresh()
	f.Check("after the cleanup")
	f.Empty("n4")
	f.Empty("n5")
}

// OldCopiesMergedAfterGrace (defect 2): after n5's removal is committed, a
// coordinator whose view predates the commit has puts acknowledged by n5
// alone (W=1; every other node fails); n5 then fails LIST for longer than
// the reaping grace period. Its copies are still merged before they are
// deleted.
func OldCopiesMergedAfterGrace(f *Ring) {
	f.PutBatch("before", 20)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	stale := f.Coord(func(c *coordinator.Config) { c.ClusterTTL = time.Hour; c.MaxStale = time.Hour })
	if _, err := stale.Get(context.Background(), "prime", coordinator.Options{}); err != nil {
		f.T.Fatal(err)
	}
	f.CommitFresh()
	keys := f.Keys("late", 6, func(_, _ []string) bool { return true })
	var only []string
	for _, k := range keys {
		if slices.Contains(primariesOf(f.T, f.nodesCluster(), f.oldOwners(), k), "n5") {
			only = append(only, k)
		}
	}
	if len(only) == 0 {
		f.T.Fatal("setup: no key on n5")
	}
	f.Down(true, "n1", "n2", "n3", "n4")
	for _, k := range only {
		if !f.Put(stale, k, "v-"+k, 1) {
			f.T.Fatalf("put %s on n5 alone failed", k)
		}
	}
	f.Down(false, "n1", "n2", "n3", "n4")
	f.Down(true, "n5")
	f.Advance(2 * time.Hour)
	f.RunFresh()
	f.RunFresh()
	if f.CleanupsLeft() == 0 {
		f.T.Fatal("the cleanup of an unreachable node was dropped")
	}
	f.Down(false, "n5")
	f.CleanFresh()
	f.Check("after the cleanup")
	f.Empty("n5")
}

// ReaddedNodeResurrectsNothing (defect 3): n5 is removed and the commit's
// process goes away; keys are deleted and reaped; n5 is added again under
// the same id and location. No deleted key comes back.
func ReaddedNodeResurrectsNothing(f *Ring) {
	f.PutBatch("k", 40)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	f.CommitFresh()
	old := f.nodesCluster()
	for k := range f.acked {
		if slices.Contains(primariesOf(f.T, old, f.oldOwners(), k), "n5") {
			f.Delete(k)
		}
	}
	if len(f.deleted) == 0 {
		f.T.Fatal("setup: n5 held no key")
	}
	f.Advance(2 * time.Hour)
	f.RunFresh()
	rep, err := f.Proc().Reap(context.Background())
	if err != nil || rep.AntiEntropy.Reaped == 0 {
		f.T.Fatalf("reap: %+v %v", rep.AntiEntropy, err)
	}
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n5", "z2")) })
	f.CommitFresh()
	f.CleanFresh()
	f.RunFresh()
	f.Check("after n5 came back")
}

// RegainedPartitionResurrectsNothing (defect 3, second form): n6 joins and
// takes partitions from the others; keys are deleted and reaped; n6 leaves
// again and the others regain their partitions. No deleted key comes back.
func RegainedPartitionResurrectsNothing(f *Ring) {
	f.PutBatch("k", 40)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n6", "z3")) })
	before := f.Cluster()
	f.CommitFresh()
	after := f.Cluster()
	for k := range f.acked {
		if !slices.Equal(primariesOf(f.T, before, before.Owners, k), primariesOf(f.T, after, after.Owners, k)) {
			f.Delete(k)
		}
	}
	if len(f.deleted) == 0 {
		f.T.Fatal("setup: no key moved")
	}
	f.Advance(2 * time.Hour)
	f.RunFresh()
	rep, err := f.Proc().Reap(context.Background())
	if err != nil || rep.AntiEntropy.Reaped == 0 {
		f.T.Fatalf("reap: %+v %v", rep.AntiEntropy, err)
	}
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n6") })
	f.CommitFresh()
	f.CleanFresh()
	f.RunFresh()
	f.Check("after the partitions came back")
}

// HintFromDepartedFallback (defect 4): a put leaves a hinted replica on a
// fallback F; F is removed while unreachable, so the commit goes ahead; the
// hint message is delivered later. It is never acknowledged while its
// replica is not on a current owner.
func HintFromDepartedFallback(f *Ring) {
	ctx := context.Background()
	key := f.Keys("hinted", 1, func(_, _ []string) bool { return true })[0]
	prim := f.Primaries(key)
	f.Down(true, prim[0])
	co := f.Coord()
	if !f.Put(co, key, "v-"+key, 2) {
		f.T.Fatal("put failed")
	}
	hints := f.TakeHints()
	if len(hints) != 1 {
		f.T.Fatalf("setup: hints %+v", hints)
	}
	fb := hints[0].Fallback
	f.Down(false, prim[0])
	f.Down(true, fb)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, fb) })
	f.CommitFresh()
	if _, err := f.Cluster().Node(fb); err == nil {
		f.T.Fatal("setup: the fallback is still a member")
	}
	err := f.Coord().DeliverHint(ctx, hints[0])
	if err == nil {
		f.checkHolds(hints[0].Intended, key)
	}
	f.Down(false, fb)
	if err = f.Coord().DeliverHint(ctx, hints[0]); err != nil {
		f.T.Fatalf("delivery with the fallback back: %v", err)
	}
	f.checkHolds(hints[0].Intended, key)
	f.CleanFresh()
	f.Check("after the cleanup")
	f.Empty(fb)
}

// HintNeverToNonOwner (defect 4): a hint for a primary P is delivered after
// a commit took the key away from P: it goes to the key's current owners,
// never into P's data.
func HintNeverToNonOwner(f *Ring) {
	ctx := context.Background()
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n6", "z3")) })
	var key, p string
	for _, k := range f.Keys("moving", 20, func(now, after []string) bool { return !slices.Equal(now, after) }) {
		c := f.Cluster()
		now, after := primariesOf(f.T, c, c.Owners, k), primariesOf(f.T, c, c.Next, k)
		for _, id := range now {
			if !slices.Contains(after, id) {
				key, p = k, id
			}
		}
		if key != "" {
			break
		}
	}
	if key == "" {
		f.T.Fatal("setup: no key leaves a primary")
	}
	f.Down(true, p)
	if !f.Put(f.Coord(), key, "v-"+key, 2) {
		f.T.Fatal("put failed")
	}
	hints := f.TakeHints()
	var h *kv.Hint
	for i := range hints {
		if hints[i].Intended == p {
			h = &hints[i]
		}
	}
	if h == nil {
		f.T.Fatalf("setup: no hint for %s in %+v", p, hints)
	}
	f.Down(false, p)
	// The hinted replica stays out of sight until after the commit and its
	// cleanup (its fallback's LIST failing, say): it is set aside, then put
	// back, and delivered late.
	fbLoc := f.nodes[h.Fallback].Location
	name := kv.HintName(p, key)
	b, err := f.C.Env.Store.Get(ctx, fbLoc, name)
	if err != nil {
		f.T.Fatal(err)
	}
	if err := f.C.Env.Store.Delete(ctx, fbLoc, name, ""); err != nil {
		f.T.Fatal(err)
	}
	f.CommitFresh()
	f.CleanFresh()
	if _, err := f.C.Env.Store.Get(ctx, f.nodes[p].Location, kv.DataName(key)); err == nil {
		f.T.Fatalf("setup: %s still holds %s after its cleanup", p, key)
	}
	if _, err := f.C.Env.Store.Put(ctx, fbLoc, name, b.Data, b.Actor, ""); err != nil {
		f.T.Fatal(err)
	}
	if err := f.Coord().DeliverHint(ctx, *h); err != nil {
		f.T.Fatal(err)
	}
	if _, err := f.C.Env.Store.Get(ctx, f.nodes[p].Location, kv.DataName(key)); err == nil {
		f.T.Fatalf("the hint for %s went into %s's data, which no longer owns %s", p, p, key)
	}
	f.RunFresh()
	f.Check("after the late hint")
}

// HintOnReaddedFallback: a fallback F holds a hinted replica, leaves while
// unreachable, and is added again under its id (a new location) before its
// cleanup ran. The hint is still delivered from F's old location.
func HintOnReaddedFallback(f *Ring) {
	ctx := context.Background()
	key := f.Keys("rehinted", 1, func(_, _ []string) bool { return true })[0]
	prim := f.Primaries(key)
	f.Down(true, prim[0])
	if !f.Put(f.Coord(), key, "v-"+key, 2) {
		f.T.Fatal("put failed")
	}
	hints := f.TakeHints()
	if len(hints) != 1 {
		f.T.Fatalf("setup: hints %+v", hints)
	}
	f.Down(false, prim[0])
	fb := hints[0].Fallback
	old := f.nodes[fb]
	f.Down(true, fb)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, fb) })
	f.CommitFresh()
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode(fb, old.Zone)) })
	if f.nodes[fb].Location == old.Location {
		f.T.Fatal("the re-added node got its old location")
	}
	if err := f.C.Faults.Set(old.Location, faults.Mode{}); err != nil {
		f.T.Fatal(err)
	}
	if err := f.Coord().DeliverHint(ctx, hints[0]); err != nil {
		f.T.Fatal(err)
	}
	f.checkHolds(hints[0].Intended, key)
	f.CommitFresh()
	f.CleanFresh()
	f.Check("after the cleanup")
	if items, _, err := f.C.Env.Store.List(ctx, old.Location, "", "", 10); err != nil || len(items) > 0 {
		f.T.Fatalf("the old location still holds %v (%v)", items, err)
	}
}

// TwoNodesRemovedAtOnce: n4 and n5 are removed in one plan while writes go
// on between every step.
func TwoNodesRemovedAtOnce(f *Ring) {
	f.PutBatch("a", 20)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) {
		c, err := membership.RemoveNode(c, "n4")
		if err != nil {
			return c, err
		}
		return membership.RemoveNode(c, "n5")
	})
	f.PutBatch("b", 20)
	f.RunFresh()
	f.PutBatch("c", 20)
	f.Advance(f.Settle + time.Second)
	f.RunFresh()
	f.PutBatch("d", 20)
	if f.Cluster().Next != nil {
		f.T.Fatal("not committed")
	}
	f.Check("after the commit")
	f.CleanFresh()
	f.PutBatch("e", 20)
	f.Check("after the cleanup")
	f.Empty("n4")
	f.Empty("n5")
}

// AddAndRemoveInOnePlan: n6 joins and n2 leaves in one plan.
func AddAndRemoveInOnePlan(f *Ring) {
	f.PutBatch("a", 20)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) {
		c, err := membership.AddNode(c, f.NewNode("n6", "z3"))
		if err != nil {
			return c, err
		}
		return membership.RemoveNode(c, "n2")
	})
	f.PutBatch("b", 20)
	f.CommitFresh()
	f.PutBatch("c", 20)
	f.Check("after the commit")
	f.CleanFresh()
	f.Check("after the cleanup")
	f.Empty("n2")
}

// CommitWhileNodeDown: n5's removal is committed while n5 is down; writes
// go on throughout; n5's cleanup waits for it (reaping of its partitions
// too) and merges its copies once it answers.
func CommitWhileNodeDown(f *Ring) {
	f.PutBatch("a", 20)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	f.PutBatch("b", 20)
	f.Down(true, "n5")
	f.PutBatch("c", 20)
	f.CommitFresh()
	f.PutBatch("d", 20)
	f.Advance(2 * time.Hour)
	f.RunFresh()
	if f.CleanupsLeft() == 0 {
		f.T.Fatal("the cleanup of a down node was dropped")
	}
	f.Check("with n5 down")
	f.Down(false, "n5")
	f.CleanFresh()
	f.Check("after the cleanup")
	f.Empty("n5")
}

// CleanupInterruptedResumes: the cleanup after n5's removal runs in fresh
// processes with a tiny request budget; each resumes where the last stopped
// (the record's list shrinks) until it is done.
func CleanupInterruptedResumes(f *Ring) {
	f.PutBatch("a", 60)
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n5") })
	f.CommitFresh()
	f.Advance(f.Settle + time.Second)
	left := f.CleanupsLeft
	prev, runs := left(), 0
	for prev > 0 {
		runs++
		if runs > 200 {
			f.T.Fatalf("cleanup not done after 200 runs, %d partitions left", prev)
		}
		f.PutBatch(fmt.Sprint("during", runs), 1)
		rep, err := f.Proc(func(c *repair.Config) { c.MaxRequests = 12 }).Run(context.Background())
		if err != nil {
			f.T.Fatal(err)
		}
		if rep.Stopped == "" && left() > 0 && left() == prev {
			f.T.Fatalf("a run neither stopped nor progressed: %+v", rep.Transfers)
		}
		prev = left()
	}
	if runs < 3 {
		f.T.Fatalf("the cleanup took %d runs: the budget did not interrupt it", runs)
	}
	f.Check("after the resumed cleanup")
	f.Empty("n5")
}
