package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
)

// ErrNotReady means a hint's intended node is still down: the hint stays
// queued and is retried later (after the redrive limit it goes to the
// dead-letter queue, from which operators replay it).
var ErrNotReady = errors.New("intended node not ready")

// DeliverHint moves the hinted replica named by h from its fallback into the
// key's current owners (merging, never overwriting), then deletes it from the
// fallback, and only then succeeds (the message is acknowledged). It is
// idempotent: a hint whose replica was already delivered is a no-op. The
// replica goes to the intended node while it is one of the key's primaries;
// if a ring change took the key away from it (or it left), to the key's
// current primaries that are up instead (and to the intended node too if it
// is a pending owner), never into a node that does not own the key. A
// fallback that left the cluster is found through its cleanup. A fallback or
// intended node the cached view does not know is looked up in membership read
// again: only a node that is in neither (it left and its cleanup, which
// delivered its hinted replicas, finished) makes the hint a no-op; when
// membership cannot be read the delivery fails and the hint stays queued.
// A Primary hint (a hand-off of background work, see Quiesce) merges the
// fallback's own replica of the key, as it is now, the same way, and leaves
// it in place.
func (c *Coordinator) DeliverHint(ctx context.Context, h kv.Hint) error {
	if err := c.cfg.Limits.CheckKey(h.Key); err != nil {
		return fmt.Errorf("hint: %w", err)
	}
	now := c.deps.Now()
	v, err := c.views.get(ctx, now)
	if err != nil {
		return err
	}
	fbs := fallbackNodes(v, h.Fallback)
	if len(fbs) == 0 || !known(v, h.Intended) {
		// The cached view may predate the node's addition (it lives up to
		// ClusterTTL, and MaxStale more when membership cannot be read):
		// decide on membership as it is now, or not at all.
		if v, err = c.views.refresh(ctx, now); err != nil {
			return fmt.Errorf("hint from %s for %s, unknown to the cached view: %w", h.Fallback, h.Intended, err)
		}
		fbs = fallbackNodes(v, h.Fallback)
	}
	if len(fbs) == 0 {
		// It left and its cleanup finished, which delivered every hinted
		// replica it held: nothing is left to deliver.
		c.logger(ctx).Warn("hint from a node no longer in the cluster", "fallback", h.Fallback, "key", h.Key)
		c.stats.add(&c.stats.HintsObsolete, 1)
		return nil
	}
	var (
		fb kv.Node
		ft target
		st replica.State
	)
	for _, n := range fbs {
		fb = n
		ft = target{node: n, intended: h.Intended, name: kv.HintName(h.Intended, h.Key)}
		if h.Primary {
			// A hand-off of background work: the source is the node's own
			// replica, which stays where it is.
			ft = target{node: n, name: kv.DataName(h.Key)}
		}
		if st, err = c.readObject(ctx, ft, h.Key); err != nil {
			return err
		}
		if st.Found && !st.Stub {
			break
		}
	}
	if !st.Found || st.Stub {
		c.stats.add(&c.stats.HintsObsolete, 1)
		return nil // delivered before (hints are at-least-once), with an earlier hint of the same replica or by a repair
	}
	if st.Corrupt && h.Primary {
		c.stats.add(&c.stats.HintsObsolete, 1)
		return nil // a corrupt replica is anti-entropy's to overwrite
	}
	if st.Corrupt {
		return fmt.Errorf("hinted replica %s on %s is corrupt", ft.name, fb.ID)
	}
	dests, err := c.hintDests(v, h, now)
	if err != nil {
		return err
	}
	for _, d := range dests {
		_, err := c.mergeInto(ctx, d, st.Obj, st.Data, nil, v.cluster.Params.LWW)
		c.health.record(d.node.ID, err == nil, c.deps.Now())
		if err != nil {
			return fmt.Errorf("deliver hint to %s: %w", d.node.ID, err)
		}
	}
	if h.Primary {
		c.stats.add(&c.stats.HintsDelivered, 1)
		return nil
	}
	err = c.removeDelivered(ctx, v, fb, ft, st)
	if err != nil && !errors.Is(err, kv.ErrPrecondition) {
		// Delivered but not removed: the next delivery is a no-op merge.
		return fmt.Errorf("remove delivered hint %s on %s: %w", ft.name, fb.ID, err)
	}
	// A lost precondition means a newer write reached the fallback; its own
	// hint will carry it.
	c.stats.add(&c.stats.HintsDelivered, 1)
	return nil
}

// removeDelivered takes a delivered hinted replica off its fallback, on the
// condition that it still holds what was delivered (one request, as a
// delete). A current member's replica whose actor is still valid and that
// holds a live version leaves a stub (kv.Minting) so the next hinted replica
// at that name mints with the same actor and the key's clock does not gain
// an actor per hinted replica ever created. A departed or re-added
// fallback's replica, or one holding only tombstones, is deleted outright:
// a stub there would save nothing, or hold up reaping the deleted key.
func (c *Coordinator) removeDelivered(ctx context.Context, v *view, fb kv.Node, ft target, st replica.State) error {
	rec := kv.ParseMinting(st.Actor)
	member, ok := v.nodes[fb.ID]
	if !ok || member.Incarnation != fb.Incarnation || !kv.ValidMinter(rec.Actor, fb.ID, fb.Incarnation) || len(st.Obj.Live()) == 0 {
		return c.rio.Store.Delete(ctx, fb.Location, ft.name, st.ETag)
	}
	stub := kv.StubOf(rec, st.Obj.Clock)
	_, err := c.rio.Store.Put(ctx, fb.Location, ft.name, kv.StubData(c.deps.Now().UnixMilli()), stub.String(), st.ETag)
	return err
}

// fallbackNodes returns the nodes a hint's fallback id may be: a member, or a
// node that left and whose cleanup (which keeps its location) is not
// finished; both when a node was added again under the id of one that left.
func fallbackNodes(v *view, id string) []kv.Node {
	var fbs []kv.Node
	if n, ok := v.nodes[id]; ok {
		fbs = append(fbs, n)
	}
	return append(fbs, v.cluster.DepartedNodes(id)...)
}

// known reports whether v knows node id, as a member or as a departed node.
func known(v *view, id string) bool { return len(fallbackNodes(v, id)) > 0 }

// DrainResult counts what a drain did.
type DrainResult struct {
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	Poison    int `json:"poison"`
}

// DrainHints receives and delivers hints until the queue yields none (or ctx
// ends). Delivered hints are acknowledged; failed and undecodable ones are
// left to become visible again and, past the redrive limit, to move to the
// dead-letter queue.
func (c *Coordinator) DrainHints(ctx context.Context, wait time.Duration) (DrainResult, error) {
	var res DrainResult
	for ctx.Err() == nil {
		batch, err := c.deps.Hints.Receive(ctx, 10, wait)
		if err != nil {
			return res, fmt.Errorf("drain hints: %w", err)
		}
		if len(batch) == 0 {
			return res, nil
		}
		var done []string
		for _, m := range batch {
			if m.Err != nil {
				res.Poison++
				c.logger(ctx).Error("poison hint message", "receives", m.Receives, "err", m.Err)
				continue
			}
			if err := c.DeliverHint(ctx, m.Hint); err != nil {
				res.Failed++
				c.logger(ctx).Warn("hint not delivered", "key", m.Hint.Key, "intended", m.Hint.Intended, "err", err)
				continue
			}
			res.Delivered++
			done = append(done, m.Receipt)
		}
		if len(done) > 0 {
			if err := c.deps.Hints.Ack(ctx, done...); err != nil {
				return res, fmt.Errorf("ack hints: %w", err)
			}
		}
	}
	return res, ctx.Err()
}

// hintDests returns where hint h's replica goes: the intended node while it
// is a current primary of the key (ErrNotReady while it is down); otherwise
// every current primary that is up (at least one), plus the intended node if
// it is a primary under the pending ring change.
func (c *Coordinator) hintDests(v *view, h kv.Hint, now time.Time) ([]target, error) {
	prim := v.ring.Primaries(h.Key, v.cluster.Params.N)
	data := kv.DataName(h.Key)
	if slices.Contains(prim, h.Intended) {
		n := v.nodes[h.Intended]
		// A node merely suspected by this coordinator is tried: the delivery
		// is the probe. One the health job marked down is left alone.
		if n.State == kv.StateDown {
			return nil, fmt.Errorf("hint for %s: %w", n.ID, ErrNotReady)
		}
		return []target{{node: n, name: data}}, nil
	}
	up := c.up(v, now)
	var dests []target
	for _, id := range prim {
		if up(id) {
			dests = append(dests, target{node: v.nodes[id], name: data})
		}
	}
	if len(dests) == 0 {
		return nil, fmt.Errorf("hint for %s, no longer a primary: no primary of %q is up: %w", h.Intended, h.Key, ErrNotReady)
	}
	if v.next != nil && slices.Contains(v.next.Primaries(h.Key, v.cluster.Params.N), h.Intended) {
		if n := v.nodes[h.Intended]; n.State != kv.StateDown {
			dests = append(dests, target{node: n, name: data})
		}
	}
	return dests, nil
}
