// Phase 2 of a put: sending the committed version to the other replicas in
// parallel, with fallbacks (sloppy quorum) and hints, until W distinct nodes
// hold it; and the synchronous forward to a ring change's pending owners.

package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

type replicated struct {
	won       bool
	acked     []writeReply
	primaries int // primaries among acked
	counted   int // acked replies that count toward W
	errs      []error
	err       error // the caller's context ended first
}

// replicate sends the committed version to the pending replicas, replacing
// each failed one with the next fallback (sloppy quorum), and returns once W
// distinct nodes hold it (or it cannot). Writes still in flight then complete
// in the background, still with fallbacks and hints, so all N get the version.
// coord is the replica that committed it, nil for a one-round put (every
// replica is pending).
func (c *Coordinator) replicate(ctx context.Context, p *plan, coord *writeReply, obj vclock.Object, data []byte,
	guess replica.State, kctx kv.Context, pending []target, q quorumSpec) replicated {
	lww := p.v.cluster.Params.LWW
	all := pending
	if coord != nil {
		all = append([]target{coord.t}, pending...)
	}
	round := newWriteRound(q, q.candidates(all))
	// A fallback that coordinated holds a hinted replica like any other
	// fallback: it counts once its hint is queued (or the replica would never
	// reach its primary); otherwise a stand-in takes its place.
	coordErr := error(nil)
	if coord != nil && !coord.t.primary() {
		coordErr = c.enqueueHint(ctx, coord.t, obj.Key)
	}
	switch {
	case coord == nil:
	case coordErr != nil:
		fb, ok := p.fallback(coord.t.owner())
		round.failed(coord.t, coordErr, optional(fb, ok))
		if ok {
			pending = append(pending, fb)
		}
	default:
		round.stored(*coord)
	}
	rctx, cancel := c.background(ctx, p)
	replies := make(chan writeReply, 4*(len(pending)+1)+16)
	outstanding := 0
	inFlight := map[string]target{} // primaries written and not yet answered, by node
	hedgedFor := map[string]bool{}  // primaries whose stand-in was written beside them
	launch := func(t target) {
		outstanding++
		round.launched(t)
		if t.primary() {
			inFlight[t.node.ID] = t
		}
		// What the replica holds, if the context or the coordinating replica
		// tells: a replica the context saw is overwritten with one conditional
		// PUT; if the key was new at the coordinating replica, the others are
		// tried create-only. Otherwise (nil) the replica is read first, since
		// its object's minting identity must be kept.
		var known *replica.State
		s, ok := contextSeen(kctx, t)
		if !ok && t.primary() {
			s, ok = c.seen.lookup(obj.Key, t.node.ID, kctx.Clock) // seencache.go
			ok = ok && replica.ActorValid(s.Actor, t.node)
		}
		if ok {
			known = &replica.State{Obj: vclock.Object{Key: obj.Key, Clock: kctx.Clock}, Found: true, ETag: s.ETag, Actor: s.Actor}
		} else if !guess.Found || !t.primary() {
			known = &replica.State{Obj: vclock.Object{Key: obj.Key}}
		}
		go func() {
			t0 := c.deps.Now()
			m, err := c.mergeInto(rctx, t, obj, data, known, lww)
			if err == nil && t.primary() {
				c.writeHedge.observe(t.node.ID, c.deps.Now().Sub(t0))
				if m.Same { // for a put that reuses this one's context
					c.seen.record(obj.Key, kv.Seen{Node: t.node.ID, ETag: m.ETag, Actor: m.Actor}, obj.Clock)
				}
			}
			if err == nil && !t.primary() {
				err = c.enqueueHint(rctx, t, obj.Key)
			}
			replies <- writeReply{t: t, m: m, err: err}
		}()
	}
	for _, t := range pending {
		launch(t)
	}
	// One loop does the I/O: it feeds each reply to the round, launches the
	// stand-in the round accepted, and signals once the round is decided.
	// Writes still in flight then finish in the background.
	var mu sync.Mutex // guards round between this goroutine and the caller
	decided := make(chan struct{})
	signalled := false
	signal := func() {
		if !signalled && (round.decided() || outstanding == 0) {
			signalled = true
			close(decided)
		}
	}
	signal()
	hedgeC := c.writeHedgeTimer(p, round)
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer cancel()
		for outstanding > 0 {
			var rep writeReply
			select {
			case rep = <-replies:
			case <-hedgeC: // hedged writes (hedge.go): slow primaries get a stand-in too
				hedgeC = nil
				mu.Lock()
				for _, fb := range c.hedgeWrites(p, round, inFlight, signalled) {
					hedgedFor[fb.owner()] = true
					launch(fb)
				}
				mu.Unlock()
				continue
			}
			outstanding--
			if rep.t.primary() {
				delete(inFlight, rep.t.node.ID)
			}
			rep.err = c.settle(rctx, rep.t.node.ID, rep.err)
			mu.Lock()
			var next *target
			if rep.err != nil && !(rep.t.primary() && hedgedFor[rep.t.node.ID]) { // a hedged primary has its stand-in
				// A suspended operation was handed off: no fallback write of an old version.
				fb, ok := c.fallbackFor(p, rep.t, rep.err)
				next = optional(fb, ok)
				if !ok && signalled && !errors.Is(rep.err, ErrSuspended) {
					c.logger(ctx).Warn("replica write failed after quorum, no fallback left", "key", p.key, "node", rep.t.node.ID, "err", rep.err)
				}
			}
			round.answered(rep, next)
			if next != nil {
				launch(*next)
			}
			signal()
			mu.Unlock()
		}
	}()
	select {
	case <-decided:
	case <-ctx.Done():
		cancel()
		return replicated{err: ctx.Err()}
	}
	mu.Lock()
	defer mu.Unlock()
	return round.result()
}

// optional returns &t if ok, else nil.
func optional(t target, ok bool) *target {
	if !ok {
		return nil
	}
	return &t
}

// forward sends a committed version to the pending owners of a ring change
// and waits for them (one more round trip, during ring changes only): not
// counted toward W. With the repair job's transfer (which copies the moving
// partitions to their new owners before the commit) this leaves a new owner
// with every write, so nothing is missed when ownership switches. A pending
// owner that is down or fails gets a hinted replica on a fallback instead,
// and the key's partition gets a write mark in the membership record
// (markWritten), so the repair job transfers it again before the commit.
func (c *Coordinator) forward(ctx context.Context, p *plan, obj vclock.Object, data []byte) {
	ts := p.pending()
	if len(ts) == 0 {
		return
	}
	lww := p.v.cluster.Params.LWW
	up := c.up(p.v, p.now)
	// Synchronous: the request waits for it, so no freeze can suspend it.
	rctx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	var missed atomic.Bool
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fmt.Errorf("pending owner %s is down", t.node.ID)
			if up(t.node.ID) {
				_, err = c.mergeInto(rctx, t, obj, data, nil, lww)
				if err = c.settle(rctx, t.node.ID, err); err == nil || errors.Is(err, ErrSuspended) {
					return
				}
			}
			missed.Store(true)
			fb, ok := p.fallback(t.node.ID)
			if !ok {
				c.logger(ctx).Warn("write to a pending owner failed, no fallback left", "key", p.key, "node", t.node.ID, "err", err)
				return
			}
			if _, err = c.mergeInto(rctx, fb, obj, data, &replica.State{Obj: vclock.Object{Key: obj.Key}}, lww); err == nil {
				err = c.enqueueHint(rctx, fb, obj.Key)
			}
			if err != nil {
				c.logger(ctx).Warn("hinted write for a pending owner failed", "key", p.key, "node", t.node.ID, "fallback", fb.node.ID, "err", err)
			}
		}()
	}
	wg.Wait()
	if missed.Load() {
		c.markWritten(rctx, p)
	}
}
