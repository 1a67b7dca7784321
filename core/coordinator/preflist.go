package coordinator

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/ring"
)

// PreferenceList returns the replicas a request for key would contact now,
// and the key's partition: the key's N primaries in walk order, each one down
// (membership) or suspected by this coordinator replaced by the next up node
// of the walk (a fallback standing in for it), as this coordinator sees the
// cluster (its cached view). Operators and the dashboard use it; requests
// compute the same list.
func (c *Coordinator) PreferenceList(ctx context.Context, key string) ([]ring.Replica, int, error) {
	if err := c.cfg.Limits.CheckKey(key); err != nil {
		return nil, 0, err
	}
	now := c.deps.Now()
	v, err := c.views.get(ctx, now)
	if err != nil {
		return nil, 0, err
	}
	return v.ring.PreferenceList(key, v.cluster.Params.N, c.up(v, now)), v.ring.Partition(key), nil
}

// HeldHints is what one node holds for others: its hinted replicas (objects
// written while it stood in for a down primary, not yet handed off).
type HeldHints struct {
	Node string `json:"node"`
	// Held counts the hinted replicas found (at most the limit asked for).
	Held int `json:"held"`
	// For counts them by the primary they are held for.
	For map[string]int `json:"for"`
	// More is true when the node holds more than Held.
	More bool `json:"more"`
	// Error is set when the node could not be listed (it is down, say).
	Error string `json:"error,omitempty"`
}

// HintedReplicas lists, on every node of the cluster in parallel, the hinted
// replicas it holds, counting at most limit per node (one LIST request each).
// Nodes are returned sorted by ID; a node that cannot be listed has Error set.
// The stubs delivered replicas left (kv.Minting) are not counted when their
// ETag shows them (left in the last 24 hours, on a store with MD5 ETags).
func (c *Coordinator) HintedReplicas(ctx context.Context, limit int) ([]HeldHints, error) {
	now := c.deps.Now()
	v, err := c.views.get(ctx, now)
	if err != nil {
		return nil, err
	}
	stubs := kv.YoungStubETags(now.Add(-24*time.Hour).UnixMilli(), now.UnixMilli())
	limit = max(limit, 1)
	out := make([]HeldHints, len(v.cluster.Nodes))
	var wg sync.WaitGroup
	for i, n := range v.cluster.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := HeldHints{Node: n.ID, For: map[string]int{}}
			rctx, cancel := c.replicaCtx(ctx)
			items, more, err := c.deps.Store.List(rctx, n.Location, kv.HintPrefix, "", limit)
			cancel()
			c.stats.add(&c.stats.BackendLists, 1)
			if err != nil {
				h.Error = err.Error()
			} else {
				h.More = more
				for _, it := range items {
					if stubs[it.ETag] {
						continue
					}
					h.Held++
					// "hints/<md5 hex>/<intended>"
					h.For[it.Name[strings.LastIndexByte(it.Name, '/')+1:]]++
				}
			}
			out[i] = h
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}
