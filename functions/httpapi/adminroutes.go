package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// adminEntry is one route of the admin API, below /admin/. Its pattern is
// slash-separated segments: a literal, "{name}" (one segment, passed in
// args), or a final "{name...}" (the rest of the path, raw, possibly empty).
type adminEntry struct {
	method  string
	pattern string
	handle  func(h *Handler, ctx context.Context, req events.APIGatewayV2HTTPRequest, args []string) Response
}

// adminRoutes is the admin API: the one table the dispatcher reads, and the
// 405 Allow lists come from it. The README's admin table lists the same
// routes (TestAdminRoutesInReadme).
var adminRoutes = []adminEntry{
	// The dashboard's: a key's preference list, hinted replicas per node, and
	// the stats with the recent rates.
	{http.MethodGet, "preflist/{key...}", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, a []string) Response {
		return h.preflist(ctx, a[0])
	}},
	{http.MethodGet, "hints", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.heldHints(ctx)
	}},
	{http.MethodGet, "stats", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.statsWithRecent(ctx)
	}},
	// Ring changes and reaping (see Jobs).
	{http.MethodGet, "plan", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.plan(ctx, false)
	}},
	{http.MethodDelete, "plan", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.cancelPlan(ctx)
	}},
	{http.MethodGet, "transfers", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.plan(ctx, true)
	}},
	{http.MethodPost, "commit", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.commit(ctx)
	}},
	{http.MethodPost, "reap", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.reap(ctx)
	}},
	{http.MethodDelete, "cleanups/{node}", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, a []string) Response {
		return h.forgetCleanups(ctx, a[0])
	}},
	{http.MethodPost, "context-key/rotate", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.rotateContextKey(ctx)
	}},
	// Membership.
	{http.MethodGet, "nodes", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.nodes(ctx)
	}},
	{http.MethodPost, "nodes", func(h *Handler, ctx context.Context, req events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.addNode(ctx, req)
	}},
	{http.MethodDelete, "nodes/{id}", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, a []string) Response {
		return h.changeCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNodeAt(c, a[0], time.Now()) })
	}},
	{http.MethodPut, "nodes/{id}/state", func(h *Handler, ctx context.Context, req events.APIGatewayV2HTTPRequest, a []string) Response {
		var body struct {
			State kv.NodeState `json:"state"`
		}
		if r := decodeJSON(req, &body); r != nil {
			return *r
		}
		return h.changeCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) { return membership.SetStateAt(c, a[0], body.State, time.Now()) })
	}},
	{http.MethodGet, "ring", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.ring(ctx)
	}},
	{http.MethodPost, "repair", func(h *Handler, ctx context.Context, _ events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.repair(ctx)
	}},
	// Fault injection (403 faults_disabled when off).
	{http.MethodGet, "faults", func(h *Handler, ctx context.Context, req events.APIGatewayV2HTTPRequest, _ []string) Response {
		return h.faults(ctx, http.MethodGet, nil, req)
	}},
	{http.MethodPut, "faults/{node}", func(h *Handler, ctx context.Context, req events.APIGatewayV2HTTPRequest, a []string) Response {
		return h.faults(ctx, http.MethodPut, a, req)
	}},
	{http.MethodDelete, "faults/{node}", func(h *Handler, ctx context.Context, req events.APIGatewayV2HTTPRequest, a []string) Response {
		return h.faults(ctx, http.MethodDelete, a, req)
	}},
}

// match reports whether rest (the path below /admin/) fits pattern, and the
// arguments it captures. Leading and trailing slashes are ignored, except in
// a final "{name...}", which gets the rest of the path as sent.
func (r adminEntry) match(rest string) ([]string, bool) {
	rest = strings.TrimLeft(rest, "/")
	pat := strings.Split(r.pattern, "/")
	segs := strings.Split(strings.TrimRight(rest, "/"), "/")
	var args []string
	for i, p := range pat {
		if strings.HasSuffix(p, "...}") {
			if i < len(segs) {
				head := strings.Join(segs[:i], "/")
				args = append(args, strings.TrimPrefix(strings.TrimPrefix(rest, head), "/"))
			} else {
				args = append(args, "")
			}
			return args, true
		}
		if i >= len(segs) {
			return nil, false
		}
		switch {
		case strings.HasPrefix(p, "{"):
			if segs[i] == "" {
				return nil, false
			}
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, len(segs) == len(pat)
}

// admin dispatches an /admin/ request through adminRoutes: the route whose
// method and pattern match, else 405 with the methods the path has, else 404.
func (h *Handler) admin(ctx context.Context, method, rest string, req events.APIGatewayV2HTTPRequest) Response {
	var allow []string
	for _, r := range adminRoutes {
		args, ok := r.match(rest)
		if !ok {
			continue
		}
		if r.method == method {
			return r.handle(h, ctx, req, args)
		}
		allow = append(allow, r.method)
	}
	if len(allow) > 0 {
		return methodNotAllowed(strings.Join(allow, ", "))
	}
	return errorResponse(http.StatusNotFound, client.CodeNoRoute, "no such admin route")
}
