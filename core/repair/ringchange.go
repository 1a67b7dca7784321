package repair

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// Every step of a ring change reads its state from the membership record
// and records its progress there with a conditional write, so a process
// that starts at any moment resumes it: the plan (Next), the transfers done
// and the writes since (Change), the copies to clean up after commits
// (Cleanups).

// errStale means the record no longer holds the state a change was based on.
var errStale = errors.New("repair: the ring change moved on")

// update applies fn to the stored cluster and saves the result with the next
// epoch, conditionally, re-reading and re-applying after a lost race. fn
// returns errStale (or another error) to give up. It returns the new world.
func (r *Repairer) update(ctx context.Context, fn func(c kv.Cluster) (kv.Cluster, error)) (*world, error) {
	for attempt := 0; attempt < 8; attempt++ {
		c, err := r.deps.Members.Load(ctx)
		if err != nil {
			return nil, errorf("load membership: %w", err)
		}
		next, err := fn(c)
		if err != nil {
			return nil, err
		}
		next.Epoch = c.Epoch + 1
		err = r.deps.Members.Save(ctx, next, c.Epoch)
		if errors.Is(err, kv.ErrPrecondition) {
			continue
		}
		if err != nil {
			return nil, errorf("save membership: %w", err)
		}
		return newWorld(next)
	}
	return nil, errorf("save membership: %w: the record kept changing", kv.ErrPrecondition)
}

// transfer runs the transfer step of a pending ring change and, when every
// moving partition is transferred and commit is set, commits it. It returns
// the world to continue with (the committed one after a commit).
func (r *Repairer) transfer(ctx context.Context, x *run, w *world, commit bool) *world {
	tr := &x.rep.Transfers
	w = r.cleanup(ctx, x, w)
	if w.next == nil {
		return w
	}
	tr.Pending = true
	now := r.deps.Now()
	fp := fingerprint(w.c)
	if w.c.Change == nil {
		nw, err := r.update(ctx, func(c kv.Cluster) (kv.Cluster, error) {
			if fingerprint(c) != fp {
				return c, errStale
			}
			if c.Change == nil {
				c.Change = &kv.RingChange{Seen: now.UnixMilli()}
			}
			return c, nil
		})
		if err != nil {
			if !errors.Is(err, errStale) { // re-planned meanwhile: the next run starts it
				x.fail(errorf("record the ring change: %w", err))
			}
			return w
		}
		w = nw
	}
	plan := w.plan()
	tr.Moves = len(plan.Moves)
	if age := now.Sub(time.UnixMilli(w.c.Change.Seen)); age < r.cfg.PlanSettle {
		tr.Settling = true
		tr.SettlesInMs = max((r.cfg.PlanSettle - age).Milliseconds(), 1)
		return w
	}
	base := w.c.Epoch // writes marked after this epoch may be missed below
	ss := &streams{store: counted{x}, page: r.cfg.PageSize, m: map[string]*stream{}}
	var done []int
	for _, mv := range plan.Moves {
		if mv.Done {
			continue
		}
		if !x.allow(ctx) {
			break
		}
		ms := w.members(mv.Partition)
		res := x.exchange(ctx, w, ss, mv.Partition, ms, false)
		x.recycle(ms)
		tr.Exchange.add(res.Exchange)
		if res.complete && res.failed == 0 && transferred(ms, w.c.Params.W) {
			done = append(done, mv.Partition)
		}
	}
	if len(done) > 0 {
		nw, err := r.update(ctx, func(c kv.Cluster) (kv.Cluster, error) {
			if fingerprint(c) != fp || c.Change == nil {
				return c, errStale
			}
			rc := *c.Change
			rc.Done = slices.Clone(rc.Done)
			for _, p := range done {
				if !rc.MarkedAfter(p, base) && !rc.IsDone(p) {
					rc.Done = append(rc.Done, p)
				}
			}
			slices.Sort(rc.Done)
			c.Change = &rc
			return c, nil
		})
		if err != nil {
			if !errors.Is(err, errStale) { // re-planned meanwhile: its transfers start over
				x.fail(errorf("record transfers: %w", err))
			}
			return w
		}
		w = nw
	}
	plan = w.plan()
	tr.Done = plan.Done
	if tr.Done < tr.Moves || !commit || !r.handOver(ctx, x, w) {
		return w
	}
	nw, err := r.update(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		if fingerprint(c) != fp {
			return c, errorf("commit: the ring change was re-planned during its transfers")
		}
		cw, err := newWorld(c)
		if err != nil {
			return c, err
		}
		if p := cw.plan(); p.Done < len(p.Moves) {
			return c, errStale // written since: transfer again
		}
		return membership.CommitAt(c, now)
	})
	if errors.Is(err, errStale) {
		return w
	}
	if err != nil {
		x.fail(err)
		return w
	}
	r.deps.Handoff.Invalidate()
	r.log.Info("ring change committed", "epoch", nw.c.Epoch, "moves", len(plan.Moves))
	tr.Committed = true
	x.rep.Epoch = nw.c.Epoch
	return r.cleanup(ctx, x, nw)
}

// handOver delivers the hinted replicas held by the nodes the commit will
// remove (leaving nodes that own nothing in the plan), and reports whether
// the commit may go ahead: not while a reachable leaving node still holds one
// (its intended node is down, say). A leaving node that cannot be listed does
// not block: its cleanup, recorded at the commit, delivers its hinted
// replicas when it answers again.
func (r *Repairer) handOver(ctx context.Context, x *run, w *world) bool {
	for _, n := range w.c.Nodes {
		if n.State != kv.StateLeaving || slices.Contains(w.c.Next, n.ID) {
			continue
		}
		left, listed := x.sweepNode(ctx, n, &x.rep.Handoff)
		if !listed && x.stoppedNow() {
			return false // the next run goes on
		}
		if left > 0 {
			x.rep.Transfers.Blocked = fmt.Sprintf("leaving node %s still holds %d hinted replicas", n.ID, left)
			return false
		}
	}
	return true
}

// transferred reports whether a moving partition's exchange left its new
// primaries complete: every primary under the plan was listed and took its
// writes, and enough current primaries were read that every write they
// acknowledged (W of them) was seen: at least N-W+1.
func transferred(ms []*member, w int) bool {
	old, read := 0, 0
	for _, m := range ms {
		if m.next && (!m.ok || m.failed) {
			return false
		}
		if m.old {
			old++
			if m.ok {
				read++
			}
		}
	}
	return read >= max(1, old-w+1)
}

// cleanup works through the cleanups recorded at commits, once their commit
// is PlanSettle old (every coordinator routes by the new owners by then):
// each copy a node holds of a partition it lost is merged into the
// partition's current owners (always, whatever its age: reaping waits for
// cleanups, so merging can never bring back a reaped key), then deleted, each
// object only if its ETag is still the one listed. A departed node's hinted
// replicas are delivered too. Partitions done are removed from the record,
// so an interrupted cleanup resumes where it stopped, in any process. It
// returns the world to continue with.
func (r *Repairer) cleanup(ctx context.Context, x *run, w *world) *world {
	if len(w.c.Cleanups) == 0 {
		return w
	}
	now := r.deps.Now()
	tr := &x.rep.Transfers
	ss := &streams{store: counted{x}, page: r.cfg.PageSize, m: map[string]*stream{}}
	type cleared struct {
		id       string
		loc      kv.Location
		departed bool
		ps       []int
	}
	var out []cleared
	for _, cl := range w.c.Cleanups {
		if now.Sub(time.UnixMilli(cl.Committed)) < r.cfg.PlanSettle {
			continue
		}
		if n, ok := w.nodes[cl.Node.ID]; ok && n.State == kv.StateDown {
			continue // the health job says its storage does not answer
		}
		done := cleared{id: cl.Node.ID, loc: cl.Node.Location, departed: cl.Departed}
		for _, p := range cl.Partitions {
			if !x.allow(ctx) {
				break
			}
			ok := r.cleanPartition(ctx, x, w, ss, cl, p, tr)
			if ok {
				done.ps = append(done.ps, p)
			}
		}
		if cl.Departed && len(done.ps) == len(cl.Partitions) {
			// The last step: its hinted replicas reach their owners.
			if left, listed := x.sweepNode(ctx, cl.Node, &x.rep.Handoff); !listed || left > 0 {
				done.ps = done.ps[:len(done.ps)-1]
			}
		}
		if len(done.ps) > 0 {
			out = append(out, done)
		}
		if x.stoppedNow() {
			break
		}
	}
	if len(out) == 0 {
		return w
	}
	nw, err := r.update(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		for _, d := range out {
			c = membership.ClearCleanup(c, d.id, d.loc, d.departed, d.ps)
		}
		return c, nil
	})
	if err != nil {
		x.fail(errorf("record cleanups: %w", err))
		return w
	}
	return nw
}

// cleanPartition merges node cl.Node's copy of partition p into the
// partition's current owners and deletes it; true when nothing is left to
// clean. A node that is a primary of p again keeps its copy (it is live data
// and anti-entropy merges it before any reap).
func (r *Repairer) cleanPartition(ctx context.Context, x *run, w *world, ss *streams, cl kv.Cleanup, p int, tr *TransferReport) bool {
	ms := w.members(p)
	if i := slices.IndexFunc(ms, func(m *member) bool { return m.node.ID == cl.Node.ID && m.node.Location == cl.Node.Location }); i >= 0 {
		return ms[i].old // a pending owner only: wait for its commit
	}
	// The record keeps the node as it was at the commit; its health is the
	// member's now (a node marked down then is read once it is active).
	node := cl.Node
	if n, ok := w.nodes[node.ID]; ok && n.Location == node.Location {
		node.State = n.State
	} else if node.State == kv.StateDown {
		node.State = kv.StateLeaving
	}
	src := &member{node: node, source: true}
	all := append(slices.Clone(ms), src)
	res := x.exchange(ctx, w, ss, p, all, false)
	x.recycle(all)
	tr.Exchange.add(res.Exchange)
	if !res.complete || !src.ok || res.failed > 0 || !merged(ms, w.c.Params.W) {
		return false
	}
	clean := true
	for h, e := range src.listing.ETags {
		if !x.allow(ctx) {
			return false
		}
		err := counted{x}.Delete(ctx, cl.Node.Location, dataName(h), e)
		if err != nil && !errors.Is(err, kv.ErrPrecondition) {
			x.fail(errorf("clean up %s on %s: %w", dataName(h), cl.Node.ID, err))
		}
		if err != nil {
			clean = false // written since it was listed: merged next time
			continue
		}
		tr.Cleaned++
	}
	if !clean || !x.allow(ctx) {
		return false
	}
	// A write that landed after the listing (a put in flight since before
	// the commit) is merged by the next run: the cleanup is done only when
	// the copy is gone.
	_, hi, after := partitionNames(w.c.Params.Q, p)
	left, _, err := counted{x}.List(ctx, cl.Node.Location, kv.DataPrefix, after, 1)
	if err != nil {
		x.fail(errorf("clean up partition %d on %s: %w", p, cl.Node.ID, err))
		return false
	}
	return len(left) == 0 || left[0].Name > hi
}

// merged reports whether a cleanup's copy reached enough current owners of
// the partition: every current primary listed took its writes, and at least
// W were listed.
func merged(ms []*member, w int) bool {
	got := 0
	for _, m := range ms {
		if m.failed {
			return false
		}
		if m.old && m.ok {
			got++
		}
	}
	return got >= min(w, countOld(ms))
}

func countOld(ms []*member) int {
	n := 0
	for _, m := range ms {
		if m.old {
			n++
		}
	}
	return n
}
