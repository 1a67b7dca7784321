// Ring changes and reaping: the pending plan, its transfers, commit and
// tombstone reaping, like riak-admin cluster plan/commit.

package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
)

// planned is the ownership a cluster is heading to: its pending plan, else
// its owners.
func planned(c kv.Cluster) []string {
	if c.Next != nil {
		return c.Next
	}
	return c.Owners
}

// plan serves GET /admin/plan (each node's share now and after the pending
// ring change, like riak's "cluster plan") and, with moves, GET
// /admin/transfers (every moving partition: the nodes that lose and gain it,
// and whether its transfer is done, like "transfers"). Progress is what this
// process's repair job knows; without one, the plan comes from membership.
// GET /admin/plan also lists the pending clean-ups ("cleanups", read with
// the plan: see cleanupViews).
func (h *Handler) plan(ctx context.Context, moves bool) Response {
	var p repair.Plan
	var err error
	if h.d.Jobs != nil {
		p, err = h.d.Jobs.Plan(ctx)
	} else {
		var c kv.Cluster
		if c, err = h.d.Members.Load(ctx); err == nil {
			p, err = repair.PlanOf(c)
		}
	}
	if err != nil {
		return h.fail(err)
	}
	out := map[string]any{"epoch": p.Epoch, "pending": p.Pending, "settling": p.Settling, "moves": len(p.Moves), "done": p.Done}
	if moves {
		transfers := p.Moves
		if transfers == nil {
			transfers = []repair.Move{}
		}
		out["transfers"] = transfers
	} else {
		out["nodes"] = p.Nodes
		out["cleanups"] = cleanupViews(p.Cleanups)
	}
	return jsonResponse(http.StatusOK, out)
}

// commit serves POST /admin/commit: transfer what remains of the pending
// ring change and commit it (409 while transfers remain, or with no change).
func (h *Handler) commit(ctx context.Context) Response {
	pl := h.d.Jobs
	if pl == nil {
		return errorResponse(http.StatusNotImplemented, client.CodeNotAvailable, "this server does not run the repair job that commits ring changes")
	}
	rep, err := pl.Commit(ctx)
	switch {
	case errors.Is(err, membership.ErrNoPlan):
		return errorResponse(http.StatusConflict, client.CodeNoPlan, "no ring change is pending")
	case errors.Is(err, repair.ErrTransfersPending):
		msg := fmt.Sprintf("%d of %d moving partitions transferred; run it again", rep.Transfers.Done, rep.Transfers.Moves)
		retry := 1
		if t := rep.Transfers; t.Settling {
			retry = int((t.SettlesInMs + 999) / 1000)
			msg = fmt.Sprintf("the ring change is settling: its %d moving partitions start transferring in %d s, once every coordinator routes by the plan; commit again then", t.Moves, retry)
		}
		r := jsonResponse(http.StatusConflict, map[string]any{
			"error":     client.CodeTransfersPending,
			"message":   msg,
			"transfers": rep.Transfers,
		})
		r.Headers["Retry-After"] = strconv.Itoa(retry)
		return r
	case err != nil:
		return h.fail(err)
	}
	h.d.Coord.Invalidate()
	return jsonResponse(http.StatusOK, rep)
}

// reap serves POST /admin/reap: compare every partition and reap the deleted
// keys that may be (one GET per key: see repair.Repairer.Reap).
func (h *Handler) reap(ctx context.Context) Response {
	r := h.d.Jobs
	if r == nil {
		return errorResponse(http.StatusNotImplemented, client.CodeNotAvailable, "this server does not run the repair job")
	}
	rep, err := r.Reap(ctx)
	if err != nil {
		return h.fail(err)
	}
	return jsonResponse(http.StatusOK, rep)
}
