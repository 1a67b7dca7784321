package repairtest

import (
	"context"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
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
