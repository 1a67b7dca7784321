// The admin routes: nodes, ring, repair, stats and fault injection.

package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
)

type nodeView struct {
	ID          string         `json:"id"`
	Zone        string         `json:"zone"`
	Weight      int            `json:"weight"`
	State       kv.NodeState   `json:"state"`
	Suspect     bool           `json:"suspect"`
	Incarnation uint64         `json:"incarnation"`
	Partitions  int            `json:"partitions"`
	Replicas    int            `json:"replicas"` // partitions it is one of the N primaries of
	Location    kv.Location    `json:"location"`
	Fault       *faults.Mode   `json:"fault,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"`
}

func (h *Handler) nodes(ctx context.Context) Response {
	c, err := h.d.Members.Load(ctx)
	if err != nil {
		return h.fail(err)
	}
	owned := map[string]int{}
	for _, o := range c.Owners {
		owned[o]++
	}
	suspect := map[string]bool{}
	for _, s := range h.d.Coord.Suspects() {
		suspect[s] = true
	}
	var fm map[kv.Location]faults.Mode
	if h.d.Faults != nil {
		fm = h.d.Faults.Modes()
	}
	replicas := replicaCounts(c)
	out := make([]nodeView, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		v := nodeView{ID: n.ID, Zone: n.Zone, Weight: n.Weight, State: n.State, Suspect: suspect[n.ID],
			Incarnation: n.Incarnation, Partitions: owned[n.ID], Replicas: replicas[n.ID], Location: n.Location}
		if m, ok := fm[n.Location]; ok {
			v.Fault = &m
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return jsonResponse(http.StatusOK, map[string]any{"epoch": c.Epoch, "ringEpoch": c.RingEpoch, "nodes": out})
}

func (h *Handler) addNode(ctx context.Context, req events.APIGatewayV2HTTPRequest) Response {
	var body struct {
		ID       string       `json:"id"`
		Zone     string       `json:"zone"`
		Weight   int          `json:"weight"`
		Location *kv.Location `json:"location,omitempty"`
	}
	if r := decodeJSON(req, &body); r != nil {
		return *r
	}
	if body.Weight == 0 {
		body.Weight = 1
	}
	if body.Location != nil {
		if err := h.d.Endpoints.Check(*body.Location); err != nil {
			return errorResponse(http.StatusBadRequest, client.CodeBadEndpoint, err.Error())
		}
	}
	return h.changeCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		loc := kv.Location{}
		if body.Location != nil {
			loc = *body.Location
		} else if len(c.Nodes) > 0 {
			loc = c.Nodes[0].Location
			loc.Prefix = "nodes/" + body.ID + "/"
		}
		return membership.AddNodeAt(c, kv.Node{ID: body.ID, Zone: body.Zone, Weight: body.Weight, Location: loc}, time.Now())
	})
}

// changeCluster applies f to the stored cluster with a conditional save,
// retrying on a concurrent change. It answers {"epoch", "moved", "moves"}:
// moved counts the partitions whose owner (first replica) changes, moves
// those whose replicas change (the plan's moving partitions, which the
// repair job transfers).
func (h *Handler) changeCluster(ctx context.Context, f func(kv.Cluster) (kv.Cluster, error)) Response {
	prev, next, bad := h.saveCluster(ctx, f)
	if bad != nil {
		return *bad
	}
	out := map[string]any{"epoch": next.Epoch, "moved": moved(prev.Owners, planned(next)), "moves": 0}
	if p, err := repair.PlanOf(next); err == nil {
		out["moves"] = len(p.Moves) // as GET /admin/plan counts them: partitions whose replicas change
	}
	return jsonResponse(http.StatusOK, out)
}

// saveCluster applies f to the stored cluster with a conditional save,
// retrying on a concurrent change, and returns the clusters before and after
// (or the error response).
func (h *Handler) saveCluster(ctx context.Context, f func(kv.Cluster) (kv.Cluster, error)) (kv.Cluster, kv.Cluster, *Response) {
	for attempt := 0; attempt < 5; attempt++ {
		c, err := h.d.Members.Load(ctx)
		if err != nil {
			r := h.fail(err)
			return kv.Cluster{}, kv.Cluster{}, &r
		}
		next, err := f(c)
		if err != nil {
			r := errorResponse(http.StatusBadRequest, client.CodeBadRequest, err.Error())
			switch {
			case errors.Is(err, kv.ErrNoNode):
				r = errorResponse(http.StatusNotFound, client.CodeNoSuchNode, err.Error())
			case errors.Is(err, membership.ErrNodeExists):
				r = errorResponse(http.StatusConflict, client.CodeNodeExists, err.Error())
			}
			return kv.Cluster{}, kv.Cluster{}, &r
		}
		err = h.d.Members.Save(ctx, next, c.Epoch)
		if errors.Is(err, kv.ErrPrecondition) {
			continue
		}
		if err != nil {
			r := h.fail(err)
			return kv.Cluster{}, kv.Cluster{}, &r
		}
		h.d.Coord.Invalidate()
		return c, next, nil
	}
	r := errorResponse(http.StatusConflict, client.CodeConflict, "membership kept changing; try again")
	return kv.Cluster{}, kv.Cluster{}, &r
}

func moved(a, b []string) int {
	n := 0
	for i := range b {
		if i >= len(a) || a[i] != b[i] {
			n++
		}
	}
	return n
}

func (h *Handler) ring(ctx context.Context) Response {
	c, err := h.d.Members.Load(ctx)
	if err != nil {
		return h.fail(err)
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"epoch": c.Epoch, "ringEpoch": c.RingEpoch, "q": c.Params.Q, "n": c.Params.N, "r": c.Params.R, "w": c.Params.W, "lww": c.Params.LWW,
		"owners": c.Owners,
	})
}

// repairResult is POST /admin/repair's answer: the report, with what the
// hint delivery did at the top.
type repairResult struct {
	Hints coordinator.DrainResult `json:"hints"`
	repair.Report
}

func (h *Handler) repair(ctx context.Context) Response {
	if h.d.Jobs != nil {
		rep, err := h.d.Jobs.Repair(ctx)
		if err != nil {
			return h.fail(err)
		}
		return jsonResponse(http.StatusOK, repairResult{Hints: rep.Handoff.Queue, Report: rep})
	}
	res, err := h.d.Coord.DrainHints(ctx, h.d.HintWait)
	if err != nil {
		return h.fail(err)
	}
	return jsonResponse(http.StatusOK, map[string]any{"hints": res})
}

func (h *Handler) stats(ctx context.Context) Response {
	out := map[string]any{"coordinator": h.d.Coord.Stats().Snapshot()}
	if h.d.Hints != nil {
		if qs, err := h.d.Hints.Stats(ctx); err == nil {
			out["hints"] = qs
		} else {
			out["hintsError"] = err.Error()
		}
	}
	if h.d.Faults != nil {
		out["faultsInjected"] = h.d.Faults.Injected()
		out["backendRequests"] = h.d.Faults.Counts()
	}
	return jsonResponse(http.StatusOK, out)
}

func (h *Handler) faults(ctx context.Context, method string, rest []string, req events.APIGatewayV2HTTPRequest) Response {
	if h.d.Faults == nil {
		return errorResponse(http.StatusForbidden, client.CodeFaultsDisabled, "fault injection is disabled (enable it with the FaultInjection parameter or serve --faults)")
	}
	if len(rest) == 0 {
		if method != http.MethodGet {
			return methodNotAllowed("GET")
		}
		c, err := h.d.Members.Load(ctx)
		if err != nil {
			return h.fail(err)
		}
		out := map[string]faults.Mode{}
		for id, m := range c.Faults {
			out[id] = m
		}
		return jsonResponse(http.StatusOK, map[string]any{"faults": out})
	}
	if len(rest) != 1 {
		return errorResponse(http.StatusNotFound, client.CodeNoRoute, "use /admin/faults/{node}")
	}
	var m faults.Mode
	switch method {
	case http.MethodPut:
		if r := decodeJSON(req, &m); r != nil {
			return *r
		}
		if m.Kind == "" {
			return errorResponse(http.StatusBadRequest, client.CodeBadRequest, `"mode" is required: down, slow or errors`)
		}
		if m.Kind == "slow" && m.LatencyMs <= 0 {
			return errorResponse(http.StatusBadRequest, client.CodeBadRequest, `a slow fault needs "latencyMs" > 0, e.g. {"mode": "slow", "latencyMs": 200}`)
		}
	case http.MethodDelete:
	default:
		return methodNotAllowed("PUT, DELETE")
	}
	// The fault is stored in membership, so every process (every Lambda
	// container) applies it when it next loads the cluster; this one at once.
	_, next, bad := h.saveCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) { return membership.SetFault(c, rest[0], m) })
	if bad != nil {
		return *bad
	}
	n, _ := next.Node(rest[0])
	_ = h.d.Faults.Set(n.Location, m)
	if method == http.MethodDelete {
		return Response{StatusCode: http.StatusNoContent, Headers: map[string]string{}}
	}
	return jsonResponse(http.StatusOK, map[string]any{"node": n.ID, "fault": m})
}
