package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Background work and the Lambda freeze.
//
// A request leaves work running after its answer: replica writes past W,
// read repair, forwards to the pending owners of a ring change. On Lambda the
// process is frozen once the handler returned and every extension asked for
// its next event, so that work can stop for minutes or forever, and resume
// later with an old version. Three rules keep it safe:
//
//  1. Quiesce waits for the work (an internal extension holds its next event
//     on it) for at most a budget; whatever is still running then is handed to
//     hinted handoff (HandOff) and may never write again.
//  2. An operation whose age exceeds Config.SuspendBound (it was frozen, or
//     stuck), on the monotonic or on the wall clock, never writes: the write is refused and the operation is handed
//     to hinted handoff instead. The bound is far below the repair job's
//     ReapGrace, so an operation that may write never predates a reap of the
//     key it writes.
//  3. A background failure of an operation in either state is not a verdict
//     on the node: it counts toward no suspicion and starts no fallback write.

// ErrSuspended wraps a background write refused because its operation was
// suspended (older than Config.SuspendBound) or outlived the post-response
// budget; its work was handed to hinted handoff.
var ErrSuspended = errors.New("background operation suspended")

// bgGroup counts running background goroutines, like a sync.WaitGroup, and
// can also be waited on with a deadline (Idle). The zero value is idle.
type bgGroup struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while idle
}

// Add adds d (which may be negative) to the count.
func (g *bgGroup) Add(d int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 && d > 0 {
		g.idle = make(chan struct{})
	}
	g.n += d
	switch {
	case g.n < 0:
		panic("coordinator: negative background count")
	case g.n == 0 && g.idle != nil:
		close(g.idle)
		g.idle = nil
	}
}

// Done decrements the count.
func (g *bgGroup) Done() { g.Add(-1) }

// Wait blocks until the count is zero.
func (g *bgGroup) Wait() { <-g.Idle() }

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Idle returns a channel closed once the count is zero.
func (g *bgGroup) Idle() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		return closedChan
	}
	return g.idle
}

// bgOp is one request's background work on one key.
type bgOp struct {
	key   string
	start time.Time // when the request launched it (Deps.Now)
	wall  time.Time // the same on the wall clock (Deps.Wall)
	gen   uint64    // the tracker's generation then
	v     *view     // the cluster view the request used
	n     int       // replicas per key
	once  sync.Once // the hand-off happens at most once
}

// owners returns the key's owners: its primaries, and the primaries under a
// pending ring change.
func (op *bgOp) owners() []string {
	nodes := op.v.ring.Primaries(op.key, op.n)
	if op.v.next != nil {
		for _, id := range op.v.next.Primaries(op.key, op.n) {
			if !slices.Contains(nodes, id) {
				nodes = append(nodes, id)
			}
		}
	}
	return nodes
}

// tracker knows the running background operations. Its generation moves on
// each time a post-response budget ends: operations of older generations
// were handed off and never write again.
type tracker struct {
	gen atomic.Uint64
	mu  sync.Mutex
	ops map[*bgOp]struct{}
}

type opKey struct{}

// background returns the context of a request's background work on p's key:
// detached from the request's cancellation, stamped with the operation, and
// registered until cancel is called.
func (c *Coordinator) background(ctx context.Context, p *plan) (context.Context, context.CancelFunc) {
	op := &bgOp{key: p.key, start: c.deps.Now(), wall: c.wallNow(), gen: c.track.gen.Load(), v: p.v, n: p.n}
	bctx := context.WithValue(context.WithoutCancel(ctx), opKey{}, op)
	// The store adapters check again right before a write leaves the
	// process (after injected latency, for one).
	bctx = kv.WithWriteGuard(bctx, func() error {
		if c.opSuspended(op) {
			return ErrSuspended
		}
		return nil
	})
	rctx, cancel := context.WithCancel(bctx)
	c.track.mu.Lock()
	if c.track.ops == nil {
		c.track.ops = map[*bgOp]struct{}{}
	}
	c.track.ops[op] = struct{}{}
	c.track.mu.Unlock()
	return rctx, func() {
		cancel()
		c.track.mu.Lock()
		delete(c.track.ops, op)
		c.track.mu.Unlock()
	}
}

// suspended reports whether ctx belongs to a background operation that may no
// longer write: older than SuspendBound, or from before a budget ended.
func (c *Coordinator) suspended(ctx context.Context) bool {
	op, ok := ctx.Value(opKey{}).(*bgOp)
	return ok && c.opSuspended(op)
}

// opSuspended reports whether op may no longer write. Its age is measured on
// both clocks, and either past the bound suspends it: a process stop moves
// both on, a VM pause only the wall clock (the guest's monotonic clock stops
// with it), and a wall clock stepped back leaves the monotonic one to tell.
func (c *Coordinator) opSuspended(op *bgOp) bool {
	return op.gen != c.track.gen.Load() ||
		c.deps.Now().Sub(op.start) > c.cfg.SuspendBound ||
		c.wallNow().Sub(op.wall) > c.cfg.SuspendBound
}

// wallNow reads the wall clock (Deps.Wall), never a monotonic reading.
func (c *Coordinator) wallNow() time.Time {
	if c.deps.Wall != nil {
		return c.deps.Wall().Round(0)
	}
	return c.deps.Now().Round(0)
}

// checkWrite refuses a write of a suspended background operation and hands
// the operation to hinted handoff.
func (c *Coordinator) checkWrite(ctx context.Context, n kv.Node, name string) error {
	if !c.suspended(ctx) {
		return nil
	}
	c.handOffOp(ctx)
	return fmt.Errorf("write %s on %s: %w", name, n.ID, ErrSuspended)
}

// settle records a background reply in the node's health and returns err,
// unless the operation is suspended: then a failure is no verdict on the node
// (its deadline may have expired while the process was frozen), nothing is
// recorded, the operation is handed off, and err wraps ErrSuspended so the
// caller starts no fallback write.
func (c *Coordinator) settle(ctx context.Context, id string, err error) error {
	if err != nil && c.suspended(ctx) {
		c.handOffOp(ctx)
		if errors.Is(err, ErrSuspended) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrSuspended, err)
	}
	c.health.record(id, err == nil, c.deps.Now())
	return err
}

// fallbackFor returns the fallback that takes over t's write after err, or
// false: none is left, or the operation was suspended (handed off, so it
// writes nowhere).
func (c *Coordinator) fallbackFor(p *plan, t target, err error) (target, bool) {
	if errors.Is(err, ErrSuspended) {
		return target{}, false
	}
	return p.fallback(t.owner())
}

// handOffOp hands ctx's operation to hinted handoff (once).
func (c *Coordinator) handOffOp(ctx context.Context) {
	op, ok := ctx.Value(opKey{}).(*bgOp)
	if !ok {
		return
	}
	op.once.Do(func() {
		c.logger(ctx).Warn("suspended background operation handed to hinted handoff",
			"key", op.key, "age", c.deps.Now().Sub(op.start).String())
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.ReplicaTimeout)
		defer cancel()
		if err := c.handOff(hctx, op); err != nil {
			c.logger(ctx).Error("hand-off of a suspended operation failed; anti-entropy will repair the key", "key", op.key, "err", err)
		}
	})
}

// handOff queues, for every ordered pair of the key's owners, a hint that
// merges the first owner's own replica into the second's (kv.Hint.Primary).
// Each delivery reads the current replica and merges it, so it never writes
// an old version back: a key deleted and reaped in the meantime stays gone.
func (c *Coordinator) handOff(ctx context.Context, op *bgOp) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	now := c.deps.Now().UnixMilli()
	owners := op.owners()
	for _, from := range owners {
		for _, to := range owners {
			if from == to {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := kv.Hint{Key: op.key, Intended: to, Fallback: from, Created: now, Primary: true}
				if err := c.deps.Hints.Enqueue(ctx, h); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("hand off %q from %s to %s: %w", op.key, from, to, err))
					mu.Unlock()
					return
				}
				c.stats.add(&c.stats.HintsQueued, 1)
			}()
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Quiesce waits until the background work of the requests served so far has
// finished, or ctx ends (the post-response budget). In the second case every
// operation still running is handed to hinted handoff and may no longer
// write (it counts as suspended), and Quiesce returns an error wrapping
// ErrSuspended with ctx's error. The hand-off itself is bounded by
// ReplicaTimeout, and by the time HandOffBy put in ctx, if any. A Lambda extension calls it before it lets the runtime be
// frozen; job handlers call it before they return.
func (c *Coordinator) Quiesce(ctx context.Context) error {
	idle := c.bg.Idle()
	select {
	case <-idle: // checked first: an ended budget with nothing running is no failure
		return nil
	default:
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	c.track.gen.Add(1)
	c.track.mu.Lock()
	ops := make([]*bgOp, 0, len(c.track.ops))
	for op := range c.track.ops {
		ops = append(ops, op)
	}
	c.track.mu.Unlock()
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.ReplicaTimeout)
	defer cancel()
	if by, ok := HandOffDeadline(ctx); ok {
		var cancelBy context.CancelFunc
		hctx, cancelBy = context.WithDeadline(hctx, by)
		defer cancelBy()
	}
	var errs []error
	for _, op := range ops {
		op.once.Do(func() {
			if err := c.handOff(hctx, op); err != nil {
				errs = append(errs, err)
			}
		})
	}
	c.logger(ctx).Warn("post-response budget ended; background work handed to hinted handoff", "operations", len(ops))
	return fmt.Errorf("quiesce: %d operations handed off: %w: %w", len(ops), ErrSuspended, errors.Join(append([]error{ctx.Err()}, errs...)...))
}

type handOffByKey struct{}

// HandOffBy returns ctx telling Quiesce that the hand-off of work still
// running when ctx ends must be done by t: a Lambda invocation's deadline
// (less a margin), which a fresh ReplicaTimeout from the end of the budget
// could overrun, and the environment would be stopped with the hand-off
// half done.
func HandOffBy(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, handOffByKey{}, t)
}

// HandOffDeadline returns the time HandOffBy put in ctx, if any.
func HandOffDeadline(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(handOffByKey{}).(time.Time)
	return t, ok
}

// HandOffReserve is the time FitHandOff keeps at the end for the hand-off:
// one parallel round of hint enqueues per operation still running.
const HandOffReserve = 500 * time.Millisecond

// FitHandOff returns ctx for Quiesce when all of it, the hand-off included,
// must be over by end (a Lambda invocation's deadline less a margin): the
// wait ends HandOffReserve before end (or at ctx's own deadline, if earlier)
// and the hand-off by end. Call cancel when Quiesce has returned.
func FitHandOff(ctx context.Context, end time.Time) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithDeadline(ctx, end.Add(-HandOffReserve))
	return HandOffBy(wctx, end), cancel
}
