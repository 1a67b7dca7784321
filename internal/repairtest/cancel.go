package repairtest

import (
	"context"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
)

// CancelledPlanResurrectsNothing (issue 19, plan clear): n6 joins and its
// transfers finish, writes go to it too, and then the plan is cancelled.
// Every acknowledged write stays readable; the copies the plan put on n6 are
// merged into the owners and deleted; and keys deleted and reaped after the
// cancel do not come back when the same change is made again.
func CancelledPlanResurrectsNothing(f *Ring) {
	f.PutBatch("k", 40)
	before := f.Cluster()
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n6", "z3")) })
	planned := f.Cluster()
	r := f.Proc(func(c *repair.Config) { c.AutoCommit = false })
	f.MustRun(r)
	f.Advance(f.Settle + time.Second)
	if tr := f.MustRun(r).Transfers; tr.Moves == 0 || tr.Done != tr.Moves || tr.Committed {
		f.T.Fatalf("transfers: %+v", tr)
	}
	f.PutBatch("during", 10) // forwarded to the pending owners too
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.CancelPlanAt(c, f.Now()) })
	if c := f.Cluster(); c.Next != nil || !slices.Equal(c.Owners, before.Owners) {
		f.T.Fatal("the cancel changed the owners or left a plan")
	}
	f.Check("right after the cancel")
	f.CleanFresh()
	f.Check("after the cleanup")
	f.Empty("n6")
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
	rep, err := f.Proc().Reap(context.Background())
	if err != nil || rep.AntiEntropy.Reaped == 0 {
		f.T.Fatalf("reap: %+v %v", rep.AntiEntropy, err)
	}
	f.Plan(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n6", "z3")) })
	f.CommitFresh()
	f.CleanFresh()
	f.RunFresh()
	f.Check("after the change was made again")
}
