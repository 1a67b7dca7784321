package repair

import (
	"context"
	"errors"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
)

// sweepHints finds hinted replicas left on nodes without a queued hint (the
// message was lost, expired or sent to the dead-letter queue) and delivers
// them through the coordinator, as the queue would have. It lists "hints/" on
// every node (one LIST per 1,000 hinted replicas, so nothing when there are
// none) and reads each replica it finds to learn its key. Deliveries are
// idempotent, so a replica whose message is still queued is harmless to
// deliver now.
func (x *run) sweepHints(ctx context.Context, w *world, rep *HintReport) {
	for _, n := range w.c.Nodes {
		if n.State == kv.StateDown {
			continue
		}
		if _, ok := x.sweepNode(ctx, n, rep); !ok && x.stoppedNow() {
			return
		}
	}
}

// sweepNode delivers the hinted replicas node n holds. It returns how many it
// found and could not deliver, and false if it could not list them all
// (node unreachable, or the run stopped).
func (x *run) sweepNode(ctx context.Context, n kv.Node, rep *HintReport) (int, bool) {
	left := 0
	after := ""
	young := x.youngStubs()
	for {
		if !x.allow(ctx) {
			return left, false
		}
		items, more, err := counted{x}.List(ctx, n.Location, kv.HintPrefix, after, x.cfg.PageSize)
		if err != nil {
			x.fail(errorf("list hinted replicas on %s: %w", n.ID, err))
			return left, false
		}
		for _, it := range items {
			after = it.Name
			if young[it.ETag] && n.State == kv.StateActive {
				continue // a young stub, kept: nothing to read
			}
			if !x.allow(ctx) {
				return left, false
			}
			if !x.deliver(ctx, n, it.Name, rep) {
				left++
			}
		}
		if !more || len(items) == 0 {
			return left, true
		}
	}
}

// deliver delivers the hinted replica name held by node n; false if it is
// still there.
func (x *run) deliver(ctx context.Context, n kv.Node, name string, rep *HintReport) bool {
	h, intended, ok := ParseHintName(name)
	if !ok {
		return true // not a hinted replica
	}
	rep.Found++
	b, err := counted{x}.Get(ctx, n.Location, name)
	if errors.Is(err, kv.ErrNotFound) {
		return true // delivered meanwhile
	}
	if err != nil {
		rep.Failed++
		x.fail(errorf("read hinted replica %s on %s: %w", name, n.ID, err))
		return false
	}
	if left, ok := kv.StubTime(b.Data); ok {
		rep.Found-- // a delivered replica's stub, not a hinted replica
		x.expireStub(ctx, n, name, b.ETag, left)
		return true
	}
	st, err := replica.Decode(b, replica.HashIs(h))
	if err != nil {
		rep.Failed++
		x.fail(errorf("hinted replica %s on %s is corrupt: %w", name, n.ID, err))
		return false
	}
	x.charge(hintCost)
	err = x.deps.Handoff.DeliverHint(ctx, kv.Hint{Key: st.Obj.Key, Intended: intended, Fallback: n.ID, Created: x.deps.Now().UnixMilli()})
	switch {
	case errors.Is(err, coordinator.ErrNotReady):
		rep.NotReady++
	case err != nil:
		rep.Failed++
		x.fail(errorf("deliver hinted replica %s on %s: %w", name, n.ID, err))
	default:
		rep.Delivered++
		return true
	}
	return false
}

// stubTTL is how long a stub (kv.Minting) is kept on an active member:
// half the reaping grace period, so that a deleted key's stubs are gone
// before its tombstone may be reaped (the reaper waits while any object is
// left under the key's hinted-replica prefix).
func (x *run) stubTTL() time.Duration { return x.cfg.ReapGrace / 2 }

// youngStubs returns the ETags of stubs younger than stubTTL, which a sweep
// passes over without reading them (kv.YoungStubETags).
func (x *run) youngStubs() map[string]bool {
	now := x.deps.Now()
	return kv.YoungStubETags(now.Add(-x.stubTTL()).UnixMilli(), now.UnixMilli())
}

// expireStub deletes the stub a delivered hinted replica left (kv.Minting)
// at left (Unix ms) once it has done its work: on a node that is no longer
// an active member (leaving, or departed and being cleaned up) at once,
// otherwise when it is older than stubTTL. A stub is only a minting
// identity: deleting it is always safe, and only means the next hinted
// replica at that name mints with a new actor. The delete is conditional,
// so a hinted replica written there meanwhile stays.
func (x *run) expireStub(ctx context.Context, n kv.Node, name, etag string, left int64) {
	if n.State == kv.StateActive && x.deps.Now().Sub(time.UnixMilli(left)) < x.stubTTL() {
		return
	}
	err := counted{x}.Delete(ctx, n.Location, name, etag)
	if err != nil && !errors.Is(err, kv.ErrPrecondition) {
		x.fail(errorf("delete stub %s on %s: %w", name, n.ID, err))
	}
}
