// A get: one parallel round of reads to the preference list, returning once
// R distinct nodes (PR of them primaries) answered; stale replicas are
// repaired in the background.

package coordinator

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/quorum"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

type readReply struct {
	t   target
	st  replica.State
	err error
}

// Get reads key from its replicas, waits for R of them, and returns the
// reconciled live versions with a context. Replicas that answered with stale
// data are repaired in the background.
func (c *Coordinator) Get(ctx context.Context, key string, opt Options) (GetResult, error) {
	c.stats.add(&c.stats.Gets, 1)
	start := c.deps.Now()
	if err := c.cfg.Limits.CheckKey(key); err != nil {
		return GetResult{}, err
	}
	v, err := c.views.get(ctx, start)
	if err != nil {
		return GetResult{}, err
	}
	p, targets := c.newPlan(v, key, start)
	rq, err := c.resolve(p, opt.R, opt.PR, v.cluster.Params.R, "r", "pr")
	if err != nil {
		return GetResult{}, err
	}
	obj, kc, err := c.fanRead(ctx, p, targets, rq, "get")
	c.stats.observe(&c.stats.GetLatency, c.deps.Now().Sub(start))
	if err != nil {
		return GetResult{}, err
	}
	return GetResult{Siblings: obj.Visible(c.deps.Now().UnixMilli()), Context: kv.EncodeContext(*v.cluster.ContextKeys, key, kc)}, nil
}

// fanRead reads targets in parallel until q.need distinct nodes whose
// replies count (q.primaries of them primaries) answered, and returns the
// reconciled object and the context of what it read. Replies that do not
// count (another region's, under the local quorum) are merged in if they
// came first.
func (c *Coordinator) fanRead(ctx context.Context, p *plan, targets []target, q quorumSpec, op string) (vclock.Object, kv.Context, error) {
	r, pr := q.need, q.primaries
	rctx, cancel := c.background(ctx, p)
	replies := make(chan readReply, 2*len(targets)+16)
	outstanding := 0
	launch := func(t target) {
		outstanding++
		go func() {
			t0 := c.deps.Now()
			st, err := c.read(rctx, t, p.key)
			if err == nil && t.primary() {
				c.hedge.observe(t.node.ID, c.deps.Now().Sub(t0))
			}
			replies <- readReply{t: t, st: st, err: err}
		}()
	}
	first, rest, delay := c.splitHedge(p, targets, q)
	for _, t := range first {
		launch(t)
	}
	var hedgeC <-chan time.Time
	if len(rest) > 0 {
		hedgeC = c.after(delay)
	}
	hedge := func() { // ask the others (once)
		for _, t := range rest {
			launch(t)
		}
		if len(rest) > 0 {
			c.stats.add(&c.stats.HedgedReads, 1)
		}
		rest, hedgeC = nil, nil
	}
	acc := quorum.NewRead(r, q.candidates(targets),
		func(a, b vclock.Object) vclock.Object { return vclock.MergeObjects(a, b) },
		func(a, b vclock.Object) bool { return a.Equal(b) })
	var got []readReply
	var errs []error
	primaries := 0 // primaries that answered
	for acc.Vote() == quorum.Pending || (acc.Vote() == quorum.Won && primaries < pr && (outstanding > 0 || len(rest) > 0)) {
		if outstanding == 0 {
			hedge()
		}
		var rep readReply
		select {
		case rep = <-replies:
		case <-hedgeC:
			hedge()
			continue
		case <-ctx.Done():
			cancel()
			return vclock.Object{}, kv.Context{}, fmt.Errorf("%s %q: %w", op, p.key, ctx.Err())
		}
		outstanding--
		c.health.record(rep.t.node.ID, rep.err == nil, c.deps.Now())
		if rep.err == nil && rep.t.primary() {
			primaries++
		}
		if acc.Vote() == quorum.Won || !q.counted(rep.t) { // waiting only for more primaries (pr), or a reply that does not count
			if rep.err == nil {
				got = append(got, rep)
			} else {
				errs = append(errs, rep.err)
			}
			continue
		}
		if rep.err != nil {
			errs = append(errs, rep.err)
			hedge()
			acc.Fail(rep.t.node.ID)
			if fb, ok := p.fallback(rep.t.owner()); ok {
				if q.counted(fb) {
					acc.AddCandidates(1)
				}
				launch(fb)
			}
			continue
		}
		got = append(got, rep)
		acc.Record(rep.t.node.ID, rep.st.Obj)
	}
	if acc.Vote() == quorum.Lost {
		c.stats.add(&c.stats.QuorumFailures, 1)
		c.drain(rctx, replies, outstanding, cancel, nil)
		return vclock.Object{}, kv.Context{}, &kv.QuorumError{Op: op, Got: len(got), Need: r, Errs: errs}
	}
	if primaries < pr {
		c.stats.add(&c.stats.QuorumFailures, 1)
		c.drain(rctx, replies, outstanding, cancel, nil)
		return vclock.Object{}, kv.Context{}, &kv.QuorumError{Op: op + " (pr)", Got: primaries, Need: pr, Errs: errs}
	}
	result, _ := acc.Result()
	for _, rep := range got { // replies after the quorum was won (pr)
		result = vclock.MergeObjects(result, rep.st.Obj)
	}
	kc := readContext(result, got)
	if n := len(result.Siblings); n > 0 {
		c.stats.sibling(n)
		if n > c.cfg.Limits.WarnSiblings {
			c.logger(ctx).Warn("many siblings", "key", p.key, "siblings", n)
		}
	}
	// Background: wait for the stragglers, then repair every stale replica.
	lww := p.v.cluster.Params.LWW
	c.drain(rctx, replies, outstanding, cancel, func(late []readReply) {
		all := append(got, late...)
		objs := make([]vclock.Object, 0, len(all))
		for _, rep := range all {
			objs = append(objs, rep.st.Obj)
		}
		full := vclock.Reconcile(objs...)
		if lww {
			full = vclock.LastWriteWins(full)
		}
		data := vclock.Encode(full)
		for _, rep := range late { // the context names the others (seencache.go)
			if s, ok := rep.seen(); ok {
				c.seen.record(p.key, s, rep.st.Obj.Clock)
			}
		}
		for _, rep := range all {
			if !rep.t.primary() || (rep.st.Found && !rep.st.Corrupt && bytes.Equal(rep.st.Data, data)) {
				continue
			}
			if full.Empty() {
				continue
			}
			st := rep.st
			m, err := c.mergeInto(rctx, rep.t, full, data, &st, lww)
			if err != nil {
				c.logger(ctx).Warn("read repair failed", "key", p.key, "node", rep.t.node.ID, "err", err)
				continue
			}
			if m.Same {
				c.seen.record(p.key, kv.Seen{Node: rep.t.node.ID, ETag: m.ETag, Actor: m.Actor}, full.Clock)
			}
			c.stats.add(&c.stats.ReadRepairs, 1)
		}
	})
	return result, kc, nil
}

// drain collects the outstanding replies in the background, hands the
// successful ones to then (if not nil) and releases the request's context.
func (c *Coordinator) drain(rctx context.Context, replies chan readReply, outstanding int, cancel context.CancelFunc, then func([]readReply)) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer cancel()
		var late []readReply
		for ; outstanding > 0; outstanding-- {
			rep := <-replies
			rep.err = c.settle(rctx, rep.t.node.ID, rep.err)
			if rep.err == nil {
				late = append(late, rep)
			}
		}
		if then != nil {
			then(late)
		}
	}()
}

// readContext builds the client context of a read: the merged clock, and the
// primaries whose object the merged clock covers exactly as read.
func readContext(result vclock.Object, got []readReply) kv.Context {
	kc := kv.Context{Clock: result.Clock}
	for _, rep := range got {
		if s, ok := rep.seen(); ok {
			kc.Seen = append(kc.Seen, s)
		}
	}
	return kc
}

// seen is what a context (or the seen cache) records of a primary's
// readable reply.
func (rep readReply) seen() (kv.Seen, bool) {
	if !rep.t.primary() || !rep.st.Found || rep.st.Corrupt {
		return kv.Seen{}, false
	}
	return kv.Seen{Node: rep.t.node.ID, ETag: rep.st.ETag, Actor: rep.st.Actor}, true
}
