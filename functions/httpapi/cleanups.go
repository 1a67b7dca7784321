// Pending clean-ups: shown with the plan, and forgotten when a departed
// node's storage is gone for good.

package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// cleanupView is one pending clean-up as GET /admin/plan shows it.
type cleanupView struct {
	Node string `json:"node"`
	// Departed: the node left the cluster (DELETE /admin/cleanups/{node}
	// forgets it); otherwise it is a member that lost these partitions.
	Departed   bool        `json:"departed"`
	Partitions []int       `json:"partitions"`
	Committed  string      `json:"committed"` // RFC 3339, UTC
	Location   kv.Location `json:"location"`
}

// cleanupViews lists pending clean-ups, by node id (members first for an
// id that has both).
func cleanupViews(cls []kv.Cleanup) []cleanupView {
	out := make([]cleanupView, 0, len(cls))
	for _, cl := range cls {
		out = append(out, cleanupView{Node: cl.Node.ID, Departed: cl.Departed, Partitions: cl.Partitions,
			Committed: time.UnixMilli(cl.Committed).UTC().Format(time.RFC3339), Location: cl.Node.Location})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Node != out[j].Node {
			return out[i].Node < out[j].Node
		}
		return !out[i].Departed && out[j].Departed
	})
	return out
}

// forgetCleanups serves DELETE /admin/cleanups/{node}: drop the pending
// clean-ups of a node that left the cluster (membership.ForgetCleanups),
// giving up on merging its copies into the current owners. 200 {"node",
// "partitions"}; 404 not_found when it has none; 409 still_member while the
// node is a member. A conditional save of the record, retried on a race.
func (h *Handler) forgetCleanups(ctx context.Context, raw string) Response {
	id, err := url.PathUnescape(raw)
	if err != nil {
		return errorResponse(http.StatusBadRequest, client.CodeBadRequest, "the node id is not a valid URL-encoded string")
	}
	var n int
	var refused error
	prev, next, bad := h.saveCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		out, k, err := membership.ForgetCleanups(c, id)
		if err != nil {
			refused = err
			return kv.Cluster{}, err
		}
		n = k
		out.Epoch = c.Epoch + 1 // as the repair job's record updates do
		return out, nil
	})
	switch {
	case errors.Is(refused, membership.ErrStillMember):
		return errorResponse(http.StatusConflict, client.CodeStillMember,
			"node "+id+" is still a member: remove it and commit the removal first (cartwheel node remove, plan commit)")
	case errors.Is(refused, membership.ErrNoCleanup):
		return errorResponse(http.StatusNotFound, client.CodeNotFound, "no pending clean-up of a departed node "+id)
	case bad != nil:
		return *bad
	}
	h.d.Log.WarnContext(ctx, "forgot the pending clean-ups of a departed node: copies only its storage held are lost",
		"node", id, "partitions", n, "epoch", next.Epoch, "prevEpoch", prev.Epoch)
	return jsonResponse(http.StatusOK, map[string]any{"node": id, "partitions": n})
}
