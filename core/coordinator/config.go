// Package coordinator turns get, put and delete into quorum fan-outs over the
// replicas of a key: the ring picks the replicas, vclock makes the version, the
// replica store (S3) holds it, quorum decides, and hints and read repair leave
// through their ports. A Coordinator is stateless apart from caches (cluster
// view, node suspicion), so any number of them (Lambda containers) can serve
// the same cluster.
//
// A put commits its new version at one coordinating replica first, with a
// conditional write that serializes the replica's dot counter, and only then
// sends it to the other replicas: a version never reaches any replica before
// its dot is committed (two versions with one dot would lose a write).
package coordinator

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// Config holds the coordinator's tunables. Start from DefaultConfig.
type Config struct {
	// Limits bound keys, values, siblings and contexts.
	Limits kv.Limits
	// ReplicaTimeout is the deadline of one request to one replica.
	ReplicaTimeout time.Duration
	// CASRetries is how many times one replica write is retried after losing a
	// conditional write to a concurrent writer before that replica counts as failed.
	CASRetries int
	// ClusterTTL is how long a loaded cluster view is used before it is
	// re-read from membership (a new epoch is seen within this time).
	ClusterTTL time.Duration
	// MaxStale is how long a coordinator keeps routing with its last view
	// while membership cannot be read; past it, requests fail (503) rather
	// than write to owners a commit may have replaced. ClusterTTL + MaxStale
	// + ReplicaTimeout must stay below the repair job's PlanSettle, which
	// waits that long after a commit before it cleans the old owners' copies.
	MaxStale time.Duration
	// SuspectAfter consecutive failures mark a node suspect: it is treated as
	// down (fallbacks stand in) for SuspectFor, then tried again.
	SuspectAfter int
	// SuspectFor is the first suspicion period; it doubles on each failed retry
	// up to 8x (hysteresis, so a flapping node does not thrash).
	SuspectFor time.Duration
	// Prune, if set, prunes clocks on client writes (never on repairs).
	Prune *vclock.PrunePolicy
	// SuspendBound is the age past which a request's background work (replica
	// writes after the quorum, read repair, forwards) is taken as suspended (a
	// Lambda freeze, or stuck): it never writes again and is handed to hinted
	// handoff instead, and its failures count toward no node's suspicion. It
	// must stay far below the repair job's ReapGrace (1 h by default).
	SuspendBound time.Duration
	// Region is the region this coordinator runs in. A put tries the
	// replicas there first as its coordinating replica, and the "local"
	// quorum (QuorumLocal) counts only their replies. "" makes every node
	// local.
	Region string
	// DefaultRegion is the region of a node whose Location.Region is empty
	// (the store's default: the stack's home region); "" means Region.
	DefaultRegion string
	// DefaultTTL is the time to live of a put that names none (0: versions
	// never expire), at most MaxTTL.
	DefaultTTL time.Duration
	// HedgeQuantile hedges reads and writes (hedge.go): a get asks R
	// replicas first and the others once this quantile of a typical
	// replica's observed read latencies has passed without R answers (or at
	// once on a failure); a put still short of W once this quantile of a
	// typical primary's write latencies has passed also writes a hinted
	// replica beside each primary still writing. 0 asks every replica at
	// once and hedges no write.
	HedgeQuantile float64
	// HedgeDelay, when set, hedges after this fixed delay instead of an
	// observed quantile (as Cassandra's speculative_retry takes "99p" or
	// "50ms"); at most one of the two is set.
	HedgeDelay time.Duration
	// OneRoundPut sends a put with a context (and no condition) to every
	// replica in one parallel round, with a dot this coordinator mints
	// (oneround.go), instead of committing at one replica first. On by
	// default.
	OneRoundPut bool
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Limits:         kv.DefaultLimits(),
		ReplicaTimeout: 3 * time.Second,  // S3 p99.9 is far below; a dead node costs at most this
		CASRetries:     8,                // contention on one key rarely needs more than 2
		ClusterTTL:     5 * time.Second,  // one DynamoDB read per container per 5 s
		MaxStale:       20 * time.Second, // 5 s + 20 s + 3 s < the repair job's 90 s PlanSettle
		SuspectAfter:   3,                // one lost packet does not make a node suspect
		SuspectFor:     10 * time.Second, // then a probe; doubles while it keeps failing
		SuspendBound:   60 * time.Second, // > any live request (API timeout 30 s); 60x below ReapGrace; < the repair job's 90 s PlanSettle
		OneRoundPut:    true,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("coordinator config: %w", err)
	}
	switch {
	case c.ReplicaTimeout <= 0:
		return fmt.Errorf("coordinator config: ReplicaTimeout must be > 0")
	case c.CASRetries < 1:
		return fmt.Errorf("coordinator config: CASRetries must be >= 1")
	case c.ClusterTTL < 0:
		return fmt.Errorf("coordinator config: ClusterTTL must be >= 0")
	case c.MaxStale < 0:
		return fmt.Errorf("coordinator config: MaxStale must be >= 0")
	case c.SuspectAfter < 1:
		return fmt.Errorf("coordinator config: SuspectAfter must be >= 1")
	case c.SuspectFor < 0:
		return fmt.Errorf("coordinator config: SuspectFor must be >= 0")
	case c.SuspendBound <= 0:
		return fmt.Errorf("coordinator config: SuspendBound must be > 0")
	case !(c.HedgeQuantile >= 0 && c.HedgeQuantile < 1):
		return fmt.Errorf("coordinator config: HedgeQuantile must be in [0, 1)")
	case c.HedgeDelay < 0 || (c.HedgeDelay > 0 && c.HedgeQuantile > 0):
		return fmt.Errorf("coordinator config: HedgeDelay must be >= 0, and not set with HedgeQuantile")
	case checkTTL(c.DefaultTTL, "DefaultTTL") != nil:
		return fmt.Errorf("coordinator config: %w", checkTTL(c.DefaultTTL, "DefaultTTL"))
	}
	return nil
}

// Deps are the coordinator's ports and its sources of time and randomness.
type Deps struct {
	// Store reads and writes replica objects (required).
	Store kv.ReplicaStore
	// Hints carries hinted-handoff messages (required).
	Hints kv.HintQueue
	// Members holds the cluster description (required).
	Members kv.Membership
	// Now returns the current time (required; time.Now in production; safe
	// for concurrent use).
	Now func() time.Time
	// Wall returns the wall-clock time, for what a freeze must not hide
	// (Config.SuspendBound): a VM-level pause stops the guest's monotonic
	// clock, which time.Now's readings compare by, while the wall clock is
	// set forward when the guest resumes. nil: Now, without its monotonic
	// reading. Safe for concurrent use.
	Wall func() time.Time
	// Rand returns random 64-bit numbers for actor nonces (required; called
	// concurrently, so it must be safe for concurrent use).
	Rand func() uint64
	// Secret returns fresh random bytes for a cluster's first context key
	// (kv.MinContextSecret of them); nil uses crypto/rand.
	Secret func() ([]byte, error)
	// OnView, if set, is called with the cluster each time the coordinator
	// loads a new epoch (e.g. to apply the faults it names). It runs under the
	// view lock: keep it quick and do not call back into the coordinator.
	OnView func(kv.Cluster)
	// Observer, if set, is told of every finished get and put and every
	// quorum failure (e.g. infra/recent, for the dashboard); nil: nobody.
	Observer Observer
	// Log receives structured logs; nil discards them.
	Log *slog.Logger
	// After returns a channel that receives once a duration has passed (the
	// hedge delay of a read); nil: time.After.
	After func(time.Duration) <-chan time.Time
}

func (d Deps) validate() error {
	switch {
	case d.Store == nil:
		return fmt.Errorf("coordinator deps: Store is required")
	case d.Hints == nil:
		return fmt.Errorf("coordinator deps: Hints is required")
	case d.Members == nil:
		return fmt.Errorf("coordinator deps: Members is required")
	case d.Now == nil:
		return fmt.Errorf("coordinator deps: Now is required")
	case d.Rand == nil:
		return fmt.Errorf("coordinator deps: Rand is required")
	}
	return nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// secretSource returns f, or kv.NewContextSecret (crypto/rand) when f is nil.
func secretSource(f func() ([]byte, error)) func() ([]byte, error) {
	if f != nil {
		return f
	}
	return func() ([]byte, error) { return kv.NewContextSecret(), nil }
}
