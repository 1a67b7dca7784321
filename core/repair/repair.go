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
// Ring-change state lives in the membership record, changed with
// conditional writes, so any process resumes any step: the pending owners
// (kv.Cluster.Next), the transfer progress and write marks
// (kv.Cluster.Change) and the cleanups due after commits, with their commit
// times (kv.Cluster.Cleanups). Only the anti-entropy cursor and the reap scan
// schedule are kept in memory; a new process starts the cursor at a
// partition chosen from the clock (minutes since the epoch modulo Q), so
// short-lived processes (Lambda containers) still cover the whole ring over
// successive runs.
package repair

import (
	"context"
	"errors"
	"io"
	"log/slog"
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

	mu   sync.Mutex  // serializes runs; guards the fields below
	next int         // anti-entropy cursor; -1 until the first run
	due  []time.Time // per partition: when its next reap scan is due
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
		deps.Sleep = kv.Sleep
	}
	return &Repairer{cfg: cfg, deps: deps, log: deps.Log, next: -1}, nil
}

func (r *Repairer) newRun() *run {
	x := &run{cfg: r.cfg, deps: r.deps, log: r.log, start: r.deps.Now(), rep: &Report{}}
	x.rio = x.replicas()
	return x
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

// Plan returns the pending ring change with its transfer progress, both
// read from the membership record.
func (r *Repairer) Plan(ctx context.Context) (Plan, error) {
	c, err := r.deps.Members.Load(ctx)
	if err != nil {
		return Plan{}, errorf("load membership: %w", err)
	}
	p, err := PlanOf(c)
	if err != nil {
		return Plan{}, err
	}
	if p.Pending {
		p.Settling = c.Change == nil || r.deps.Now().Sub(time.UnixMilli(c.Change.Seen)) < r.cfg.PlanSettle
		p.Settling = p.Settling && r.cfg.PlanSettle > 0
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
