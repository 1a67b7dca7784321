package repair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/merkle"
	"github.com/cartwheel/cartwheel/core/replica"
)

// Counts is a number of storage requests per kind.
type Counts struct {
	List   int `json:"list"`
	Get    int `json:"get"`
	Put    int `json:"put"`
	Delete int `json:"delete"`
}

// Total sums all kinds.
func (c Counts) Total() int { return c.List + c.Get + c.Put + c.Delete }

// Exchange counts what comparing replicas did.
type Exchange struct {
	// Partitions compared completely.
	Partitions int `json:"partitions"`
	// Keys listed (distinct keys per partition), i.e. compared by tree.
	Keys int `json:"keys"`
	// Differing keys: absent from a replica, or with different bytes.
	Differing int `json:"differing"`
	// Repaired keys: at least one replica written.
	Repaired int `json:"repaired"`
	// Writes to replicas.
	Writes int `json:"writes"`
}

func (e *Exchange) add(o Exchange) {
	e.Partitions += o.Partitions
	e.Keys += o.Keys
	e.Differing += o.Differing
	e.Repaired += o.Repaired
	e.Writes += o.Writes
}

// TransferReport is what the transfer step of a ring change did.
type TransferReport struct {
	// Pending: a ring change is planned (membership's Next is set).
	Pending bool `json:"pending"`
	// Settling: the plan is too recent to transfer yet (Config.PlanSettle).
	Settling bool `json:"settling,omitempty"`
	// SettlesInMs is, while Settling, how long until transfers may start.
	SettlesInMs int64 `json:"settlesInMs,omitempty"`
	// Moves is the number of partitions whose primaries change; Done of
	// them are transferred.
	Moves int `json:"moves"`
	Done  int `json:"done"`
	// Committed: this run switched ownership to the plan. Blocked says why
	// a transferred plan was not committed.
	Committed bool   `json:"committed,omitempty"`
	Blocked   string `json:"blocked,omitempty"`
	// Exchange counts the copying.
	Exchange Exchange `json:"exchange"`
	// Cleaned counts replica objects removed from nodes that no longer serve
	// their partition after a commit.
	Cleaned int `json:"cleaned,omitempty"`
}

// AntiEntropyReport is what the anti-entropy exchange did.
type AntiEntropyReport struct {
	Exchange
	// Start is the first partition compared; Next is where the next run
	// starts (Start again when every partition was compared).
	Start int `json:"start"`
	Next  int `json:"next"`
	// ReapCandidates are keys found to hold only tombstones on every replica;
	// Reaped of them were deleted.
	ReapCandidates int `json:"reapCandidates"`
	Reaped         int `json:"reaped"`
}

// HintReport is what hint delivery did.
type HintReport struct {
	// Queue is the result of draining the hint queue.
	Queue coordinator.DrainResult `json:"queue"`
	// Found hinted replicas left on nodes (the sweep), and what became of them.
	Found     int `json:"found"`
	Delivered int `json:"delivered"`
	NotReady  int `json:"notReady"`
	Failed    int `json:"failed"`
}

// Report is what one run did.
type Report struct {
	Epoch       uint64            `json:"epoch"`
	Transfers   TransferReport    `json:"transfers"`
	AntiEntropy AntiEntropyReport `json:"antiEntropy"`
	Handoff     HintReport        `json:"handoff"`
	// Requests are the storage requests the run made itself (hint deliveries
	// are the coordinator's and counted in its stats).
	Requests Counts `json:"requests"`
	// Stopped says why the run ended early: "budget" (MaxRequests),
	// "deadline" (Reserve before the context's deadline) or "cancelled";
	// empty if it did everything.
	Stopped string `json:"stopped,omitempty"`
	// Errors counts failures (a node that did not answer, a key left for
	// the next run); ErrorSamples keeps the first Config.MaxErrors messages.
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"errorSamples,omitempty"`
}

// Budget stop reasons.
const (
	StopBudget    = "budget"
	StopDeadline  = "deadline"
	StopCancelled = "cancelled"
)

// hintCost is the requests a hint delivery makes (read, merge, delete),
// charged to the budget.
const hintCost = 3

// errBudget ends a step when the run's budget is spent.
var errBudget = errors.New("repair: budget spent")

// run is one invocation: its budget, counters and report, and the store
// wrapper that counts, paces and bounds every request.
type run struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	start time.Time
	mu    sync.Mutex
	n     Counts
	extra int // budget charged for requests made by others (hint deliveries)
	rep   *Report
	rio   replica.IO // replica I/O over the counted store (exchange.go)
	// trees are empty Merkle trees to reuse: a pass builds one per replica
	// and partition, and allocating each anew would churn 17 KiB apiece.
	trees []*merkle.Tree
}

// listing builds a listing in a reused tree.
func (x *run) listing(entries []kv.Listed) Listing {
	if n := len(x.trees); n > 0 {
		t := x.trees[n-1]
		x.trees = x.trees[:n-1]
		return newListing(t, entries)
	}
	return NewListing(x.cfg.Shape, entries)
}

// recycle empties the members' trees for reuse.
func (x *run) recycle(ms []*member) {
	for _, m := range ms {
		if m.ok && m.listing.Tree != nil {
			m.listing.clear()
			x.trees = append(x.trees, m.listing.Tree)
			m.listing.Tree = nil
		}
	}
}

func (x *run) fail(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.rep.Errors++
	if len(x.rep.ErrorSamples) < x.cfg.MaxErrors {
		x.rep.ErrorSamples = append(x.rep.ErrorSamples, err.Error())
	}
	x.log.Warn("repair", "err", err)
}

// allow reports whether the run may go on, and records why not.
func (x *run) allow(ctx context.Context) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.rep.Stopped != "" {
		return false
	}
	switch {
	case ctx.Err() != nil:
		x.rep.Stopped = StopCancelled
	case x.n.Total()+x.extra >= x.cfg.MaxRequests:
		x.rep.Stopped = StopBudget
	default:
		if d, ok := ctx.Deadline(); ok && time.Until(d) < x.cfg.Reserve {
			x.rep.Stopped = StopDeadline
		}
	}
	return x.rep.Stopped == ""
}

// stoppedNow reports whether the run has stopped.
func (x *run) stoppedNow() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.rep.Stopped != ""
}

func (x *run) charge(n int) {
	x.mu.Lock()
	x.extra += n
	x.mu.Unlock()
}

// begin counts one request and paces it; the returned context carries the
// request timeout.
func (x *run) begin(ctx context.Context, count *int) (context.Context, context.CancelFunc, error) {
	x.mu.Lock()
	*count++
	k := x.n.Total() - 1
	x.mu.Unlock()
	if rps := x.cfg.RequestsPerSecond; rps > 0 {
		due := x.start.Add(time.Duration(float64(k) / rps * float64(time.Second)))
		if wait := due.Sub(x.deps.Now()); wait > 0 {
			if err := x.deps.Sleep(ctx, wait); err != nil {
				return nil, nil, err
			}
		}
	}
	rctx, cancel := context.WithTimeout(ctx, x.cfg.RequestTimeout)
	return rctx, cancel, nil
}

// The counted store: the kv.ReplicaStore the run's steps use.
type counted struct{ x *run }

func (c counted) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	rctx, cancel, err := c.x.begin(ctx, &c.x.n.Get)
	if err != nil {
		return kv.Blob{}, err
	}
	defer cancel()
	return c.x.deps.Store.Get(rctx, loc, name)
}

func (c counted) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	rctx, cancel, err := c.x.begin(ctx, &c.x.n.Put)
	if err != nil {
		return "", err
	}
	defer cancel()
	return c.x.deps.Store.Put(rctx, loc, name, data, actor, ifMatch)
}

func (c counted) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	rctx, cancel, err := c.x.begin(ctx, &c.x.n.Delete)
	if err != nil {
		return err
	}
	defer cancel()
	return c.x.deps.Store.Delete(rctx, loc, name, ifMatch)
}

func (c counted) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	rctx, cancel, err := c.x.begin(ctx, &c.x.n.List)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	return c.x.deps.Store.List(rctx, loc, prefix, startAfter, limit)
}

var _ kv.ReplicaStore = counted{}

// finish copies the request counts into the report.
func (x *run) finish() Report {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.rep.Requests = x.n
	return *x.rep
}

func errorf(format string, a ...any) error { return fmt.Errorf("repair: "+format, a...) }
