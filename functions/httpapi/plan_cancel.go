package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// cancelPlan serves DELETE /admin/plan: cancel the pending ring change (see
// membership.CancelPlan); 409 no_plan when none is pending. It answers like
// the other membership changes: {"epoch", "moved"}, moved being the
// partitions that no longer change owner.
func (h *Handler) cancelPlan(ctx context.Context) Response {
	noPlan := false
	prev, next, bad := h.saveCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		out, err := membership.CancelPlan(c)
		noPlan = errors.Is(err, membership.ErrNoPlan)
		return out, err
	})
	if noPlan {
		return errorResponse(http.StatusConflict, "no_plan", "no ring change is pending")
	}
	if bad != nil {
		return *bad
	}
	return jsonResponse(http.StatusOK, map[string]any{"epoch": next.Epoch, "moved": moved(planned(prev), next.Owners)})
}

// adminAllow is the Allow list of the admin resource parts names among
// nodes, ring, repair and stats ("" when there is no such resource).
func adminAllow(parts []string) string {
	switch {
	case parts[0] == "nodes" && len(parts) == 1:
		return "GET, POST"
	case parts[0] == "nodes" && len(parts) == 2:
		return "DELETE"
	case parts[0] == "nodes" && len(parts) == 3 && parts[2] == "state":
		return "PUT"
	case parts[0] == "ring" && len(parts) == 1, parts[0] == "stats" && len(parts) == 1:
		return "GET"
	case parts[0] == "repair" && len(parts) == 1:
		return "POST"
	}
	return ""
}
