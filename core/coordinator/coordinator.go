package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/quorum"
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
	stats  *Stats
	bg     bgGroup // background work (see suspend.go)
	track  tracker // its operations, for the post-response budget
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
	return &Coordinator{
		cfg:    cfg,
		deps:   deps,
		log:    log,
		views:  &views{members: deps.Members, ttl: cfg.ClusterTTL, maxStale: cfg.MaxStale, onView: deps.OnView, secret: secretSource(deps.Secret)},
		health: &health{after: cfg.SuspectAfter, base: cfg.SuspectFor, nodes: map[string]*nodeHealth{}},
		stats:  newStats(),
	}, nil
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
}

// Symbolic quorum sizes for Options, resolved against the cluster's N.
const (
	QuorumOne      = -1 // one replica
	QuorumMajority = -2 // N/2+1
	QuorumAll      = -3 // all N
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

// target is one replica location for a key: a node's own data object, or a
// hinted replica it holds for another node.
type target struct {
	node     kv.Node
	intended string // for a fallback, the primary it stands in for; "" for a primary
	name     string
}

func (t target) primary() bool { return t.intended == "" }

// owner is the node whose replica this target holds.
func (t target) owner() string {
	if t.intended != "" {
		return t.intended
	}
	return t.node.ID
}

// plan is the replica selection of one request: the preference list, and the
// rest of the ring walk for fallbacks found at run time (sloppy quorum).
type plan struct {
	c    *Coordinator
	v    *view
	key  string
	n    int
	now  time.Time
	mu   sync.Mutex
	used map[string]bool
	walk []string // lazily computed
}

func (c *Coordinator) up(v *view, now time.Time) func(string) bool {
	return func(id string) bool {
		n, ok := v.nodes[id]
		return ok && n.State != kv.StateDown && !c.health.suspect(id, now)
	}
}

func (c *Coordinator) newPlan(v *view, key string, now time.Time) (*plan, []target) {
	p := &plan{c: c, v: v, key: key, n: v.cluster.Params.N, now: now, used: map[string]bool{}}
	var ts []target
	for _, r := range v.ring.PreferenceList(key, p.n, c.up(v, now)) {
		p.used[r.Node] = true
		ts = append(ts, p.target(r.Node, r.StandsInFor))
	}
	return p, ts
}

func (p *plan) target(node, intended string) target {
	t := target{node: p.v.nodes[node], intended: intended}
	if intended == "" {
		t.name = kv.DataName(p.key)
	} else {
		t.name = kv.HintName(intended, p.key)
	}
	return t
}

// fallback returns the next unused, up node of the ring walk after the
// primaries, to hold intended's replica; false when none is left.
func (p *plan) fallback(intended string) (target, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.walk == nil {
		p.walk = p.v.ring.Walk(p.key)
	}
	up := p.c.up(p.v, p.c.deps.Now())
	for i := min(p.n, len(p.walk)); i < len(p.walk); i++ {
		id := p.walk[i]
		if p.used[id] || !up(id) {
			continue
		}
		p.used[id] = true
		return p.target(id, intended), true
	}
	return target{}, false
}

// quorumSize resolves a requested quorum size (0: def) against the cluster's N.
func (c *Coordinator) quorumSize(v *view, override, def int, what string) (int, error) {
	n := v.cluster.Params.N
	switch override {
	case 0:
		return def, nil
	case QuorumOne:
		return 1, nil
	case QuorumMajority:
		return n/2 + 1, nil
	case QuorumAll:
		return n, nil
	}
	if override < 1 || override > n {
		return 0, fmt.Errorf("%w: %s=%d must be in [1, n=%d]", kv.ErrBadRequest, what, override, n)
	}
	return override, nil
}

// sizes resolves a request's (R or W, PR or PW) pair: the quorum is raised
// to at least the primaries required.
func (c *Coordinator) sizes(v *view, q, pq, def int, qName, pName string) (int, int, error) {
	n, err := c.quorumSize(v, q, def, qName)
	if err != nil {
		return 0, 0, err
	}
	p, err := c.quorumSize(v, pq, 0, pName)
	if err != nil {
		return 0, 0, err
	}
	return max(n, p), p, nil
}

// ---- replica I/O -----------------------------------------------------------

// replicaState is what a replica held when read.
type replicaState struct {
	obj     vclock.Object
	found   bool
	corrupt bool
	etag    string
	actor   string // the object's minting identity (S3 metadata)
	data    []byte
}

func (c *Coordinator) replicaCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.ReplicaTimeout)
}

// read fetches and decodes a replica. A missing object is an empty, found=false
// state; a corrupt one (checksum or format) is reported and treated as empty
// but keeps its ETag so repair can overwrite it conditionally.
func (c *Coordinator) read(ctx context.Context, t target, key string) (replicaState, error) {
	if !t.primary() {
		return c.readHinted(ctx, t, key)
	}
	return c.readObject(ctx, t, key)
}

// readHinted reads every hinted replica of key that a fallback holds, for
// whichever primary (a fallback found at run time may not be the one an
// earlier write chose for the same primary), and merges them.
func (c *Coordinator) readHinted(ctx context.Context, t target, key string) (replicaState, error) {
	rctx, cancel := c.replicaCtx(ctx)
	items, _, err := c.deps.Store.List(rctx, t.node.Location, kv.HintKeyPrefix(key), "", 100)
	cancel()
	c.stats.add(&c.stats.BackendLists, 1)
	if err != nil {
		return replicaState{}, fmt.Errorf("list hints of %q on %s: %w", key, t.node.ID, err)
	}
	out := replicaState{obj: vclock.Object{Key: key}}
	for _, it := range items {
		st, err := c.readObject(ctx, target{node: t.node, intended: t.intended, name: it.Name}, key)
		if err != nil {
			return replicaState{}, err
		}
		out.obj = vclock.MergeObjects(out.obj, st.obj)
		out.found = out.found || st.found
	}
	return out, nil
}

func (c *Coordinator) readObject(ctx context.Context, t target, key string) (replicaState, error) {
	rctx, cancel := c.replicaCtx(ctx)
	defer cancel()
	c.stats.add(&c.stats.BackendGets, 1)
	blob, err := c.deps.Store.Get(rctx, t.node.Location, t.name)
	if errors.Is(err, kv.ErrNotFound) {
		return replicaState{obj: vclock.Object{Key: key}}, nil
	}
	if err != nil {
		return replicaState{}, fmt.Errorf("read %s on %s: %w", t.name, t.node.ID, err)
	}
	obj, err := vclock.Decode(blob.Data, vclock.DecodeLimits())
	if err == nil && obj.Key != key {
		err = fmt.Errorf("%w: object holds key %q", vclock.ErrCorrupt, obj.Key)
	}
	if err != nil {
		c.stats.add(&c.stats.CorruptReplicas, 1)
		c.logger(ctx).Warn("corrupt replica object", "node", t.node.ID, "name", t.name, "err", err)
		return replicaState{obj: vclock.Object{Key: key}, found: true, corrupt: true, etag: blob.ETag}, nil
	}
	return replicaState{obj: obj, found: true, etag: blob.ETag, actor: blob.Actor, data: blob.Data}, nil
}

// newActor is the minting identity of a replica object created now on node n:
// the node, its incarnation, and a random nonce, so an object that lost its
// state (node wiped, object deleted) never mints a dot it minted before.
func (c *Coordinator) newActor(n kv.Node) string {
	return kv.ActorFor(n.ID, n.Incarnation, c.deps.Rand())
}

// actorValid reports whether an object's recorded actor may keep minting on
// node n: it must be n's, of n's current incarnation.
func actorValid(actor string, n kv.Node) bool {
	id, inc, err := kv.ParseActor(actor)
	return err == nil && id == n.ID && inc == n.Incarnation
}

// write stores data at t conditionally on the state read (or create-only).
func (c *Coordinator) write(ctx context.Context, t target, data []byte, actor string, st replicaState) (string, error) {
	if err := c.checkWrite(ctx, t); err != nil {
		return "", err
	}
	rctx, cancel := c.replicaCtx(ctx)
	defer cancel()
	ifMatch := ""
	if st.found {
		ifMatch = st.etag
	}
	c.stats.add(&c.stats.BackendPuts, 1)
	etag, err := c.deps.Store.Put(rctx, t.node.Location, t.name, data, actor, ifMatch)
	if err != nil {
		return "", fmt.Errorf("write %s on %s: %w", t.name, t.node.ID, err)
	}
	return etag, nil
}

// merged is the outcome of merging a version into one replica.
type merged struct {
	etag  string
	actor string
	same  bool // the replica now holds exactly the bytes that were sent
}

// mergeInto makes replica t include obj (syntactic reconciliation, never a
// rejection). With a known prior state (from a get's context or a read) the
// first attempt is a single conditional PUT; on a lost condition it reads,
// merges and retries.
func (c *Coordinator) mergeInto(ctx context.Context, t target, obj vclock.Object, data []byte, known *replicaState, lww bool) (merged, error) {
	for attempt := 0; attempt < c.cfg.CASRetries; attempt++ {
		var st replicaState
		if attempt == 0 && known != nil {
			st = *known
		} else {
			var err error
			if st, err = c.readObject(ctx, t, obj.Key); err != nil {
				return merged{}, err
			}
		}
		m := vclock.MergeObjects(st.obj, obj)
		if lww {
			m = vclock.LastWriteWins(m)
		}
		mdata := data
		if !m.Equal(obj) {
			mdata = vclock.Encode(m)
		}
		if st.found && !st.corrupt && st.data != nil && bytes.Equal(st.data, mdata) {
			return merged{etag: st.etag, actor: st.actor, same: bytes.Equal(mdata, data)}, nil // already there
		}
		actor := st.actor // keep the object's minting identity; a new object gets a new one
		if !st.found || st.corrupt || !actorValid(actor, t.node) {
			actor = c.newActor(t.node)
		}
		etag, err := c.write(ctx, t, mdata, actor, st)
		if errors.Is(err, kv.ErrPrecondition) || (errors.Is(err, kv.ErrNotFound) && st.found) {
			c.stats.add(&c.stats.CASRetries, 1)
			continue
		}
		if err != nil {
			return merged{}, err
		}
		return merged{etag: etag, actor: actor, same: bytes.Equal(mdata, data)}, nil
	}
	return merged{}, fmt.Errorf("merge into %s on %s: %w after %d attempts", t.name, t.node.ID, kv.ErrPrecondition, c.cfg.CASRetries)
}

// ---- get ---------------------------------------------------------------------

type readReply struct {
	t   target
	st  replicaState
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
	r, pr, err := c.sizes(v, opt.R, opt.PR, v.cluster.Params.R, "r", "pr")
	if err != nil {
		return GetResult{}, err
	}
	p, targets := c.newPlan(v, key, start)
	obj, kc, err := c.fanRead(ctx, p, targets, r, pr, "get")
	c.stats.observe(&c.stats.GetLatency, c.deps.Now().Sub(start))
	if err != nil {
		return GetResult{}, err
	}
	return GetResult{Siblings: obj.Live(), Context: kv.EncodeContext(*v.cluster.ContextKeys, key, kc)}, nil
}

// fanRead reads targets in parallel until r distinct nodes, pr of them
// primaries, answered, and returns the reconciled object and the context of
// what it read.
func (c *Coordinator) fanRead(ctx context.Context, p *plan, targets []target, r, pr int, op string) (vclock.Object, kv.Context, error) {
	rctx, cancel := c.background(ctx, p)
	replies := make(chan readReply, 2*len(targets)+16)
	outstanding := 0
	launch := func(t target) {
		outstanding++
		go func() {
			st, err := c.read(rctx, t, p.key)
			replies <- readReply{t: t, st: st, err: err}
		}()
	}
	for _, t := range targets {
		launch(t)
	}
	acc := quorum.NewRead(r, len(targets),
		func(a, b vclock.Object) vclock.Object { return vclock.MergeObjects(a, b) },
		func(a, b vclock.Object) bool { return a.Equal(b) })
	var got []readReply
	var errs []error
	primaries := 0 // primaries that answered
	for acc.Vote() == quorum.Pending || (acc.Vote() == quorum.Won && primaries < pr && outstanding > 0) {
		var rep readReply
		select {
		case rep = <-replies:
		case <-ctx.Done():
			cancel()
			return vclock.Object{}, kv.Context{}, fmt.Errorf("%s %q: %w", op, p.key, ctx.Err())
		}
		outstanding--
		c.health.record(rep.t.node.ID, rep.err == nil, c.deps.Now())
		if rep.err == nil && rep.t.primary() {
			primaries++
		}
		if acc.Vote() == quorum.Won { // waiting only for more primaries (pr)
			if rep.err == nil {
				got = append(got, rep)
			} else {
				errs = append(errs, rep.err)
			}
			continue
		}
		if rep.err != nil {
			errs = append(errs, rep.err)
			acc.Fail(rep.t.node.ID)
			if fb, ok := p.fallback(rep.t.owner()); ok {
				acc.AddCandidates(1)
				launch(fb)
			}
			continue
		}
		got = append(got, rep)
		acc.Record(rep.t.node.ID, rep.st.obj)
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
		result = vclock.MergeObjects(result, rep.st.obj)
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
			objs = append(objs, rep.st.obj)
		}
		full := vclock.Reconcile(objs...)
		if lww {
			full = vclock.LastWriteWins(full)
		}
		data := vclock.Encode(full)
		for _, rep := range all {
			if !rep.t.primary() || (rep.st.found && !rep.st.corrupt && bytes.Equal(rep.st.data, data)) {
				continue
			}
			if full.Empty() {
				continue
			}
			st := rep.st
			if _, err := c.mergeInto(rctx, rep.t, full, data, &st, lww); err != nil {
				c.logger(ctx).Warn("read repair failed", "key", p.key, "node", rep.t.node.ID, "err", err)
				continue
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
		if !rep.t.primary() || !rep.st.found || rep.st.corrupt {
			continue
		}
		kc.Seen = append(kc.Seen, kv.Seen{Node: rep.t.node.ID, ETag: rep.st.etag, Actor: rep.st.actor})
	}
	return kc
}

// ---- put ---------------------------------------------------------------------

// Put writes value for key with the context of the versions it supersedes
// ("" for a blind write: it becomes a sibling of whatever exists). It returns
// once W distinct nodes stored the new version.
func (c *Coordinator) Put(ctx context.Context, key, token string, val Value, opt Options) (PutResult, error) {
	c.stats.add(&c.stats.Puts, 1)
	if err := c.cfg.Limits.CheckValue(val.Data, val.ContentType); err != nil {
		return PutResult{}, err
	}
	return c.put(ctx, key, token, vclock.Sibling{Value: val.Data, ContentType: val.ContentType}, opt, "put")
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
	m   merged
	err error
}

// condition is a put's precondition, checked against the versions read
// before the put and again, atomically, at the coordinating replica.
type condition struct {
	ifNoneMatch bool // no live version outside the context
	ifMatch     bool // nothing written since the context was made
}

func (k condition) set() bool { return k.ifNoneMatch || k.ifMatch }

// check reports ErrConditionFailed if obj (what a replica or a read holds)
// breaks the condition for a put with context clock.
func (k condition) check(obj vclock.Object, clock vclock.Clock) error {
	if k.ifNoneMatch {
		for _, s := range obj.Live() {
			if !clock.Covers(s.Dot) {
				return fmt.Errorf("%w: the key exists (If-None-Match: *)", ErrConditionFailed)
			}
		}
	}
	if k.ifMatch {
		// Every version (tombstones too) must be one the context covers: a
		// write since the context was made left a version it does not cover.
		for _, s := range obj.Siblings {
			if !clock.Covers(s.Dot) {
				return fmt.Errorf("%w: the key was written since the If-Match context was read", ErrConditionFailed)
			}
		}
	}
	return nil
}

// preconditions resolves a put's conditions: the request's context (If-Match
// is the context), and, for a conditional put, a quorum read that checks the
// condition and, for If-None-Match, supplies the context of the tombstones.
func (c *Coordinator) preconditions(ctx context.Context, v *view, key, token string, opt Options, now time.Time) (kv.Context, condition, error) {
	keys := *v.cluster.ContextKeys
	cond := condition{ifNoneMatch: opt.IfNoneMatch, ifMatch: opt.IfMatch != ""}
	switch {
	case cond.ifNoneMatch && (token != "" || cond.ifMatch):
		return kv.Context{}, cond, fmt.Errorf("%w: If-None-Match: * takes no context and no If-Match", kv.ErrBadRequest)
	case cond.ifMatch && token != "" && token != opt.IfMatch:
		return kv.Context{}, cond, fmt.Errorf("%w: If-Match and the context header differ", kv.ErrBadRequest)
	case cond.ifMatch:
		token = opt.IfMatch
	}
	kctx, err := kv.DecodeContext(keys, key, token, c.cfg.Limits, now)
	if err != nil || !cond.set() {
		return kctx, cond, err
	}
	r, pr, err := c.sizes(v, opt.R, opt.PR, v.cluster.Params.R, "r", "pr")
	if err != nil {
		return kv.Context{}, cond, err
	}
	p, targets := c.newPlan(v, key, now)
	obj, rc, err := c.fanRead(ctx, p, targets, r, pr, "read before a conditional write")
	if err != nil {
		return kv.Context{}, cond, err
	}
	if err := cond.check(obj, kctx.Clock); err != nil {
		return kv.Context{}, cond, err
	}
	if cond.ifNoneMatch {
		kctx = rc
	}
	return kctx, cond, nil
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
	w, pw, err := c.sizes(v, opt.W, opt.PW, v.cluster.Params.W, "w", "pw")
	if err != nil {
		return PutResult{}, err
	}
	kctx, cond, err := c.preconditions(ctx, v, key, token, opt, start)
	if err != nil {
		return PutResult{}, err
	}
	p, targets := c.newPlan(v, key, start)
	lww := v.cluster.Params.LWW

	// Phase 1: commit at one coordinating replica, preferring a primary whose
	// state the context carries (fast path: one conditional PUT, no GET).
	order := coordinatorOrder(targets, kctx)
	var (
		done    committed
		coord   target
		errs    []error
		pending []target // replicas still to receive the version
	)
	ok := false
	for i, t := range order {
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
			continue
		}
		done, coord, ok = cm, t, true
		pending = append(pending, order[i+1:]...)
		// Replicas that failed as coordinator need a stand-in.
		for _, f := range order[:i] {
			if fb, ok := p.fallback(f.owner()); ok {
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
	res := c.replicate(ctx, p, coord, done.m, obj, data, done.prior, kctx, pending, w, pw)
	c.stats.observe(&c.stats.PutLatency, c.deps.Now().Sub(start))
	if res.err != nil {
		return PutResult{}, fmt.Errorf("%s %q: %w", op, key, res.err)
	}
	if !res.won {
		c.stats.add(&c.stats.QuorumFailures, 1)
		if res.primaries < pw {
			return PutResult{}, &kv.QuorumError{Op: op + " (pw)", Got: res.primaries, Need: pw, Errs: append(errs, res.errs...)}
		}
		return PutResult{}, &kv.QuorumError{Op: op, Got: len(res.acked), Need: w, Errs: append(errs, res.errs...)}
	}
	return c.putResult(v, key, kctx, done, res.acked, opt.ReturnBody), nil
}

// putResult builds a put's answer. Its context covers the request's context
// plus the new version, never a version the client was not shown (a
// coordinating replica's concurrent siblings are covered by its clock but
// not by this context). A replica's ETag goes into the context only if its
// object is covered by exactly that context, so the fast path of the next
// put never overwrites a version the context does not cover.
func (c *Coordinator) putResult(v *view, key string, kctx kv.Context, done committed, acked []writeReply, body bool) PutResult {
	keys := *v.cluster.ContextKeys
	kc := kv.Context{Clock: vclock.Merge(kctx.Clock, vclock.DotClock(done.dot, done.now))}
	exact := done.obj.Clock.Compare(kc.Clock) == vclock.Equal
	var seen []kv.Seen
	for _, a := range acked {
		if a.t.primary() && a.m.same {
			seen = append(seen, kv.Seen{Node: a.t.node.ID, ETag: a.m.etag, Actor: a.m.actor})
		}
	}
	if exact {
		kc.Seen = seen
	}
	out := PutResult{Context: kv.EncodeContext(keys, key, kc)}
	if body {
		bc := kv.Context{Clock: done.obj.Clock, Seen: seen}
		out.Body = &GetResult{Siblings: done.obj.Live(), Context: kv.EncodeContext(keys, key, bc)}
	}
	return out
}

type replicated struct {
	won       bool
	acked     []writeReply
	primaries int // primaries among acked
	errs      []error
	err       error // the caller's context ended first
}

// replicate sends the committed version to the pending replicas, replacing
// each failed one with the next fallback (sloppy quorum), and returns once W
// distinct nodes hold it (or it cannot). Writes still in flight then complete
// in the background, still with fallbacks and hints, so all N get the version.
func (c *Coordinator) replicate(ctx context.Context, p *plan, coord target, coordM merged, obj vclock.Object, data []byte,
	guess replicaState, kctx kv.Context, pending []target, w, pw int) replicated {
	lww := p.v.cluster.Params.LWW
	acc := quorum.NewWrite(w, 1+len(pending))
	var out replicated
	primariesInFlight := 0 // primary writes not yet answered (pw)
	// A fallback that coordinated holds a hinted replica like any other
	// fallback: it counts once its hint is queued (or the replica would never
	// reach its primary); otherwise a stand-in takes its place.
	if !coord.primary() {
		if err := c.enqueueHint(ctx, coord, obj.Key); err != nil {
			acc.Record(coord.node.ID, false)
			out.errs = append(out.errs, err)
			if fb, ok := p.fallback(coord.owner()); ok {
				acc.AddCandidates(1)
				pending = append(pending, fb)
			}
		}
	}
	if len(out.errs) == 0 {
		acc.Record(coord.node.ID, true)
		out.acked = []writeReply{{t: coord, m: coordM}}
		if coord.primary() {
			out.primaries++
		}
	}
	rctx, cancel := c.background(ctx, p)
	replies := make(chan writeReply, 4*(len(pending)+1)+16)
	outstanding := 0
	launch := func(t target) {
		outstanding++
		if t.primary() {
			primariesInFlight++
		}
		// What the replica holds, if the context or the coordinating replica
		// tells: a replica the context saw is overwritten with one conditional
		// PUT; if the key was new at the coordinating replica, the others are
		// tried create-only. Otherwise (nil) the replica is read first, since
		// its object's minting identity must be kept.
		var known *replicaState
		if s, ok := kctx.SeenFor(t.node.ID); ok && t.primary() && actorValid(s.Actor, t.node) {
			known = &replicaState{obj: vclock.Object{Key: obj.Key, Clock: kctx.Clock}, found: true, etag: s.ETag, actor: s.Actor}
		} else if !guess.found || !t.primary() {
			known = &replicaState{obj: vclock.Object{Key: obj.Key}}
		}
		go func() {
			m, err := c.mergeInto(rctx, t, obj, data, known, lww)
			if err == nil && !t.primary() {
				err = c.enqueueHint(rctx, t, obj.Key)
			}
			replies <- writeReply{t: t, m: m, err: err}
		}()
	}
	for _, t := range pending {
		launch(t)
	}
	var mu sync.Mutex
	decided := make(chan struct{})
	signalled := false
	signal := func() {
		v := acc.Vote()
		if !signalled && (v == quorum.Lost || (v == quorum.Won && (out.primaries >= pw || primariesInFlight == 0))) {
			signalled = true
			close(decided)
		}
	}
	signal()
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		defer cancel()
		for outstanding > 0 {
			rep := <-replies
			outstanding--
			rep.err = c.settle(rctx, rep.t.node.ID, rep.err)
			mu.Lock()
			if rep.t.primary() {
				primariesInFlight--
				if rep.err == nil {
					out.primaries++
				}
			}
			if rep.err != nil {
				out.errs = append(out.errs, rep.err)
				acc.Record(rep.t.node.ID, false)
				// A suspended operation was handed off: no fallback write of an old version.
				if fb, ok := c.fallbackFor(p, rep.t, rep.err); ok {
					acc.AddCandidates(1)
					launch(fb)
				} else if signalled && !errors.Is(rep.err, ErrSuspended) {
					c.logger(ctx).Warn("replica write failed after quorum, no fallback left", "key", p.key, "node", rep.t.node.ID, "err", rep.err)
				}
			} else {
				acc.Record(rep.t.node.ID, true)
				out.acked = append(out.acked, rep)
			}
			signal()
			mu.Unlock()
		}
		mu.Lock()
		if !signalled {
			signalled = true
			close(decided)
		}
		mu.Unlock()
	}()
	select {
	case <-decided:
	case <-ctx.Done():
		cancel()
		return replicated{err: ctx.Err()}
	}
	mu.Lock()
	defer mu.Unlock()
	return replicated{won: acc.Vote() == quorum.Won && out.primaries >= pw, primaries: out.primaries,
		acked: append([]writeReply(nil), out.acked...), errs: append([]error(nil), out.errs...)}
}

// pending returns the targets a pending ring change (kv.Cluster.Next) adds
// to the key: its primaries under Next that are not primaries now. They are
// marked used, so no fallback duplicates them.
func (p *plan) pending() []target {
	if p.v.next == nil {
		return nil
	}
	now := p.v.ring.Primaries(p.key, p.n)
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []target
	for _, id := range p.v.next.Primaries(p.key, p.n) {
		if !slices.Contains(now, id) {
			p.used[id] = true
			out = append(out, p.target(id, ""))
		}
	}
	return out
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
			if _, err = c.mergeInto(rctx, fb, obj, data, &replicaState{obj: vclock.Object{Key: obj.Key}}, lww); err == nil {
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

// coordinatorOrder lists the replicas in the order they are tried as
// coordinator: a primary the context has seen, then the other primaries, then
// fallbacks.
func coordinatorOrder(targets []target, kctx kv.Context) []target {
	out := make([]target, 0, len(targets))
	first := -1
	for i, t := range targets {
		if s, ok := kctx.SeenFor(t.node.ID); ok && t.primary() && actorValid(s.Actor, t.node) {
			first = i
			break
		}
	}
	if first >= 0 {
		out = append(out, targets[first])
	}
	for pass := 0; pass < 2; pass++ {
		for i, t := range targets {
			if i != first && t.primary() == (pass == 0) {
				out = append(out, t)
			}
		}
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
	m     merged
	prior replicaState // what the replica held before the write
	dot   vclock.Dot   // the new version's dot
	now   int64        // its time (Unix ms)
}

func (c *Coordinator) commit(ctx context.Context, t target, key string, kctx kv.Context, sib vclock.Sibling, lww bool, cond condition) (committed, error) {
	var fast *replicaState
	if s, ok := kctx.SeenFor(t.node.ID); ok && t.primary() && actorValid(s.Actor, t.node) {
		fast = &replicaState{obj: vclock.Object{Key: key}, found: true, etag: s.ETag, actor: s.Actor}
	}
	var tried committed // what the previous attempt wrote
	for attempt := 0; attempt < c.cfg.CASRetries; attempt++ {
		var st replicaState
		if attempt == 0 && fast != nil {
			st = *fast
		} else {
			var err error
			if st, err = c.readObject(ctx, t, key); err != nil {
				return committed{}, err
			}
		}
		if tried.data != nil && st.found && bytes.Equal(st.data, tried.data) {
			// The previous attempt landed but its answer was lost (an SDK
			// retry then saw its own write as a conflict): it is committed.
			tried.m = merged{etag: st.etag, actor: st.actor, same: true}
			return tried, nil
		}
		// The condition is checked against the state the write replaces, so
		// the conditional write makes check and write atomic at this replica.
		if err := cond.check(st.obj, kctx.Clock); err != nil {
			return committed{}, err
		}
		actor := st.actor
		if !st.found || st.corrupt || !actorValid(actor, t.node) {
			actor = c.newActor(t.node)
		}
		now := c.deps.Now().UnixMilli()
		next, dot := vclock.Update(st.obj, kctx.Clock, vclock.Actor(actor), sib, now)
		if lww {
			next = vclock.LastWriteWins(next)
		}
		if c.cfg.Prune != nil {
			next = vclock.PruneObject(next, now, *c.cfg.Prune)
		}
		if len(next.Siblings) > c.cfg.Limits.MaxSiblings {
			c.stats.add(&c.stats.SiblingRejects, 1)
			return committed{}, fmt.Errorf("%w: %d versions of %q exceed the limit of %d; resolve them first",
				kv.ErrTooManySiblings, len(next.Siblings), key, c.cfg.Limits.MaxSiblings)
		}
		data := vclock.Encode(next)
		if len(data) > c.cfg.Limits.MaxObjectBytes {
			c.stats.add(&c.stats.SiblingRejects, 1)
			return committed{}, fmt.Errorf("%w: the versions of %q would take %d bytes, over the limit of %d; resolve them first",
				kv.ErrTooManySiblings, key, len(data), c.cfg.Limits.MaxObjectBytes)
		}
		etag, err := c.write(ctx, t, data, actor, st)
		cm := committed{obj: next, data: data, prior: st, dot: dot, now: now}
		if errors.Is(err, kv.ErrPrecondition) || (errors.Is(err, kv.ErrNotFound) && st.found) {
			c.stats.add(&c.stats.CASRetries, 1)
			tried = cm
			continue
		}
		if err != nil {
			return committed{}, err
		}
		cm.m = merged{etag: etag, actor: actor, same: true}
		return cm, nil
	}
	return committed{}, fmt.Errorf("commit %q on %s: %w after %d attempts", key, t.node.ID, kv.ErrPrecondition, c.cfg.CASRetries)
}

func (c *Coordinator) enqueueHint(ctx context.Context, t target, key string) error {
	rctx, cancel := c.replicaCtx(ctx)
	defer cancel()
	h := kv.Hint{Key: key, Intended: t.intended, Fallback: t.node.ID, Created: c.deps.Now().UnixMilli()}
	if err := c.deps.Hints.Enqueue(rctx, h); err != nil {
		return fmt.Errorf("enqueue hint for %s on %s: %w", t.intended, t.node.ID, err)
	}
	c.stats.add(&c.stats.HintsQueued, 1)
	return nil
}
