// Package repair makes every replica converge, including the keys nobody
// reads, and moves data when the ring changes. It is pure logic over the kv
// ports (no AWS), like the coordinator, and delivers hints through it.
//
// A run does, in order, within a request budget and a time budget:
//
//  1. Transfers. During a ring change (kv.Cluster.Next set), every partition
//     whose primaries change is exchanged between its current and its new
//     primaries, which copies its data to the new ones (merging, never
//     overwriting). Coordinators send new writes to both meanwhile, so once
//     every moving partition is transferred the change is committed
//     (Owners = Next) with a conditional membership write; the nodes that
//     lost a partition then have their copies removed.
//  2. Anti-entropy. For each partition in turn, from a cursor that carries
//     over to the next run, each primary's replica objects are listed and a
//     fixed-shape Merkle tree is built from the LIST pages alone (key hash
//     from the object name, version hash from the ETag: encodings are
//     canonical, so equal versions have equal ETags). Comparing the trees
//     finds the segments that differ, and only keys in those segments are
//     compared; each differing key is read once per distinct version, merged
//     (siblings kept) and written to the replicas that lack the result. A
//     partition whose replicas agree costs its LIST pages (about one request
//     per 1,000 keys per replica) and nothing else; one whose replicas differ
//     in d keys costs about 2d GETs and d PUTs more.
//  3. Hints: the hint queue is drained, then hinted replicas left on nodes
//     without a queued message are found (LIST "hints/") and delivered.
//
// Deleted keys are reaped (their tombstones removed) only under the
// conditions of ReapDecision, checked for keys an exchange repairs and, every
// Config.ReapScanEvery, for every key (one GET each).
//
// State kept between runs, in memory only: the anti-entropy cursor, transfer
// progress and the cleanups due after a commit. A new process starts the
// cursor at a partition chosen from the clock (minutes since the epoch modulo
// Q), so short-lived processes (Lambda containers) still cover the whole ring
// over successive runs; it redoes transfers already done, which costs only
// their LIST pages.
package repair

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// ErrTransfersPending is returned by Commit while moving partitions remain
// to be transferred.
var ErrTransfersPending = errors.New("repair: transfers not finished")

// Repairer runs repairs for one cluster. It is safe for concurrent use; runs
// are serialized.
type Repairer struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu     sync.Mutex  // serializes runs; guards the fields below
	next   int         // anti-entropy cursor; -1 until the first run
	due    []time.Time // per partition: when its next reap scan is due
	strays []stray
	// xfer is written by runs holding both mu and smu, and read by Plan
	// holding smu only, so the plan shows progress while a run goes on.
	smu  sync.Mutex
	xfer transfers
}

// setXfer replaces the transfer progress.
func (r *Repairer) setXfer(t transfers) {
	r.smu.Lock()
	r.xfer = t
	r.smu.Unlock()
}

// markDone records partition p as transferred.
func (r *Repairer) markDone(p int) {
	r.smu.Lock()
	r.xfer.done[p] = true
	r.smu.Unlock()
}

// transfers is the progress of the pending ring change identified by key.
type transfers struct {
	key  string
	seen time.Time // when this process first saw the plan
	done map[int]bool
}

// stray is a node's copy of a partition it no longer serves, to remove.
type stray struct {
	node      kv.Node
	partition int
	since     time.Time // the commit
}

// New returns a Repairer; it does no I/O until the first run.
func New(cfg Config, deps Deps) (*Repairer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Sleep == nil {
		deps.Sleep = sleepTimer
	}
	return &Repairer{cfg: cfg, deps: deps, log: deps.Log, next: -1}, nil
}

func (r *Repairer) newRun() *run {
	return &run{cfg: r.cfg, deps: r.deps, log: r.log, start: r.deps.Now(), rep: &Report{}}
}

// load reads the cluster and builds its snapshot.
func (r *Repairer) load(ctx context.Context, x *run) (*world, error) {
	c, err := r.deps.Members.Load(ctx)
	if err != nil {
		return nil, errorf("load membership: %w", err)
	}
	w, err := newWorld(c)
	if err != nil {
		return nil, err
	}
	x.rep.Epoch = c.Epoch
	return w, nil
}

// Run does one repair run: transfers of a pending ring change (and its
// commit), then anti-entropy from the cursor, then hint delivery, until done
// or out of budget. Failures of single nodes or keys are counted in the
// report and left for the next run; an error is returned only when the run
// could not start (membership unreadable).
func (r *Repairer) Run(ctx context.Context) (Report, error) {
	return r.locked(ctx, func(x *run, w *world) error {
		w = r.transfer(ctx, x, w, r.cfg.AutoCommit)
		r.antiEntropy(ctx, x, w)
		if x.allow(ctx) {
			res, err := r.deps.Handoff.DrainHints(ctx, r.cfg.HintWait)
			x.charge(hintCost * (res.Delivered + res.Failed))
			x.rep.Handoff.Queue = res
			if err != nil && ctx.Err() == nil {
				x.fail(errorf("drain hints: %w", err))
			}
		}
		x.sweepHints(ctx, w, &x.rep.Handoff)
		return nil
	})
}

// locked runs body as one run under the repairer's lock, with the cluster
// loaded, and returns the run's report with body's error.
func (r *Repairer) locked(ctx context.Context, body func(x *run, w *world) error) (Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x := r.newRun()
	w, err := r.load(ctx, x)
	if err == nil {
		err = body(x, w)
	}
	return x.finish(), err
}

// Commit transfers what remains of the pending ring change and commits it
// if every moving partition is transferred (whatever Config.AutoCommit
// says). It returns membership.ErrNoPlan if no change is pending and
// ErrTransfersPending if transfers remain (run it again).
func (r *Repairer) Commit(ctx context.Context) (Report, error) {
	return r.locked(ctx, func(x *run, w *world) error {
		if w.next == nil {
			r.transfer(ctx, x, w, false) // cleanups still due
			return membership.ErrNoPlan
		}
		r.transfer(ctx, x, w, true)
		if !x.rep.Transfers.Committed {
			return ErrTransfersPending
		}
		return nil
	})
}

// Reap compares every partition, starting at the first, and reaps the
// deleted keys that ReapDecision allows, reading every converged key once (a
// reap scan). It leaves the anti-entropy cursor alone.
func (r *Repairer) Reap(ctx context.Context) (Report, error) {
	return r.locked(ctx, func(x *run, w *world) error {
		r.pass(ctx, x, w, 0, func(int) bool { return true })
		return nil
	})
}

// Plan returns the pending ring change with the transfer progress this
// process knows of.
func (r *Repairer) Plan(ctx context.Context) (Plan, error) {
	c, err := r.deps.Members.Load(ctx)
	if err != nil {
		return Plan{}, errorf("load membership: %w", err)
	}
	p, err := PlanOf(c)
	if err != nil {
		return Plan{}, err
	}
	r.smu.Lock()
	defer r.smu.Unlock()
	if p.Pending {
		if r.xfer.key == fingerprint(c) {
			for i := range p.Moves {
				p.Moves[i].Done = r.xfer.done[p.Moves[i].Partition]
				if p.Moves[i].Done {
					p.Done++
				}
			}
			p.Settling = r.deps.Now().Sub(r.xfer.seen) < r.cfg.PlanSettle
		} else {
			p.Settling = r.cfg.PlanSettle > 0
		}
	}
	return p, nil
}

// ---- anti-entropy ----------------------------------------------------------

// antiEntropy exchanges partitions from the cursor on, and moves the cursor.
func (r *Repairer) antiEntropy(ctx context.Context, x *run, w *world) {
	q := w.c.Params.Q
	now := r.deps.Now()
	if r.next < 0 || r.next >= q {
		r.next = int((now.Unix() / 60) % int64(q))
	}
	r.next = r.pass(ctx, x, w, r.next, func(p int) bool { return r.scanDue(p, q, now) })
}

// scanDue reports whether partition p's converged keys are due for a reap
// scan. A process spreads its first scans over the first period at random,
// so that scans cost the same on average however long processes live.
func (r *Repairer) scanDue(p, q int, now time.Time) bool {
	every := r.cfg.ReapScanEvery
	switch {
	case every < 0:
		return false
	case every == 0:
		return true
	}
	if len(r.due) != q {
		r.due = make([]time.Time, q)
		for i := range r.due {
			r.due[i] = now.Add(time.Duration(r.deps.Rand() % uint64(every)))
		}
	}
	return !now.Before(r.due[p])
}

// pass exchanges partitions start, start+1, ... (wrapping) until all are
// done or the run stops, reaping what it may; scan says which partitions
// get a reap scan. It returns the first partition not done.
func (r *Repairer) pass(ctx context.Context, x *run, w *world, start int, scan func(p int) bool) int {
	q := w.c.Params.Q
	ae := &x.rep.AntiEntropy
	ae.Start, ae.Next = start, start
	ss := &streams{store: counted{x}, page: r.cfg.PageSize, m: map[string]*stream{}}
	for i := 0; i < q; i++ {
		p := (start + i) % q
		if !x.allow(ctx) {
			break
		}
		ms := w.members(p)
		scanned := scan(p)
		res := x.exchange(ctx, w, ss, p, ms, scanned)
		x.recycle(ms)
		ae.Exchange.add(res.Exchange)
		if !res.complete || !r.reapAll(ctx, x, w, ms, res.candidates) {
			break
		}
		if scanned && len(r.due) == q {
			r.due[p] = r.deps.Now().Add(r.cfg.ReapScanEvery)
		}
		ae.Next = (p + 1) % q
	}
	return ae.Next
}

// reapAll reaps the candidates of one partition whose members are exactly
// its primaries, all listed; false if the run stopped meanwhile.
func (r *Repairer) reapAll(ctx context.Context, x *run, w *world, ms []*member, cands []candidate) bool {
	if len(cands) == 0 {
		return true
	}
	for _, m := range ms {
		if !m.ok || !m.old {
			return true // a primary not listed, or a ring change: not now
		}
	}
	ae := &x.rep.AntiEntropy
	for _, c := range cands {
		ae.ReapCandidates++
		ok, err := x.reap(ctx, w, ms, c)
		if errors.Is(err, errBudget) {
			return false
		}
		if err != nil {
			x.fail(err)
		}
		if ok {
			ae.Reaped++
		}
	}
	return true
}

// ---- ring changes ----------------------------------------------------------

// transfer runs the transfer step of a pending ring change and, when every
// moving partition is transferred and commit is set, commits it. It returns
// the world to continue with (the committed one after a commit).
func (r *Repairer) transfer(ctx context.Context, x *run, w *world, commit bool) *world {
	tr := &x.rep.Transfers
	r.cleanup(ctx, x, w)
	if w.next == nil {
		r.setXfer(transfers{})
		return w
	}
	tr.Pending = true
	now := r.deps.Now()
	fp := fingerprint(w.c)
	if r.xfer.key != fp {
		r.setXfer(transfers{key: fp, seen: now, done: map[int]bool{}})
	}
	plan := w.plan()
	tr.Moves = len(plan.Moves)
	if now.Sub(r.xfer.seen) < r.cfg.PlanSettle {
		tr.Settling = true
		return w
	}
	ss := &streams{store: counted{x}, page: r.cfg.PageSize, m: map[string]*stream{}}
	for _, mv := range plan.Moves {
		if r.xfer.done[mv.Partition] {
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
			r.markDone(mv.Partition)
		}
	}
	tr.Done = len(r.xfer.done)
	if tr.Done < tr.Moves || !commit || !r.handOver(ctx, x, w) {
		return w
	}
	nw, err := r.commit(ctx, w, fp, plan, now)
	if err != nil {
		x.fail(err)
		return w
	}
	tr.Committed = true
	x.rep.Epoch = nw.c.Epoch
	r.cleanup(ctx, x, nw)
	return nw
}

// handOver delivers the hinted replicas held by the nodes the commit will
// remove (leaving nodes that own nothing in the plan), which would otherwise
// be orphaned, and reports whether the commit may go ahead: not while a
// reachable leaving node still holds one (its intended node is down, say).
// A leaving node that cannot be listed does not block: what it holds is lost
// with it whatever we wait for, and writes acknowledged by W nodes are
// elsewhere too.
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

// commit switches ownership to the plan with a conditional membership write,
// provided the plan is still the one transferred, and schedules the cleanup
// of the nodes that lost partitions.
func (r *Repairer) commit(ctx context.Context, w *world, fp string, plan Plan, now time.Time) (*world, error) {
	c := w.c
	for attempt := 0; attempt < 5; attempt++ {
		if fingerprint(c) != fp {
			return nil, errorf("commit: the ring change was re-planned during its transfers")
		}
		next, err := membership.Commit(c)
		if err != nil {
			return nil, errorf("commit: %w", err)
		}
		err = r.deps.Members.Save(ctx, next, c.Epoch)
		if errors.Is(err, kv.ErrPrecondition) {
			if c, err = r.deps.Members.Load(ctx); err != nil {
				return nil, errorf("commit: %w", err)
			}
			continue // another change (a node marked down): same plan?
		}
		if err != nil {
			return nil, errorf("commit: %w", err)
		}
		r.deps.Handoff.Invalidate()
		r.log.Info("ring change committed", "epoch", next.Epoch, "moves", len(plan.Moves))
		for _, mv := range plan.Moves {
			for _, id := range mv.From {
				r.strays = append(r.strays, stray{node: w.nodes[id], partition: mv.Partition, since: now})
			}
		}
		r.setXfer(transfers{})
		return newWorld(next)
	}
	return nil, errorf("commit: membership kept changing")
}

// cleanup removes, once the commit has settled, the copies of partitions
// that nodes lost in a commit, so a stale copy can never come back if the
// node regains the partition later. Within the reaping grace period of the
// commit, a copy is first merged into the partition's primaries (a write that
// reached only the old owner is kept); after it, merging could resurrect a
// reaped key, so the copy is only deleted. Each object is deleted if its
// ETag is still the one listed.
func (r *Repairer) cleanup(ctx context.Context, x *run, w *world) {
	if len(r.strays) == 0 {
		return
	}
	now := r.deps.Now()
	tr := &x.rep.Transfers
	ss := &streams{store: counted{x}, page: r.cfg.PageSize, m: map[string]*stream{}}
	var keep []stray
	for i, s := range r.strays {
		ms := w.members(s.partition)
		switch {
		case now.Sub(s.since) < r.cfg.PlanSettle:
			keep = append(keep, s)
			continue
		case containsNode(ms, s.node.ID):
			continue // it serves the partition again: its copy is live data
		case !x.allow(ctx):
			keep = append(keep, r.strays[i:]...)
			r.strays = keep
			return
		}
		src := &member{node: s.node, source: true}
		if now.Sub(s.since) < r.cfg.ReapGrace {
			ms = append(ms, src)
		} else {
			ms = []*member{src}
		}
		res := x.exchange(ctx, w, ss, s.partition, ms, false)
		x.recycle(ms)
		tr.Exchange.add(res.Exchange)
		if !res.complete || !src.ok || anyFailed(ms) {
			keep = append(keep, s)
			continue
		}
		clean := true
		for h, e := range src.listing.ETags {
			if !x.allow(ctx) {
				clean = false
				break
			}
			err := counted{x}.Delete(ctx, s.node.Location, dataName(h), e)
			if err != nil && !errors.Is(err, kv.ErrPrecondition) {
				x.fail(errorf("clean up %s on %s: %w", dataName(h), s.node.ID, err))
			}
			if err != nil {
				clean = false
				continue
			}
			tr.Cleaned++
		}
		if !clean {
			keep = append(keep, s)
		}
	}
	r.strays = keep
}

func containsNode(ms []*member, id string) bool {
	for _, m := range ms {
		if m.node.ID == id {
			return true
		}
	}
	return false
}

// anyFailed reports whether a non-source member was not listed or refused a
// write.
func anyFailed(ms []*member) bool {
	for _, m := range ms {
		if !m.source && (!m.ok || m.failed) {
			return true
		}
	}
	return false
}
