// Replica I/O: reading, writing and merging one replica object, each with
// its own deadline, and queuing the hint for a hinted replica.

package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// replicaState is what a replica held when read.
type replicaState struct {
	obj     vclock.Object
	found   bool
	corrupt bool
	etag    string
	actor   string // the object's minting identity (S3 metadata, see kv.Minting)
	data    []byte
	stub    bool // a delivered hinted replica's stub: no state, only a minting identity
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
		if st.stub {
			continue // delivered: nothing to read, only a minting identity
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
	if kv.IsStub(blob.Data) {
		// A delivered hinted replica's stub: no state, only a minting
		// identity in its metadata (kv.Minting).
		return replicaState{obj: vclock.Object{Key: key}, found: true, etag: blob.ETag, actor: blob.Actor, data: blob.Data, stub: true}, nil
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

// actorValid reports whether an object's recorded minting identity (object
// metadata, see kv.Minting) may keep minting on node n: its actor must be
// n's, of n's current incarnation.
func actorValid(meta string, n kv.Node) bool {
	return kv.ValidMinter(kv.ParseMinting(meta).Actor, n.ID, n.Incarnation)
}

// keptActor is the metadata a write that mints nothing (a merge) gives an
// object: the state's own minting identity (a stub's too, with its floor),
// or a new actor for a new or unusable object.
func (c *Coordinator) keptActor(st replicaState, n kv.Node) string {
	if !st.found || st.corrupt || !actorValid(st.actor, n) {
		return c.newActor(n)
	}
	return st.actor
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
		actor := c.keptActor(st, t.node) // keep the object's minting identity; a new object gets a new one
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
