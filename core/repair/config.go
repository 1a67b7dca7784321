package repair

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/merkle"
)

// Config holds the repair job's tunables. Start from DefaultConfig.
type Config struct {
	// Shape is the Merkle tree shape of one replica's partition.
	Shape merkle.Shape
	// PageSize is the LIST page size (S3 returns at most 1,000).
	PageSize int
	// MaxRequests bounds the storage requests of one run (LIST, GET, PUT,
	// DELETE, plus an estimate for each hint delivery); a run that reaches it
	// stops between two steps and the next run resumes where it stopped.
	MaxRequests int
	// RequestsPerSecond paces the run's storage requests (0: no pacing), so a
	// repair never competes with clients for a bucket's request rate.
	RequestsPerSecond float64
	// Reserve stops a run this long before its context's deadline (the
	// Lambda timeout), so it always returns its report in time.
	Reserve time.Duration
	// RequestTimeout bounds one storage request.
	RequestTimeout time.Duration
	// CASRetries is how many conditional writes to one replica may lose to
	// concurrent writers before the key is left for the next run.
	CASRetries int
	// ReapGrace is how old a key's newest tombstone must be before the key
	// may be reaped (deleted from its replicas). It must exceed the time any
	// write, hint or read repair can stay in flight.
	ReapGrace time.Duration
	// ReapScanEvery is how often each partition's converged keys are read to
	// find reapable tombstones: one GET per key, so much costlier than the
	// LIST-only exchange, hence rarer. Keys a run repairs are always checked
	// (for free). 0 scans on every run; a negative value never scans in Run
	// (only Reap does).
	ReapScanEvery time.Duration
	// PlanSettle is how long a ring change must have been visible before its
	// partitions are transferred, and a commit before the old replicas are
	// cleaned up: at least the coordinators' ClusterTTL plus the longest put,
	// so every coordinator writes to the new owners before their copy starts.
	PlanSettle time.Duration
	// AutoCommit commits a ring change as soon as every moving partition has
	// been transferred. Without it, Commit does.
	AutoCommit bool
	// HintWait is the receive wait when draining the hint queue.
	HintWait time.Duration
	// MaxErrors is how many error messages a report keeps (all are counted).
	MaxErrors int
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Shape:          merkle.DefaultShape(), // 1,024 segments: 10-100 keys each at 10^4-10^5 keys per partition
		PageSize:       1000,                  // S3's largest LIST page
		MaxRequests:    50_000,                // $0.25 of LISTs on S3 Standard at most; about 40 M keys' listings
		Reserve:        3 * time.Second,       // the report fits; a request past the deadline is cut by ctx
		RequestTimeout: 10 * time.Second,      // S3's p99.9 is far below
		CASRetries:     8,                     // as the coordinator
		ReapGrace:      time.Hour,             // far beyond any in-flight write, hint or read repair
		ReapScanEvery:  24 * time.Hour,        // one GET per key per day
		PlanSettle:     90 * time.Second,      // > ClusterTTL + MaxStale + ReplicaTimeout (28 s), and > the coordinator's SuspendBound (60 s): a background write frozen across the commit is refused, never lands on an old owner after its cleanup
		AutoCommit:     true,
		MaxErrors:      20,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if err := c.Shape.Validate(); err != nil {
		return fmt.Errorf("repair config: %w", err)
	}
	switch {
	case c.PageSize < 1 || c.PageSize > 1000:
		return fmt.Errorf("repair config: PageSize=%d must be in [1, 1000]", c.PageSize)
	case c.MaxRequests < 1:
		return fmt.Errorf("repair config: MaxRequests=%d must be >= 1", c.MaxRequests)
	case c.RequestsPerSecond < 0:
		return fmt.Errorf("repair config: RequestsPerSecond=%v must be >= 0", c.RequestsPerSecond)
	case c.Reserve < 0:
		return fmt.Errorf("repair config: Reserve must be >= 0")
	case c.RequestTimeout <= 0:
		return fmt.Errorf("repair config: RequestTimeout must be > 0")
	case c.CASRetries < 1:
		return fmt.Errorf("repair config: CASRetries=%d must be >= 1", c.CASRetries)
	case c.ReapGrace <= 0:
		return fmt.Errorf("repair config: ReapGrace must be > 0")
	case c.PlanSettle < 0:
		return fmt.Errorf("repair config: PlanSettle must be >= 0")
	case c.HintWait < 0:
		return fmt.Errorf("repair config: HintWait must be >= 0")
	case c.MaxErrors < 0:
		return fmt.Errorf("repair config: MaxErrors must be >= 0")
	}
	return nil
}

// Handoff is what the repair job needs of the coordinator: hint delivery and
// the refresh of its cluster view after a commit. *coordinator.Coordinator
// implements it.
type Handoff interface {
	// DeliverHint merges one hinted replica into its intended node and
	// removes it from its fallback (idempotent).
	DeliverHint(ctx context.Context, h kv.Hint) error
	// DrainHints delivers every queued hint.
	DrainHints(ctx context.Context, wait time.Duration) (coordinator.DrainResult, error)
	// Invalidate drops the cached cluster view.
	Invalidate()
}

var _ Handoff = (*coordinator.Coordinator)(nil)

// Deps are the repair job's ports and its sources of time and randomness.
type Deps struct {
	// Store reads and writes replica objects (required).
	Store kv.ReplicaStore
	// Members holds the cluster description (required).
	Members kv.Membership
	// Handoff delivers hints (required).
	Handoff Handoff
	// Now returns the current time (required; time.Now in production). The
	// reaping grace period and the plan settling time are measured with it.
	Now func() time.Time
	// Rand returns random 64-bit numbers for actor nonces (required).
	Rand func() uint64
	// Sleep waits for pacing (nil: a timer honouring ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// Log receives structured logs; nil discards them.
	Log *slog.Logger
}

func (d Deps) validate() error {
	switch {
	case d.Store == nil:
		return fmt.Errorf("repair deps: Store is required")
	case d.Members == nil:
		return fmt.Errorf("repair deps: Members is required")
	case d.Handoff == nil:
		return fmt.Errorf("repair deps: Handoff is required")
	case d.Now == nil:
		return fmt.Errorf("repair deps: Now is required")
	case d.Rand == nil:
		return fmt.Errorf("repair deps: Rand is required")
	}
	return nil
}
