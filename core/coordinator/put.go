// A put, top-down: check the request and its conditions; with a context and
// no condition, write every replica in one round (oneround.go); otherwise
// commit the new version at one coordinating replica (which mints its dot
// with a conditional write), forward it to pending owners, replicate it to
// the others until W acknowledge. Answer with a context that covers only
// what the client saw plus the new version.

package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// Put writes value for key with the context of the versions it supersedes
// ("" for a blind write: it becomes a sibling of whatever exists). It returns
// once W distinct nodes stored the new version.
func (c *Coordinator) Put(ctx context.Context, key, token string, val Value, opt Options) (PutResult, error) {
	c.stats.add(&c.stats.Puts, 1)
	if err := c.cfg.Limits.CheckValue(val.Data, val.ContentType); err != nil {
		return PutResult{}, err
	}
	exp, err := c.expires(opt, c.deps.Now())
	if err != nil {
		return PutResult{}, err
	}
	return c.put(ctx, key, token, vclock.Sibling{Value: val.Data, ContentType: val.ContentType, Expires: exp}, opt, "put")
}

// Delete writes a tombstone superseding the versions the context covers. With
// an empty context (and no IfMatch) it first reads the key (quorum R) and
// deletes what it sees; deleting an absent key succeeds.
func (c *Coordinator) Delete(ctx context.Context, key, token string, opt Options) (PutResult, error) {
	c.stats.add(&c.stats.Deletes, 1)
	if token == "" && opt.IfMatch == "" && !opt.IfNoneMatch {
		g, err := c.Get(ctx, key, Options{R: opt.R, PR: opt.PR})
		if err != nil {
			return PutResult{}, err
		}
		if !g.Found() {
			out := PutResult{Context: g.Context}
			if opt.ReturnBody {
				out.Body = &g
			}
			return out, nil
		}
		token = g.Context
	}
	return c.put(ctx, key, token, vclock.Sibling{Tombstone: true}, opt, "delete")
}

type writeReply struct {
	t   target
	m   replica.Merged
	err error
}

func (c *Coordinator) put(ctx context.Context, key, token string, sib vclock.Sibling, opt Options, op string) (PutResult, error) {
	start := c.deps.Now()
	if err := c.cfg.Limits.CheckKey(key); err != nil {
		return PutResult{}, err
	}
	v, err := c.views.get(ctx, start)
	if err != nil {
		return PutResult{}, err
	}
	p, targets := c.newPlan(v, key, start)
	wq, err := c.resolve(p, opt.W, opt.PW, v.cluster.Params.W, "w", "pw")
	if err != nil {
		return PutResult{}, err
	}
	if err := c.checkReadQuorum(v, opt); err != nil {
		return PutResult{}, err
	}
	w := wq.need
	kctx, cond, err := c.preconditions(ctx, v, key, token, opt, start)
	if err != nil {
		return PutResult{}, err
	}
	lww := v.cluster.Params.LWW
	if c.oneRound(p, kctx, cond, opt) {
		return c.putOneRound(ctx, p, v, targets, kctx, sib, wq, op, start) // oneround.go
	}

	// Phase 1: commit at one coordinating replica, preferring a primary in
	// this region, and among those one whose state the context carries (fast
	// path: one conditional PUT, no GET).
	queue := c.coordinatorQueue(targets, kctx) // hedge.go
	var (
		done    committed
		coord   target
		errs    []error
		failed  []target // replicas that failed as coordinator and need a stand-in
		pending []target // replicas still to receive the version
		skipped []target // replicas of other regions the local quorum did not try
	)
	ok := false
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if p.prefer != nil && !p.prefer(t.node) {
			skipped = append(skipped, t) // the local quorum coordinates in its region only
			continue
		}
		cm, err := c.commit(ctx, t, key, kctx, sib, lww, cond)
		c.health.record(t.node.ID, err == nil || errors.Is(err, kv.ErrTooManySiblings) || errors.Is(err, ErrConditionFailed), c.deps.Now())
		if errors.Is(err, kv.ErrTooManySiblings) || errors.Is(err, ErrConditionFailed) {
			return PutResult{}, err
		}
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				return PutResult{}, fmt.Errorf("%s %q: %w", op, key, ctx.Err())
			}
			// Under the local quorum a failed replica of this region gets
			// its stand-in at once, tried next if it is in this region too,
			// so the put does not wait on another region.
			if p.prefer != nil && p.prefer(t.node) {
				if fb, found := p.fallback(t.owner()); found {
					if p.prefer(fb.node) {
						queue = append([]target{fb}, queue...)
					} else {
						queue = append(queue, fb)
					}
					continue
				}
			}
			failed = append(failed, t)
			continue
		}
		done, coord, ok = cm, t, true
		pending = append(append(pending, queue...), skipped...)
		for _, f := range failed {
			if fb, found := p.fallback(f.owner()); found {
				pending = append(pending, fb)
			}
		}
		break
	}
	if !ok {
		c.stats.add(&c.stats.QuorumFailures, 1)
		return PutResult{}, &kv.QuorumError{Op: op, Got: 0, Need: w, Errs: errs}
	}
	obj, data := done.obj, done.data

	// During a ring change the pending owners get the version too (best
	// effort, not counted toward W).
	c.forward(ctx, p, obj, data)

	// Phase 2: send the committed version to the other replicas in parallel.
	// Replicas the context saw get a single conditional PUT on the ETag seen;
	// the others are assumed to hold what the coordinating replica held (true
	// when replicas have converged, as they do between writes) and fall back to
	// read-merge-write when that guess loses its condition.
	res := c.replicate(ctx, p, &writeReply{t: coord, m: done.m}, obj, data, done.prior, kctx, pending, wq)
	return c.answerPut(v, key, kctx, done, res, wq, errs, op, start, opt.ReturnBody)
}

// answerPut answers a put from its replication round: the new version is
// done, res says where it is stored.
func (c *Coordinator) answerPut(v *view, key string, kctx kv.Context, done committed, res replicated, wq quorumSpec,
	errs []error, op string, start time.Time, body bool) (PutResult, error) {
	c.stats.observe(&c.stats.PutLatency, c.deps.Now().Sub(start))
	if res.err != nil {
		return PutResult{}, fmt.Errorf("%s %q: %w", op, key, res.err)
	}
	if !res.won {
		c.stats.add(&c.stats.QuorumFailures, 1)
		if res.primaries < wq.primaries {
			return PutResult{}, &kv.QuorumError{Op: op + " (pw)", Got: res.primaries, Need: wq.primaries, Errs: append(errs, res.errs...)}
		}
		return PutResult{}, &kv.QuorumError{Op: op, Got: res.counted, Need: wq.need, Errs: append(errs, res.errs...)}
	}
	return c.putResult(v, key, kctx, done, res.acked, body), nil
}

// encodeBounded encodes a put's new object, or refuses it if it holds more
// versions or bytes than the limits allow.
func (c *Coordinator) encodeBounded(key string, next vclock.Object) ([]byte, error) {
	if len(next.Siblings) > c.cfg.Limits.MaxSiblings {
		c.stats.add(&c.stats.SiblingRejects, 1)
		return nil, fmt.Errorf("%w: %d versions of %q exceed the limit of %d; resolve them first",
			kv.ErrTooManySiblings, len(next.Siblings), key, c.cfg.Limits.MaxSiblings)
	}
	data := vclock.Encode(next)
	if len(data) > c.cfg.Limits.MaxObjectBytes {
		c.stats.add(&c.stats.SiblingRejects, 1)
		return nil, fmt.Errorf("%w: the versions of %q would take %d bytes, over the limit of %d; resolve them first",
			kv.ErrTooManySiblings, key, len(data), c.cfg.Limits.MaxObjectBytes)
	}
	return data, nil
}

// putResult builds a put's answer. Its context covers the request's context
// plus the new version, never a version the client was not shown (a
// coordinating replica's concurrent siblings are covered by its clock but
// not by this context). A replica's ETag goes into the context only if its
// object is covered by exactly that context, so the fast path of the next
// put never overwrites a version the context does not cover.
func (c *Coordinator) putResult(v *view, key string, kctx kv.Context, done committed, acked []writeReply, body bool) PutResult {
	keys := *v.cluster.ContextKeys
	kc := kv.Context{Clock: kctx.Clock.With(done.dot, done.now)}
	exact := done.obj.Clock.Compare(kc.Clock) == vclock.Equal
	var seen []kv.Seen
	for _, a := range acked {
		if a.t.primary() && a.m.Same {
			seen = append(seen, kv.Seen{Node: a.t.node.ID, ETag: a.m.ETag, Actor: a.m.Actor})
		}
	}
	if exact {
		kc.Seen = seen
	}
	out := PutResult{Context: kv.EncodeContext(keys, key, kc)}
	if body {
		bc := kv.Context{Clock: done.obj.Clock, Seen: seen}
		out.Body = &GetResult{Siblings: done.obj.Visible(done.now), Context: kv.EncodeContext(keys, key, bc)}
	}
	return out
}

// commit mints the new version's dot at replica t with a conditional write and
// returns the committed object, its encoding, and the state it replaced.
//
// Fast path: if the context saw t, t's new state is computable without reading
// it (the context covers everything t held), and one conditional PUT on the
// ETag seen commits it. Otherwise, or if the condition fails, t is read,
// updated and written conditionally.
// committed is a version committed at its coordinating replica.
type committed struct {
	obj   vclock.Object // the replica's object after the write
	data  []byte        // its encoding
	m     replica.Merged
	prior replica.State // what the replica held before the write
	dot   vclock.Dot    // the new version's dot
	now   int64         // its time (Unix ms)
}

func (c *Coordinator) commit(ctx context.Context, t target, key string, kctx kv.Context, sib vclock.Sibling, lww bool, cond condition) (committed, error) {
	var fast *replica.State
	if s, ok := contextSeen(kctx, t); ok {
		fast = &replica.State{Obj: vclock.Object{Key: key}, Found: true, ETag: s.ETag, Actor: s.Actor}
	} else if t.primary() && len(kctx.Clock) == 0 && len(kctx.Seen) == 0 {
		fast = absentGuess(key) // blindcreate.go: a create-only PUT, no GET
	}
	var tried committed // what the previous attempt wrote
	for attempt := 0; attempt < c.cfg.CASRetries; attempt++ {
		var st replica.State
		if attempt == 0 && fast != nil {
			st = *fast
		} else {
			var err error
			if st, err = c.readObject(ctx, t, key); err != nil {
				return committed{}, err
			}
		}
		if tried.data != nil && st.Found && bytes.Equal(st.Data, tried.data) {
			// The previous attempt landed but its answer was lost (an SDK
			// retry then saw its own write as a conflict): it is committed.
			tried.m = replica.Merged{ETag: st.ETag, Actor: st.Actor, Same: true}
			return tried, nil
		}
		// The condition is checked against the state the write replaces, so
		// the conditional write makes check and write atomic at this replica.
		if err := cond.check(st.Obj, kctx.Clock); err != nil {
			return committed{}, err
		}
		// The object's actor mints again if it can without reusing a
		// counter (a hinted replica re-created at a stub's name keeps the
		// stub's actor when the version descends from all it minted);
		// otherwise a new actor (kv.NextMinting).
		var recorded kv.Minting
		if st.Found && !st.Corrupt {
			recorded = kv.ParseMinting(st.Actor)
		}
		mint := kv.NextMinting(recorded, vclock.Merge(st.Obj.Clock, kctx.Clock), t.node.ID, t.node.Incarnation, c.deps.Rand)
		actor := mint.String()
		now := c.deps.Now().UnixMilli()
		next, dot, err := cond.mint(st.Obj, kctx.Clock, vclock.Actor(mint.Actor), sib, now)
		if err != nil {
			return committed{}, err
		}
		if lww {
			next = vclock.LastWriteWins(next)
		}
		next = vclock.DropExpired(next, now-ExpirySlack.Milliseconds())
		if c.cfg.Prune != nil {
			next = vclock.PruneObject(next, now, *c.cfg.Prune)
		}
		data, err := c.encodeBounded(key, next)
		if err != nil {
			return committed{}, err
		}
		etag, err := c.rio.Write(ctx, t.node, t.name, data, actor, st)
		cm := committed{obj: next, data: data, prior: st, dot: dot, now: now}
		if replica.LostRace(err, st) {
			c.stats.add(&c.stats.CASRetries, 1)
			tried = cm
			continue
		}
		if err != nil {
			return committed{}, err
		}
		cm.m = replica.Merged{ETag: etag, Actor: actor, Same: true}
		return cm, nil
	}
	return committed{}, fmt.Errorf("commit %q on %s: %w after %d attempts", key, t.node.ID, kv.ErrPrecondition, c.cfg.CASRetries)
}
