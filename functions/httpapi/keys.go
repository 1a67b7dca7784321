// GET /keys (a page of live keys), GET /healthz and GET /readyz.

package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
)

// keysParams are the query parameters GET /keys takes.
var keysParams = []string{client.ParamPrefix, client.ParamLimit, client.ParamAfter}

// keysToken is the "next" of a page: opaque to clients (base64url of the
// listing's snapshot id, a newline and the page's last key), so any key
// travels in a query string unchanged.
func keysToken(c coordinator.ListCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.Snapshot + "\n" + c.After))
}

// keysAfter decodes an "after" token; "" is the start.
func keysAfter(tok string) (coordinator.ListCursor, bool) {
	if tok == "" {
		return coordinator.ListCursor{}, true
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	snap, after, ok := strings.Cut(string(b), "\n")
	if err != nil || !ok || !utf8.ValidString(after) || after == "" {
		return coordinator.ListCursor{}, false
	}
	return coordinator.ListCursor{Snapshot: snap, After: after}, true
}

// keysRoute answers GET /keys?prefix=P&limit=N&after=TOKEN with
// {"keys": [...], "next": TOKEN}; next is empty on the last page.
func keysRoute(h *Handler, ctx context.Context, _, _ string, _ map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	q := req.QueryStringParameters
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(keysParams, name) {
			return errorResponse(http.StatusBadRequest, client.CodeBadRequest,
				fmt.Sprintf("unknown query parameter %q: GET /keys takes %s", name, strings.Join(keysParams, ", ")))
		}
	}
	prefix := q[client.ParamPrefix]
	if !utf8.ValidString(prefix) || len(prefix) > h.d.Limits.MaxKeyBytes {
		return errorResponse(http.StatusBadRequest, client.CodeBadRequest,
			fmt.Sprintf("prefix must be UTF-8 of at most %d bytes", h.d.Limits.MaxKeyBytes))
	}
	limit := client.DefaultKeysLimit
	if s, ok := q[client.ParamLimit]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > client.MaxKeysLimit {
			return errorResponse(http.StatusBadRequest, client.CodeBadRequest,
				fmt.Sprintf("limit=%q must be an integer in [1, %d]", s, client.MaxKeysLimit))
		}
		limit = n
	}
	cur, ok := keysAfter(q[client.ParamAfter])
	if !ok {
		return errorResponse(http.StatusBadRequest, client.CodeBadRequest,
			"after must be the next token of a previous page")
	}
	page, err := h.d.Coord.ListKeys(ctx, prefix, cur, limit)
	if err != nil {
		return h.fail(err)
	}
	h.d.Log.DebugContext(ctx, "key listing", "keys", len(page.Keys), "lists", page.Lists, "gets", page.Gets)
	body := client.KeysPage{Keys: page.Keys}
	if body.Keys == nil {
		body.Keys = []string{}
	}
	if page.More {
		body.Next = keysToken(page.Next)
	}
	return jsonResponse(http.StatusOK, body)
}

// healthzRoute answers GET /healthz: the process answers.
func healthzRoute(_ *Handler, _ context.Context, _, _ string, _ map[string]string, _ events.APIGatewayV2HTTPRequest) Response {
	return jsonResponse(http.StatusOK, client.Health{Status: "ok"})
}

// readyzRoute answers GET /readyz: 200 when membership is loaded and fresh
// and every partition has a quorum of primaries reachable as this process
// sees them; 503 otherwise. Checks says which.
func readyzRoute(h *Handler, ctx context.Context, _, _ string, _ map[string]string, _ events.APIGatewayV2HTTPRequest) Response {
	r := h.d.Coord.Ready(ctx)
	checks := map[string]string{}
	if r.Membership != nil {
		h.d.Log.WarnContext(ctx, "not ready: membership", "err", r.Membership)
		checks["membership"] = "failed: membership is not fresh; see the server log"
	} else {
		checks["membership"] = fmt.Sprintf("ok: read %s ago", r.MembershipAge.Round(1e6))
	}
	switch {
	case r.Partitions == 0:
		checks["replicas"] = "unknown: no ring"
	case r.Short > 0:
		checks["replicas"] = fmt.Sprintf("failed: %d of %d partitions have fewer than %d primaries reachable (out: %s)",
			r.Short, r.Partitions, r.Need, strings.Join(r.Unreachable, ", "))
	default:
		checks["replicas"] = fmt.Sprintf("ok: every partition has %d primaries reachable", r.Need)
		if len(r.Unreachable) > 0 {
			checks["replicas"] += " (out: " + strings.Join(r.Unreachable, ", ") + ")"
		}
	}
	if !r.Ready() {
		return jsonResponse(http.StatusServiceUnavailable, client.Health{Status: "unavailable", Checks: checks})
	}
	return jsonResponse(http.StatusOK, client.Health{Status: "ok", Checks: checks})
}
