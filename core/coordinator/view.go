package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
)

// view is one immutable snapshot of the cluster: membership plus its ring.
type view struct {
	cluster kv.Cluster
	ring    *ring.Ring
	// next is the ring of a pending ring change (cluster.Next), nil when none:
	// puts also go to the primaries it adds.
	next   *ring.Ring
	nodes  map[string]kv.Node
	loaded time.Time // when membership last confirmed it
}

func newView(c kv.Cluster, now time.Time) (*view, error) {
	if err := c.Params.Validate(); err != nil {
		return nil, err
	}
	rn := make([]ring.Node, 0, len(c.Nodes))
	nodes := make(map[string]kv.Node, len(c.Nodes))
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
		nodes[n.ID] = n
	}
	r, err := ring.New(c.Params.Q, rn, c.Owners)
	if err != nil {
		return nil, fmt.Errorf("cluster epoch %d: %w", c.Epoch, err)
	}
	v := &view{cluster: c, ring: r, nodes: nodes, loaded: now}
	if c.Next != nil {
		if v.next, err = ring.New(c.Params.Q, rn, c.Next); err != nil {
			return nil, fmt.Errorf("cluster epoch %d: pending owners: %w", c.Epoch, err)
		}
	}
	return v, nil
}

// views caches the cluster view and reloads it after the TTL.
type views struct {
	members kv.Membership
	ttl     time.Duration
	// maxStale bounds how long past its TTL a view serves while membership
	// cannot be read (Config.MaxStale).
	maxStale time.Duration
	onView   func(kv.Cluster) // called with each new epoch's cluster; may be nil
	secret   func() ([]byte, error)
	mu       sync.Mutex
	cur      *view
}

// withContextKeys returns c with context keys, installing new ones in
// membership (a conditional save, once per cluster) if it has none: the
// first coordinator to find the record without keys makes them. A lost race
// reloads the winner's.
func (v *views) withContextKeys(ctx context.Context, c kv.Cluster, now time.Time) (kv.Cluster, error) {
	for attempt := 0; c.ContextKeys == nil; attempt++ {
		if attempt == 3 {
			return kv.Cluster{}, fmt.Errorf("install context keys: lost %d races", attempt)
		}
		secret, err := v.secret()
		if err != nil {
			return kv.Cluster{}, fmt.Errorf("install context keys: %w", err)
		}
		next, err := membership.RotateContextKey(c, secret, now) // no keys yet: the first ones
		if err != nil {
			return kv.Cluster{}, err
		}
		if err := v.members.Save(ctx, next, c.Epoch); err == nil {
			return next, nil
		} else if !errors.Is(err, kv.ErrPrecondition) {
			return kv.Cluster{}, fmt.Errorf("install context keys: %w", err)
		}
		if c, err = v.members.Load(ctx); err != nil {
			return kv.Cluster{}, fmt.Errorf("install context keys: %w", err)
		}
	}
	if err := c.ContextKeys.Validate(); err != nil {
		return kv.Cluster{}, fmt.Errorf("cluster epoch %d: %w", c.Epoch, err)
	}
	return c, nil
}

func (v *views) get(ctx context.Context, now time.Time) (*view, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur != nil && now.Sub(v.cur.loaded) < v.ttl {
		return v.cur, nil
	}
	c, err := v.members.Load(ctx)
	if err != nil {
		if v.cur != nil && now.Sub(v.cur.loaded) < v.ttl+v.maxStale {
			return v.cur, nil // keep serving with the last known ring, for a while
		}
		if v.cur != nil {
			return nil, fmt.Errorf("load membership: the last view is %s old: %w", now.Sub(v.cur.loaded).Round(time.Second), err)
		}
		return nil, fmt.Errorf("load membership: %w", err)
	}
	return v.install(ctx, c, now)
}

// refresh reads membership now, whatever the cached view's age. Unlike get,
// it never falls back on the cached view when membership cannot be read: its
// callers must not decide on a view that may predate a change.
func (v *views) refresh(ctx context.Context, now time.Time) (*view, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, err := v.members.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load membership: %w", err)
	}
	return v.install(ctx, c, now)
}

// install makes c, just loaded, the cached view; v.mu must be held.
func (v *views) install(ctx context.Context, c kv.Cluster, now time.Time) (*view, error) {
	if v.cur != nil && v.cur.cluster.Epoch == c.Epoch {
		v.cur.loaded = now
		return v.cur, nil
	}
	c, err := v.withContextKeys(ctx, c, now)
	if err != nil {
		return nil, err
	}
	nv, err := newView(c, now)
	if err != nil {
		return nil, err
	}
	v.cur = nv
	if v.onView != nil {
		v.onView(c)
	}
	return nv, nil
}

func (v *views) invalidate() {
	v.mu.Lock()
	v.cur = nil
	v.mu.Unlock()
}

// health is this coordinator's own failure detector, complementing the
// health job (which probes every node's storage and records Down in
// membership, with hysteresis). It counts consecutive failed requests per
// node; after Config.SuspectAfter of them the node is suspect: treated as down
// for routing (fallbacks stand in, hints are queued) for Config.SuspectFor,
// after which the next request probes it again. Each failed probe doubles the
// period, up to 8x, so a flapping node is not retried on every request
// (hysteresis); any success clears the node. Suspicion is local to one
// coordinator (one Lambda container) and never written to membership.
// Hint deliveries ignore suspicion: a delivery is itself the probe.
type health struct {
	after int
	base  time.Duration
	mu    sync.Mutex
	nodes map[string]*nodeHealth
}

type nodeHealth struct {
	fails   int
	until   time.Time
	backoff time.Duration
}

func (h *health) suspect(id string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.nodes[id]
	return n != nil && now.Before(n.until)
}

func (h *health) record(id string, ok bool, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.nodes[id]
	if ok {
		if n != nil {
			delete(h.nodes, id)
		}
		return
	}
	if n == nil {
		n = &nodeHealth{}
		h.nodes[id] = n
	}
	n.fails++
	if n.fails >= h.after && !now.Before(n.until) {
		if n.backoff == 0 {
			n.backoff = h.base
		} else if n.backoff < 8*h.base {
			n.backoff *= 2
		}
		n.until = now.Add(n.backoff)
	}
}

// Suspects returns the nodes currently suspected down by this coordinator.
func (h *health) suspects(now time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for id, n := range h.nodes {
		if now.Before(n.until) {
			out = append(out, id)
		}
	}
	return out
}
