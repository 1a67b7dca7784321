package repair

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// ReapInput is what the reap decision for one key looks at.
type ReapInput struct {
	// ETags are the key's replica ETags on each of its primaries ("" where
	// a primary has no replica). Every primary must be listed.
	ETags []string
	// Identical: every primary's replica, at the ETag given, was seen to hold
	// exactly Object's bytes (compared by content, since S3 Express One Zone
	// ETags are not MD5s and differ between identical replicas). Without it
	// the ETags must all agree.
	Identical bool
	// Object is the replica's content (the same on every primary when their
	// ETags agree, or when Identical).
	Object vclock.Object
	// Now and Grace: the newest tombstone must be at least Grace old at Now.
	Now   time.Time
	Grace time.Duration
	// Pending: a ring change is in progress (the key may have more replicas
	// than its primaries).
	Pending bool
	// Hinted is how many hinted replicas of the key the nodes hold.
	Hinted int
	// Cleaning: copies of the key's partition left by a commit are still to
	// be merged into its owners (kv.Cluster.Cleanups); one may hold an older
	// live version the merge must meet while the tombstone is still there.
	Cleaning bool
}

// Reasons a key is not reaped, returned by ReapDecision.
const (
	ReapOK         = "reap"
	ReapNoReplicas = "no replicas"
	ReapDiffer     = "replicas differ"
	ReapLive       = "not deleted"
	ReapTooRecent  = "tombstone within the grace period"
	ReapPending    = "ring change in progress"
	ReapHinted     = "hinted replicas exist"
	ReapCleaning   = "copies of the partition still to clean up"
)

// ReapDecision decides whether a deleted key may be removed from its
// replicas (reaped), and says why not otherwise. A key is reaped only when:
// no ring change is pending; every primary holds a replica and all are
// byte-identical (same ETag, or Identical), so none can bring back an older state; every
// version is a tombstone or expired (gone); the newest tombstone or expiry is older than the grace
// period, longer than any write, hint or read repair stays in flight; and no
// node holds a hinted replica of the key, which a late delivery could
// otherwise turn into a resurrection. While the tombstone exists, dotted
// version vectors already keep deleted versions dead and let a re-creation
// (a version the tombstone has not seen) live; these conditions make sure
// nothing older than the tombstone survives anywhere once it is gone.
func ReapDecision(in ReapInput) (bool, string) {
	switch {
	case in.Pending:
		return false, ReapPending
	case in.Cleaning:
		return false, ReapCleaning
	case len(in.ETags) == 0:
		return false, ReapNoReplicas
	case slices.Contains(in.ETags, ""), !in.Identical && !allSame(in.ETags):
		return false, ReapDiffer
	case !gone(in.Object, in.Now):
		return false, ReapLive
	}
	if in.Now.Sub(time.UnixMilli(in.Object.LastEvent())) < in.Grace {
		return false, ReapTooRecent
	}
	if in.Hinted > 0 {
		return false, ReapHinted
	}
	return true, ReapOK
}

// hintHolders are the storage locations that may hold hinted replicas: every
// member's, and every departed node's whose clean-up is pending (a node that
// left while unreachable keeps its hinted replicas until its clean-up
// delivers them, and the commit does not wait for it: issue 22, defect 1).
// Each location is listed once.
func hintHolders(c kv.Cluster) []kv.Node {
	out := slices.Clone(c.Nodes)
	for _, cl := range c.Cleanups {
		if !slices.ContainsFunc(out, func(n kv.Node) bool { return n.Location == cl.Node.Location }) {
			out = append(out, cl.Node)
		}
	}
	return out
}

// reap deletes candidate c from the members (every primary of its
// partition) if ReapDecision allows it. The hinted-replica check (one LIST
// of "hints/<hash>/" per location that may hold one, hintHolders) is made
// only for keys that pass the others; a location that cannot be listed
// keeps the key.
// Each delete is conditional on the ETag seen, so a write landing meanwhile
// keeps its replica (and the next exchange restores the others from it).
func (x *run) reap(ctx context.Context, w *world, ms []*member, c candidate) (bool, error) {
	in := ReapInput{ETags: c.etags, Identical: c.identical, Object: c.obj, Now: x.deps.Now(), Grace: x.cfg.ReapGrace, Pending: w.next != nil,
		Cleaning: w.c.CleaningPartition(ring.PartitionOf(w.c.Params.Q, c.hash))}
	if ok, _ := ReapDecision(in); !ok {
		return false, nil
	}
	for _, n := range hintHolders(w.c) {
		if !x.allow(ctx) {
			return false, errBudget
		}
		items, _, err := counted{x}.List(ctx, n.Location, hintKeyPrefix(c.hash), "", 1)
		if err != nil {
			return false, errorf("reap %s: list hints on %s: %w", dataName(c.hash), n.ID, err)
		}
		in.Hinted += len(items)
	}
	if ok, _ := ReapDecision(in); !ok {
		return false, nil
	}
	for i, m := range ms {
		if !x.allow(ctx) {
			return false, errBudget
		}
		err := counted{x}.Delete(ctx, m.node.Location, dataName(c.hash), c.etags[i])
		if errors.Is(err, kv.ErrPrecondition) {
			return false, nil // written meanwhile: no longer deleted
		}
		if err != nil {
			return false, errorf("reap %s on %s: %w", dataName(c.hash), m.node.ID, err)
		}
	}
	x.log.Info("reaped deleted key", "name", dataName(c.hash), "replicas", len(ms))
	return true, nil
}
