// The admin routes the dashboard (ui.go) reads: a key's preference list,
// the hinted replicas held per node, and stats with the recent series.

package httpapi

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/ring"
)

// replicaView is one entry of GET /admin/preflist/{key}.
type replicaView struct {
	Node        string `json:"node"`
	Zone        string `json:"zone"`
	Primary     bool   `json:"primary"`
	StandsInFor string `json:"standsInFor,omitempty"`
}

// preflist serves GET /admin/preflist/{key}: the replicas a request for key
// would contact now, as this coordinator sees the cluster (down and suspected
// primaries replaced by fallbacks), with the key's partition and its position
// on the ring (its hash as a fraction of the hash space, in [0, 1)).
func (h *Handler) preflist(ctx context.Context, rawKey string) Response {
	key, err := url.PathUnescape(rawKey)
	if err != nil {
		return errorResponse(http.StatusBadRequest, client.CodeBadKey, "the key is not a valid URL-encoded string")
	}
	reps, part, err := h.d.Coord.PreferenceList(ctx, key)
	if err != nil {
		return h.fail(err)
	}
	c, err := h.d.Coord.Cluster(ctx)
	if err != nil {
		return h.fail(err)
	}
	zone := map[string]string{}
	for _, n := range c.Nodes {
		zone[n.ID] = n.Zone
	}
	out := make([]replicaView, 0, len(reps))
	for _, r := range reps {
		out = append(out, replicaView{Node: r.Node, Zone: zone[r.Node], Primary: r.Primary, StandsInFor: r.StandsInFor})
	}
	hash := ring.HashKey(key)
	return jsonResponse(http.StatusOK, map[string]any{
		"key": key, "partition": part, "q": c.Params.Q, "n": c.Params.N, "epoch": c.Epoch,
		"position": float64(binary.BigEndian.Uint64(hash[:8])>>11) / (1 << 53),
		"replicas": out,
	})
}

// heldHintsLimit bounds the hinted replicas counted per node (one LIST each).
const heldHintsLimit = 1000

// heldHints serves GET /admin/hints: the hint queue's counts and, per node,
// the hinted replicas it holds for others (one LIST request per node).
func (h *Handler) heldHints(ctx context.Context) Response {
	held, err := h.d.Coord.HintedReplicas(ctx, heldHintsLimit)
	if err != nil {
		return h.fail(err)
	}
	out := map[string]any{"nodes": held, "limit": heldHintsLimit}
	if h.d.Hints != nil {
		if qs, err := h.d.Hints.Stats(ctx); err == nil {
			out["queue"] = qs
		} else {
			out["queueError"] = err.Error()
		}
	}
	return jsonResponse(http.StatusOK, out)
}

// statsWithRecent serves GET /admin/stats: the counters and percentiles of
// stats, plus "recent" (request rates and latency percentiles over the last
// minute, and a five-minute series) and "suspects". In Lambda these describe
// the container that answered; the EMF metrics aggregate all of them.
func (h *Handler) statsWithRecent(ctx context.Context) Response {
	r := h.stats(ctx)
	var out map[string]json.RawMessage
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.Body), &out) != nil {
		return r
	}
	extra := map[string]any{"recent": h.d.Recent.Recent(), "suspects": h.d.Coord.Suspects()}
	if per := h.perNode(ctx); per != nil {
		extra["nodes"] = per
	}
	for k, v := range extra {
		b, _ := json.Marshal(v) // plain numbers and strings: cannot fail
		out[k] = b
	}
	return jsonResponse(http.StatusOK, out)
}
