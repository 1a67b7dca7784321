package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	api "github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/functions/httpapi"
)

// dashboardForwards are the requests the dashboard page makes (functions/
// httpapi/ui/app.js): its files and the admin calls behind its buttons. The
// proxy forwards nothing else: not the data API, not a context-key rotation,
// a reap or a clean-up, which the CLI makes directly. A pattern ending in
// "/" matches one more segment (a node id); below /ui/ and /admin/preflist/
// it matches anything (a file, a key with a "/").
var dashboardForwards = []struct{ method, path string }{
	{http.MethodGet, "/ui"}, {http.MethodHead, "/ui"}, {http.MethodGet, "/ui/"}, {http.MethodHead, "/ui/"},
	{http.MethodGet, "/admin/nodes"}, {http.MethodGet, "/admin/ring"}, {http.MethodGet, "/admin/stats"},
	{http.MethodGet, "/admin/hints"}, {http.MethodGet, "/admin/plan"}, {http.MethodGet, "/admin/transfers"},
	{http.MethodGet, "/admin/preflist/"},
	{http.MethodPost, "/admin/nodes"}, {http.MethodDelete, "/admin/nodes/"},
	{http.MethodPost, "/admin/commit"}, {http.MethodDelete, "/admin/plan"}, {http.MethodPost, "/admin/repair"},
	{http.MethodPut, "/admin/faults/"}, {http.MethodDelete, "/admin/faults/"},
}

// dashboardForwarded reports whether the dashboard makes method on rawPath
// (URL-encoded, below the token).
func dashboardForwarded(method, rawPath string) bool {
	for _, f := range dashboardForwards {
		rest, ok := strings.CutPrefix(rawPath, f.path)
		switch {
		case f.method != method || !ok:
		case !strings.HasSuffix(f.path, "/"):
			if rest == "" {
				return true
			}
		case f.path == "/ui/" || f.path == "/admin/preflist/": // any file; any key (it may hold a /)
			if rest != "" || f.path == "/ui/" {
				return true
			}
		case rest != "" && !strings.Contains(rest, "/"): // one segment: a node id
			return true
		}
	}
	return false
}

// newDashboardToken returns a random per-run token (256 bits, base64url).
func newDashboardToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// guardDashboard serves proxy (which signs with the operator's credentials)
// only to the dashboard page it printed: the request must name this loopback
// server in Host and come from its own origin (httpapi.SameOrigin: a page of
// another site, or one reached by DNS rebinding, is refused); its path must
// start with /TOKEN/ (the per-run token of the printed URL, which other pages
// cannot know); and what follows must be a request the dashboard makes
// (dashboardForwards). Refusals are 403 or 404 with a JSON error body, and
// never reach the API.
func guardDashboard(proxy http.Handler, token string) http.Handler {
	prefix := "/" + token + "/"
	return httpapi.SameOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.URL.EscapedPath()
		if len(raw) < len(prefix) || subtle.ConstantTimeCompare([]byte(raw[:len(prefix)]), []byte(prefix)) != 1 {
			jsonError(w, http.StatusForbidden, api.CodeForbidden,
				"this dashboard proxy serves only the URL it printed (with its per-run token)")
			return
		}
		rest := raw[len(prefix)-1:]
		if !dashboardForwarded(r.Method, rest) {
			jsonError(w, http.StatusNotFound, api.CodeNoRoute,
				"the dashboard proxy forwards only the dashboard's own requests; use the CLI for "+r.Method+" "+rest)
			return
		}
		out := r.Clone(r.Context())
		out.URL.RawPath = rest
		out.URL.Path = strings.TrimPrefix(r.URL.Path, "/"+token)
		out.RequestURI = ""
		proxy.ServeHTTP(w, out)
	}))
}

// jsonError writes the API's JSON error body.
func jsonError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
