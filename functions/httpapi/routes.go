package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cartwheel/cartwheel/client"
)

// AuthClass names the authorizer that guards a route when deployed. The
// handler itself never authenticates: API Gateway rejects a request its route's
// authorizer refuses (403 for a missing or bad SigV4 signature, 401 for a bad
// JWT) before the function runs. Locally the server listens on loopback only.
type AuthClass string

const (
	// AuthData follows the template parameter DataApiAuth: AWS_IAM (the
	// default), JWT, or NONE (public).
	AuthData AuthClass = "data"
	// AuthAdmin is AWS_IAM whatever DataApiAuth says.
	AuthAdmin AuthClass = "admin"
	// AuthPreflight is no authorization, for a browser's CORS preflight
	// (OPTIONS, which carries no credentials). The template declares such a
	// route only when the user lists origins in CorsAllowOrigins; without
	// it API Gateway sends OPTIONS to $default, which needs DataApiAuth.
	AuthPreflight AuthClass = "preflight"
)

// DefaultRoute is API Gateway's catch-all route key: requests no other route
// matches (a raw slash in a key, an unknown path or method) reach the handler
// through it, so the handler's own 400/404/405 answers are the same deployed
// and local.
const DefaultRoute = "$default"

// Route is one entry of the route table: an API Gateway HTTP API route key
// (method and path pattern) and its auth class. template.yaml declares exactly
// these routes (TestTemplateRoutesMatchTable checks it).
type Route struct {
	// Method is an HTTP method, or "ANY"; empty for DefaultRoute.
	Method string
	// Pattern is the path in API Gateway syntax: literal segments, {name}
	// (one non-empty segment) and a final {name+} (one or more segments); or
	// DefaultRoute.
	Pattern string
	// Auth is the route's auth class.
	Auth AuthClass
	// serve answers a request the route matched; params holds the raw
	// (still URL-encoded) values of the pattern's variables.
	serve func(h *Handler, ctx context.Context, method, path string, params map[string]string, req events.APIGatewayV2HTTPRequest) Response
}

// Key is the route key as API Gateway writes it ("GET /kv/{key}", "$default").
func (r Route) Key() string {
	if r.Pattern == DefaultRoute {
		return DefaultRoute
	}
	return r.Method + " " + r.Pattern
}

// Keys with a "/" must be URL-encoded (%2F) into the one {key} segment; a raw
// slash is 400 bad_key, deployed (through $default) and locally alike.
// POST is an alias for PUT. HEAD is a GET without the body.
func kvGet(h *Handler, ctx context.Context, _, _ string, p map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	key, bad := kvKey(p["key"])
	if bad != nil {
		return *bad
	}
	return h.get(ctx, key, req)
}

func kvPut(h *Handler, ctx context.Context, _, _ string, p map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	key, bad := kvKey(p["key"])
	if bad != nil {
		return *bad
	}
	return h.put(ctx, key, req)
}

func kvDelete(h *Handler, ctx context.Context, _, _ string, p map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	key, bad := kvKey(p["key"])
	if bad != nil {
		return *bad
	}
	return h.del(ctx, key, req)
}

func adminRoute(h *Handler, ctx context.Context, method, _ string, p map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	return h.admin(ctx, method, p["proxy"], req)
}

// kvPreflight answers a CORS preflight: 204 with the methods /kv/{key}
// takes. Deployed, API Gateway adds the CorsAllowOrigins headers to it.
func kvPreflight(_ *Handler, _ context.Context, _, _ string, _ map[string]string, _ events.APIGatewayV2HTTPRequest) Response {
	return Response{StatusCode: http.StatusNoContent, Headers: map[string]string{"Allow": "GET, HEAD, PUT, POST, DELETE, OPTIONS"}}
}

func uiRoute(h *Handler, _ context.Context, method, path string, _ map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	return h.ui(method, path, req)
}

func kvKey(raw string) (string, *Response) {
	key, err := url.PathUnescape(raw)
	if err != nil {
		r := errorResponse(http.StatusBadRequest, client.CodeBadKey, "the key is not a valid URL-encoded string")
		return "", &r
	}
	return key, nil
}

// routeTable is every route the API serves, in the order they are matched
// (the first route whose method and pattern match wins; DefaultRoute last).
var routeTable = []Route{
	{http.MethodGet, "/kv/{key}", AuthData, kvGet},
	{http.MethodHead, "/kv/{key}", AuthData, kvGet},
	{http.MethodPut, "/kv/{key}", AuthData, kvPut},
	{http.MethodPost, "/kv/{key}", AuthData, kvPut},
	{http.MethodDelete, "/kv/{key}", AuthData, kvDelete},
	{http.MethodOptions, "/kv/{key}", AuthPreflight, kvPreflight},
	// Listing keys and the health checks are data routes: authorized like
	// /kv (DataApiAuth) when deployed.
	{http.MethodGet, "/keys", AuthData, keysRoute},
	{http.MethodGet, "/healthz", AuthData, healthzRoute},
	{http.MethodGet, "/readyz", AuthData, readyzRoute},
	{http.MethodGet, "/crdt/{key}", AuthData, crdtGet},
	{http.MethodPost, "/crdt/{key}", AuthData, crdtPost},
	// The dashboard is an admin tool: its page and its admin calls need IAM
	// (cartwheel dashboard signs them from a local browser).
	{http.MethodGet, "/ui", AuthAdmin, uiRoute},
	{http.MethodHead, "/ui", AuthAdmin, uiRoute},
	{http.MethodGet, "/ui/{proxy+}", AuthAdmin, uiRoute},
	{http.MethodHead, "/ui/{proxy+}", AuthAdmin, uiRoute},
	{"ANY", "/admin/{proxy+}", AuthAdmin, adminRoute},
	{http.MethodGet, "/openapi.json", AuthData, openAPIRoute},
	{"", DefaultRoute, AuthData, nil},
}

// Routes returns the route table (without the handlers).
func Routes() []Route {
	out := make([]Route, len(routeTable))
	for i, r := range routeTable {
		r.serve = nil
		out[i] = r
	}
	return out
}

// Operation names the route a request matches, for metrics: the route key
// ("GET /kv/{key}"; an ANY route with the request's method), or
// DefaultRoute. It never holds a key, so its values are few.
func Operation(method, path string) string {
	for _, r := range routeTable {
		if _, ok := matchPattern(r.Pattern, path); ok && (r.Method == "ANY" || r.Method == method) {
			return method + " " + r.Pattern
		}
	}
	return DefaultRoute
}

// matchPattern matches a raw (URL-encoded) path against a route pattern and
// returns the pattern's variables.
func matchPattern(pattern, path string) (map[string]string, bool) {
	if pattern == DefaultRoute || !strings.HasPrefix(path, "/") {
		return nil, false
	}
	pat := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	params := map[string]string{}
	for i, p := range pat {
		if i >= len(seg) {
			return nil, false
		}
		switch {
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "+}"):
			rest := strings.Join(seg[i:], "/")
			if rest == "" || i != len(pat)-1 {
				return nil, false
			}
			params[p[1:len(p)-2]] = rest
			return params, true
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			if seg[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = seg[i]
		case p != seg[i]:
			return nil, false
		}
	}
	return params, len(seg) == len(pat)
}

// route dispatches a request through routeTable; what no route matches is
// answered as API Gateway's $default route sends it here: 400 bad_key for a
// key path that is not one segment, 405 for a path served with other methods,
// the dashboard's redirect for /ui/, 404 otherwise.
func (h *Handler) route(ctx context.Context, method, path string, req events.APIGatewayV2HTTPRequest) Response {
	var allow []string
	for _, r := range routeTable {
		params, ok := matchPattern(r.Pattern, path)
		if !ok {
			continue
		}
		if r.Method == "ANY" || r.Method == method {
			if bad := h.adminAuthorized(r, req); bad != nil {
				return *bad
			}
			return r.serve(h, ctx, method, path, params, req)
		}
		allow = append(allow, r.Method)
	}
	if len(allow) > 0 {
		sort.Strings(allow)
		return methodNotAllowed(strings.Join(allow, ", "))
	}
	switch {
	case path == "/ui/": // API Gateway: no route has an empty {proxy+}; the redirect to /ui
		return h.ui(method, path, req)
	case path == "/kv" || path == "/kv/":
		return errorResponse(http.StatusBadRequest, client.CodeBadKey, "the key is empty: use /kv/{key}")
	case strings.HasPrefix(path, "/kv/"):
		return errorResponse(http.StatusBadRequest, client.CodeBadKey, "a key is one path segment: URL-encode a '/' in a key as %2F")
	}
	return errorResponse(http.StatusNotFound, client.CodeNoRoute, fmt.Sprintf("no route for %s %s", method, path))
}
