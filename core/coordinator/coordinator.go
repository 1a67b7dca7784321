package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// Coordinator serves get, put and delete for a cluster. It is safe for
// concurrent use.
type Coordinator struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	views  *views
	health *health
	hedge  *hedger // replica read latencies: hedged reads, the coordinating replica
	// writeHedge: primaries' write latencies, for hedged writes
	writeHedge *hedger
	seen       *seenCache // replica states learned after answering (seencache.go)
	minter     *dotMinter // one-round puts' dots (minter.go)
	stats      *Stats
	rio        replica.IO        // replica I/O (replica.go)
	bg         bgGroup           // background work (see suspend.go)
	track      tracker           // its operations, for the post-response budget
	listed     listCache         // key listings' objects by ETag (listkeys.go)
	snaps      listSnapshotStore // key listings' later pages (listkeys.go)
}

// New builds a coordinator; it does no I/O until the first request.
func New(cfg Config, deps Deps) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	log := deps.Log
	if log == nil {
		log = discardLogger()
	}
	c := &Coordinator{
		cfg:        cfg,
		deps:       deps,
		log:        log,
		views:      &views{members: deps.Members, ttl: cfg.ClusterTTL, maxStale: cfg.MaxStale, onView: deps.OnView, secret: secretSource(deps.Secret)},
		health:     &health{after: cfg.SuspectAfter, base: cfg.SuspectFor, nodes: map[string]*nodeHealth{}},
		hedge:      newHedger(cfg.HedgeQuantile, cfg.HedgeDelay),
		writeHedge: newHedger(cfg.HedgeQuantile, cfg.HedgeDelay),
		seen:       newSeenCache(seenCacheKeys),
		minter:     newDotMinter(deps.Rand, minterKeys),
		stats:      newStats(deps.Observer),
	}
	c.rio = c.newReplicaIO()
	return c, nil
}

// Options override the cluster's quorum sizes for one request and add
// conditions to a put or delete.
type Options struct {
	// R and W override the read and write quorum: 1..N, or QuorumOne,
	// QuorumMajority, QuorumAll; 0 is the cluster's default.
	R int
	W int
	// PR and PW are how many primary replicas (not sloppy fallbacks) must
	// answer a read or store a write, as in Riak: 0 (none) .. N, or one of
	// the symbolic sizes. They raise R and W to at least their value.
	PR int
	PW int
	// IfNoneMatch makes a put create-only: it fails with ErrConditionFailed
	// when the key has a live version (a key holding only tombstones counts
	// as absent). It takes no context: the put supersedes the tombstones.
	IfNoneMatch bool
	// IfMatch, if set, is a context: the put or delete succeeds only if the
	// context covers every version of the key, tombstones included (no write
	// since the context was made left a version it does not cover), so the
	// write replaces them all; else ErrConditionFailed. It is also the
	// request's context.
	IfMatch string
	// ReturnBody asks a put or delete for the key's versions after the write
	// (PutResult.Body), with a context covering exactly them.
	ReturnBody bool
	// TTL is a put's time to live: its version expires TTL after the put
	// arrived (0: Config.DefaultTTL; at most MaxTTL). Deletes ignore it.
	TTL time.Duration

	typed *typedOp // set by Update (crdt.go): the data type operation to apply
}

// Symbolic quorum sizes for Options, resolved against the cluster's N.
const (
	QuorumOne      = -1 // one replica
	QuorumMajority = -2 // N/2+1
	QuorumAll      = -3 // all N
	// QuorumLocal (R and W only) is a majority of the key's replicas in the
	// coordinator's region (Config.Region), counting only their replies:
	// the request waits for no other region. Replicas elsewhere still get
	// every write, after the answer. When the key has no replica in the
	// region it is the cluster's default quorum.
	QuorumLocal = -4
)

// ErrConditionFailed: an IfNoneMatch or IfMatch condition does not hold
// (HTTP 412). Nothing was written.
var ErrConditionFailed = errors.New("precondition failed")

// Value is what a client writes.
type Value struct {
	Data        []byte
	ContentType string
}

// GetResult is the outcome of a get.
type GetResult struct {
	// Siblings are the live versions (no tombstones), sorted by dot; empty
	// when the key is absent or deleted.
	Siblings []vclock.Sibling
	// Context is the opaque token to pass to a following put or delete. It is
	// set even for a deleted key, so a re-create can supersede the tombstone.
	Context string
}

// Found reports whether the key has at least one live version.
func (g GetResult) Found() bool { return len(g.Siblings) > 0 }

// PutResult is the outcome of a put or delete.
type PutResult struct {
	// Context covers the version just written and what the request's context
	// covered, nothing else: a client that puts again with it replaces its
	// own version (read-your-writes without a get), while concurrent versions
	// it was never shown stay as siblings.
	Context string
	// Body, with Options.ReturnBody, is the key's versions after the write as
	// the coordinating replica holds them (all siblings), with a context that
	// covers exactly them: what a get would return.
	Body *GetResult
}

// Wait blocks until background work (replica writes after the quorum, read
// repair) has finished. Servers call it before exiting; tests call it to
// observe convergence.
func (c *Coordinator) Wait() { c.bg.Wait() }

// Stats returns the coordinator's counters.
func (c *Coordinator) Stats() *Stats { return c.stats }

// Suspects lists the nodes this coordinator currently routes around.
func (c *Coordinator) Suspects() []string {
	s := c.health.suspects(c.deps.Now())
	sort.Strings(s)
	return s
}

// Cluster returns the cluster as currently cached (reloading it if stale).
func (c *Coordinator) Cluster(ctx context.Context) (kv.Cluster, error) {
	v, err := c.views.get(ctx, c.deps.Now())
	if err != nil {
		return kv.Cluster{}, err
	}
	return v.cluster, nil
}

// Invalidate drops the cached cluster view so the next request reloads it.
func (c *Coordinator) Invalidate() { c.views.invalidate() }
