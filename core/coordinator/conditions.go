// Conditional writes: If-None-Match (create-only) and If-Match
// (compare-and-set), checked against a quorum read and again, atomically, at
// the coordinating replica.

package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// condition is a put's precondition, checked against the versions read
// before the put and again, atomically, at the coordinating replica.
type condition struct {
	ifNoneMatch bool     // no live version outside the context
	ifMatch     bool     // nothing written since the context was made
	now         int64    // the request's time (Unix ms): expired versions count as absent
	typed       *typedOp // a data type's operation, applied at the commit (crdt.go)
}

func (k condition) set() bool { return k.ifNoneMatch || k.ifMatch }

// check reports ErrConditionFailed if obj (what a replica or a read holds)
// breaks the condition for a put with context clock.
func (k condition) check(obj vclock.Object, clock vclock.Clock) error {
	if k.ifNoneMatch {
		for _, s := range obj.Visible(k.now) {
			if !clock.Covers(s.Dot) {
				return fmt.Errorf("%w: the key exists (If-None-Match: *)", ErrConditionFailed)
			}
		}
	}
	if k.ifMatch {
		// Every version (tombstones too) must be one the context covers: a
		// write since the context was made left a version it does not cover.
		// An expired version counts as absent, as for If-None-Match.
		for _, s := range obj.Siblings {
			if !clock.Covers(s.Dot) && !s.Expired(k.now) {
				return fmt.Errorf("%w: the key was written since the If-Match context was read", ErrConditionFailed)
			}
		}
	}
	return nil
}

// preconditions resolves a put's conditions: the request's context (If-Match
// is the context), and, for a conditional put, a quorum read that checks the
// condition and, for If-None-Match, supplies the context of the tombstones.
func (c *Coordinator) preconditions(ctx context.Context, v *view, key, token string, opt Options, now time.Time) (kv.Context, condition, error) {
	keys := *v.cluster.ContextKeys
	cond := condition{ifNoneMatch: opt.IfNoneMatch, ifMatch: opt.IfMatch != "", now: now.UnixMilli(), typed: opt.typed}
	switch {
	case cond.ifNoneMatch && (token != "" || cond.ifMatch):
		return kv.Context{}, cond, fmt.Errorf("%w: If-None-Match: * takes no context and no If-Match", kv.ErrBadRequest)
	case cond.ifMatch && token != "" && token != opt.IfMatch:
		return kv.Context{}, cond, fmt.Errorf("%w: If-Match and the context header differ", kv.ErrBadRequest)
	case cond.ifMatch:
		token = opt.IfMatch
	}
	kctx, err := kv.DecodeContext(keys, key, token, c.cfg.Limits, now)
	if err != nil || !cond.set() {
		return kctx, cond, err
	}
	p, targets := c.newPlan(v, key, now)
	rq, err := c.resolve(p, opt.R, opt.PR, v.cluster.Params.R, "r", "pr")
	if err != nil {
		return kv.Context{}, cond, err
	}
	obj, rc, err := c.fanRead(ctx, p, targets, rq, "read before a conditional write")
	if err != nil {
		return kv.Context{}, cond, err
	}
	if err := cond.check(obj, kctx.Clock); err != nil {
		return kv.Context{}, cond, err
	}
	if cond.ifNoneMatch {
		kctx = rc
	}
	return kctx, cond, nil
}
