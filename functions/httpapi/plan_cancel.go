package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/nodestats"
	"github.com/cartwheel/cartwheel/core/membership"
)

// cancelPlan serves DELETE /admin/plan: cancel the pending ring change (see
// membership.CancelPlanAt); 409 no_plan when none is pending. It answers like
// the other membership changes: {"epoch", "moved"}, moved being the
// partitions that no longer change owner.
func (h *Handler) cancelPlan(ctx context.Context) Response {
	noPlan := false
	prev, next, bad := h.saveCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		out, err := membership.CancelPlanAt(c, time.Now())
		noPlan = errors.Is(err, membership.ErrNoPlan)
		return out, err
	})
	if noPlan {
		return errorResponse(http.StatusConflict, client.CodeNoPlan, "no ring change is pending")
	}
	if bad != nil {
		return *bad
	}
	return jsonResponse(http.StatusOK, map[string]any{"epoch": next.Epoch, "moved": moved(planned(prev), next.Owners)})
}

// perNode is each node's replica requests, failures and latency as this
// process saw them (GET /admin/stats "nodes"), by node id; nil without
// NodeStats or when membership cannot be read.
func (h *Handler) perNode(ctx context.Context) map[string]nodestats.Stats {
	if h.d.NodeStats == nil {
		return nil
	}
	c, err := h.d.Coord.Cluster(ctx)
	if err != nil {
		return nil
	}
	snap := h.d.NodeStats.Snapshot()
	out := make(map[string]nodestats.Stats, len(c.Nodes))
	for _, n := range c.Nodes {
		out[n.ID] = snap[n.Location] // zero until the node is first requested
	}
	return out
}
