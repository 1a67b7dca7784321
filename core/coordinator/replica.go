// Replica I/O as the coordinator does it: core/replica over the
// coordinator's store, each request with its own deadline and counted in
// the stats, writes guarded against a suspended operation; and queuing the
// hint for a hinted replica.

package coordinator

import (
	"context"
	"fmt"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

func (c *Coordinator) replicaCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.ReplicaTimeout)
}

// newReplicaIO builds the coordinator's replica I/O (once, in New).
func (c *Coordinator) newReplicaIO() replica.IO {
	return replica.IO{
		Store:   timedStore{c},
		Rand:    c.deps.Rand,
		Retries: c.cfg.CASRetries,
		Guard:   c.checkWrite,
		OnCorrupt: func(ctx context.Context, n kv.Node, name string, err error) {
			c.stats.add(&c.stats.CorruptReplicas, 1)
			c.logger(ctx).Warn("corrupt replica object", "node", n.ID, "name", name, "err", err)
		},
		OnRetry: func() { c.stats.add(&c.stats.CASRetries, 1) },
	}
}

// timedStore is the coordinator's store as replica I/O uses it: every
// request under the replica timeout, GETs, PUTs and LISTs counted.
type timedStore struct{ c *Coordinator }

func (s timedStore) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	rctx, cancel := s.c.replicaCtx(ctx)
	defer cancel()
	s.c.stats.add(&s.c.stats.BackendGets, 1)
	return s.c.deps.Store.Get(rctx, loc, name)
}

func (s timedStore) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	rctx, cancel := s.c.replicaCtx(ctx)
	defer cancel()
	s.c.stats.add(&s.c.stats.BackendPuts, 1)
	return s.c.deps.Store.Put(rctx, loc, name, data, actor, ifMatch)
}

func (s timedStore) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	rctx, cancel := s.c.replicaCtx(ctx)
	defer cancel()
	return s.c.deps.Store.Delete(rctx, loc, name, ifMatch)
}

func (s timedStore) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	rctx, cancel := s.c.replicaCtx(ctx)
	defer cancel()
	s.c.stats.add(&s.c.stats.BackendLists, 1)
	return s.c.deps.Store.List(rctx, loc, prefix, startAfter, limit)
}

var _ kv.ReplicaStore = timedStore{}

// read fetches and decodes target t's replica of key: a primary's object,
// or every hinted replica of key its fallback holds, merged.
func (c *Coordinator) read(ctx context.Context, t target, key string) (replica.State, error) {
	if !t.primary() {
		return c.rio.ReadHinted(ctx, t.node, key)
	}
	return c.readObject(ctx, t, key)
}

// readObject fetches and decodes the one object at t's name.
func (c *Coordinator) readObject(ctx context.Context, t target, key string) (replica.State, error) {
	return c.rio.Read(ctx, t.node, t.name, replica.KeyIs(key), key)
}

// mergeInto makes replica t include obj (replica.IO.MergeInto).
func (c *Coordinator) mergeInto(ctx context.Context, t target, obj vclock.Object, data []byte, known *replica.State, lww bool) (replica.Merged, error) {
	return c.rio.MergeInto(ctx, t.node, t.name, obj, data, known, lww)
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
