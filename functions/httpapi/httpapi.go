// Package httpapi is Cartwheel's HTTP API as an API Gateway HTTP API (payload
// v2) handler. The api Lambda function serves it directly; the local server
// (cartwheel serve) translates plain HTTP requests into the same events and
// calls the same handler, so both speak exactly the same protocol.
//
// Routes:
//
//	GET    /kv/{key}            200 value | 300 siblings (JSON) | 404
//	PUT    /kv/{key}            204, X-Cartwheel-Context: the new context
//	DELETE /kv/{key}            204
//	GET    /admin/nodes         {"nodes": [...]}
//	POST   /admin/nodes         plan adding a node: {"id", "zone", "weight"}
//	DELETE /admin/nodes/{id}    plan removing a node
//	GET    /admin/ring          ring parameters and partition owners
//	POST   /admin/repair        transfers, anti-entropy and hint delivery, now
//	GET    /admin/stats         counters and latency percentiles
//	GET    /admin/faults        injected faults
//	PUT    /admin/faults/{node} {"mode": "down"|"slow"|"errors", "latencyMs", "rate"}
//	DELETE /admin/faults/{node} clear
//	PUT    /admin/nodes/{id}/state {"state": "active"|"down"|"leaving"}
//	GET    /admin/plan          the pending ring change
//	DELETE /admin/plan          cancel it
//	GET    /admin/transfers     its transfer progress
//	POST   /admin/commit        finish the transfers and switch ownership
//	POST   /admin/reap          remove tombstones where safe
//	GET    /admin/preflist/{key} the key's preference list
//	GET    /admin/hints         hinted replicas held per node
//	GET    /ui                  the dashboard (embedded HTML, CSS, JavaScript)
//
// Errors are JSON {"error": "<code>", "message": "..."} with a 4xx or 5xx status.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/nodestats"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/core/ring"
)

// ContextHeader carries the opaque causal context between get and put.
const ContextHeader = client.ContextHeader

// Repairer runs anti-entropy and hint delivery on demand.
type Repairer interface {
	Repair(ctx context.Context) (any, error)
}

// Deps are what the handler serves.
type Deps struct {
	Coord   *coordinator.Coordinator
	Members kv.Membership
	Hints   kv.HintQueue
	// Faults is nil when fault injection is disabled.
	Faults *faults.Store
	// Repair runs on POST /admin/repair; nil drains hints only.
	Repair Repairer
	// HintWait is the receive wait used when draining hints.
	HintWait time.Duration
	Log      *slog.Logger
	// Limits bound request sizes (the coordinator checks them too).
	Limits kv.Limits
	// NodeStats, if set, counts each node's replica requests (GET
	// /admin/stats shows them under "nodes").
	NodeStats *nodestats.Store
	// RequestLogLevel is the level of the line logged per request (zero:
	// Info, as in Lambda; the local server uses Debug). 5xx answers are
	// logged at Warn at least.
	RequestLogLevel slog.Level
}

// Handler serves API Gateway v2 HTTP events.
type Handler struct {
	d Deps
}

// New returns a handler.
func New(d Deps) *Handler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Limits.MaxKeyBytes == 0 {
		d.Limits = kv.DefaultLimits()
	}
	return &Handler{d: d}
}

// Response is the handler's reply (an alias kept for readability).
type Response = events.APIGatewayV2HTTPResponse

// Handle serves one request. It never returns an error: failures are HTTP
// responses (a Lambda error would become an opaque 500 from API Gateway).
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (Response, error) {
	start := time.Now()
	method := req.RequestContext.HTTP.Method
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	resp := fitLambda(h.route(ctx, method, path, req))
	logPath := path
	if len(logPath) > 200 {
		logPath = logPath[:200] + "..."
	}
	level := h.d.RequestLogLevel
	if resp.StatusCode >= 500 {
		level = max(level, slog.LevelWarn) // server errors stay visible
	}
	h.d.Log.Log(ctx, level, "request", "requestId", req.RequestContext.RequestID, "method", method, "path", logPath,
		"status", resp.StatusCode, "ms", float64(time.Since(start).Microseconds())/1000)
	return resp, nil
}

// ---- key-value routes ------------------------------------------------------------

func header(req events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// sibling is one version in a JSON get response.
type sibling struct {
	Value       string `json:"value"` // base64
	ContentType string `json:"contentType"`
	Timestamp   int64  `json:"timestamp"` // Unix ms of the write
}

// getBody is the JSON get response.
type getBody struct {
	Context  string    `json:"context"`
	Siblings []sibling `json:"siblings"`
}

func wantsJSON(req events.APIGatewayV2HTTPRequest) bool {
	return strings.Contains(header(req, "Accept"), "application/json")
}

func (h *Handler) get(ctx context.Context, key string, req events.APIGatewayV2HTTPRequest) Response {
	opt, bad := kvOptions(req.RequestContext.HTTP.Method, req)
	if bad != nil {
		return *bad
	}
	g, err := h.d.Coord.Get(ctx, key, opt)
	if err != nil {
		return h.fail(err)
	}
	if !g.Found() {
		r := errorResponse(http.StatusNotFound, "not_found", "no value for this key")
		if g.Context != "" {
			r.Headers[ContextHeader] = g.Context // a re-create with it supersedes the delete
		}
		return r
	}
	etag := versionsETag(g.Siblings)
	if inm := header(req, "If-None-Match"); inm != "" && etagMatches(inm, etag) {
		return Response{StatusCode: http.StatusNotModified, Headers: map[string]string{"ETag": etag, ContextHeader: g.Context}}
	}
	if r, done := largeGet(g, req); done { // ?sibling=, or too large for one Lambda response
		if r.StatusCode == http.StatusMultipleChoices {
			r.Headers["ETag"] = etag
		}
		return r
	}
	r := h.getResponse(g, wantsJSON(req))
	r.Headers["ETag"] = etag
	return r
}

// getResponse renders a get's result: the raw value, or JSON for siblings
// (or when asked).
func (h *Handler) getResponse(g coordinator.GetResult, asJSON bool) Response {
	if len(g.Siblings) == 1 && !asJSON {
		s := g.Siblings[0]
		ct := s.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		return Response{
			StatusCode:      http.StatusOK,
			Headers:         map[string]string{"Content-Type": ct, ContextHeader: g.Context},
			Body:            base64.StdEncoding.EncodeToString(s.Value),
			IsBase64Encoded: true,
		}
	}
	body := jsonBody(g)
	status := http.StatusOK
	if len(g.Siblings) > 1 {
		status = http.StatusMultipleChoices
	}
	r := jsonResponse(status, body)
	r.Headers[ContextHeader] = g.Context
	return r
}

// jsonBody is the JSON form of a get's result.
func jsonBody(g coordinator.GetResult) getBody {
	body := getBody{Context: g.Context, Siblings: []sibling{}}
	for _, s := range g.Siblings {
		body.Siblings = append(body.Siblings, sibling{Value: base64.StdEncoding.EncodeToString(s.Value), ContentType: s.ContentType, Timestamp: s.Time})
	}
	return body
}

func requestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	return base64.StdEncoding.DecodeString(req.Body)
}

func (h *Handler) put(ctx context.Context, key string, req events.APIGatewayV2HTTPRequest) Response {
	opt, bad := kvOptions(req.RequestContext.HTTP.Method, req)
	if bad != nil {
		return *bad
	}
	body, err := requestBody(req)
	if err != nil {
		return errorResponse(http.StatusBadRequest, "bad_request", "the body is not valid base64")
	}
	ct := header(req, "Content-Type")
	p, err := h.d.Coord.Put(ctx, key, header(req, ContextHeader), coordinator.Value{Data: body, ContentType: ct}, opt)
	if err != nil {
		return h.fail(err)
	}
	return putResponse(p)
}

// putResponse answers a put or delete: 204 with the new context, or, with
// returnbody, 200 with the JSON a get gives (every sibling after the write)
// and that body's context in the header too.
func putResponse(p coordinator.PutResult) Response {
	if p.Body != nil {
		r := jsonResponse(http.StatusOK, jsonBody(*p.Body))
		if FullGetSize(*p.Body, true) > MaxResponseBytes-ListingMargin {
			r = jsonResponse(http.StatusOK, listing(*p.Body)) // values too large for one response: fetch each with ?sibling=
		}
		if p.Body.Context != "" {
			r.Headers[ContextHeader] = p.Body.Context
		}
		if p.Body.Found() {
			r.Headers["ETag"] = versionsETag(p.Body.Siblings)
		}
		return r
	}
	r := Response{StatusCode: http.StatusNoContent, Headers: map[string]string{}}
	if p.Context != "" {
		r.Headers[ContextHeader] = p.Context
	}
	return r
}

func (h *Handler) del(ctx context.Context, key string, req events.APIGatewayV2HTTPRequest) Response {
	opt, bad := kvOptions(req.RequestContext.HTTP.Method, req)
	if bad != nil {
		return *bad
	}
	p, err := h.d.Coord.Delete(ctx, key, header(req, ContextHeader), opt)
	if err != nil {
		return h.fail(err)
	}
	return putResponse(p)
}

// fail maps a coordinator error to a response; internal details are logged,
// never sent.
func (h *Handler) fail(err error) Response {
	var qe *kv.QuorumError
	switch {
	case errors.Is(err, kv.ErrBadKey):
		return errorResponse(http.StatusBadRequest, "bad_key", err.Error())
	case errors.Is(err, kv.ErrBadContext):
		return errorResponse(http.StatusBadRequest, "bad_context", err.Error())
	case errors.Is(err, kv.ErrBadRequest):
		return errorResponse(http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, kv.ErrValueTooLarge):
		return errorResponse(http.StatusRequestEntityTooLarge, "value_too_large", err.Error())
	case errors.Is(err, coordinator.ErrConditionFailed):
		return errorResponse(http.StatusPreconditionFailed, "precondition_failed", err.Error())
	case errors.Is(err, kv.ErrTooManySiblings):
		return errorResponse(http.StatusConflict, "too_many_siblings", err.Error())
	case errors.As(err, &qe):
		h.d.Log.Warn("quorum not reached", "err", err)
		r := jsonResponse(http.StatusServiceUnavailable, map[string]any{
			"error":   "quorum_failed",
			"message": fmt.Sprintf("%s: %d of %d required replicas answered", qe.Op, qe.Got, qe.Need),
			"got":     qe.Got,
			"need":    qe.Need,
		})
		r.Headers["Retry-After"] = "1"
		return r
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorResponse(http.StatusServiceUnavailable, "timeout", "the request timed out before a quorum answered")
	}
	h.d.Log.Error("internal error", "err", err)
	return errorResponse(http.StatusInternalServerError, "internal", "internal error; see the server log")
}

// ---- admin routes ------------------------------------------------------------------

type nodeView struct {
	ID          string         `json:"id"`
	Zone        string         `json:"zone"`
	Weight      int            `json:"weight"`
	State       kv.NodeState   `json:"state"`
	Suspect     bool           `json:"suspect"`
	Incarnation uint64         `json:"incarnation"`
	Partitions  int            `json:"partitions"`
	Location    kv.Location    `json:"location"`
	Fault       *faults.Mode   `json:"fault,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"`
}

func (h *Handler) admin(ctx context.Context, method, rest string, req events.APIGatewayV2HTTPRequest) Response {
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	// ---- dashboard (ui.go): a key's preference list, the hinted replicas
	// held per node, and /admin/stats with the recent rates.
	case parts[0] == "preflist" && method == http.MethodGet:
		return h.preflist(ctx, strings.TrimPrefix(strings.TrimPrefix(rest, "preflist"), "/"))
	case parts[0] == "hints" && len(parts) == 1 && method == http.MethodGet:
		return h.heldHints(ctx)
	case parts[0] == "stats" && len(parts) == 1 && method == http.MethodGet:
		return h.statsWithRecent(ctx)
	case parts[0] == "preflist" || parts[0] == "hints":
		return methodNotAllowed("GET")
	// ---- end of the dashboard's routes
	// ---- ring changes and reaping (see Planner and Reaper)
	case parts[0] == "plan" && len(parts) == 1 && method == http.MethodGet:
		return h.plan(ctx, false)
	case parts[0] == "transfers" && len(parts) == 1 && method == http.MethodGet:
		return h.plan(ctx, true)
	case parts[0] == "commit" && len(parts) == 1 && method == http.MethodPost:
		return h.commit(ctx)
	case parts[0] == "reap" && len(parts) == 1 && method == http.MethodPost:
		return h.reap(ctx)
	case parts[0] == "plan" && len(parts) == 1 && method == http.MethodDelete:
		return h.cancelPlan(ctx)
	case parts[0] == "plan":
		return methodNotAllowed("GET, DELETE")
	case parts[0] == "transfers":
		return methodNotAllowed("GET")
	case parts[0] == "commit" || parts[0] == "reap":
		return methodNotAllowed("POST")
	// ---- end of the ring-change routes
	case parts[0] == "context-key" && len(parts) == 2 && parts[1] == "rotate" && method == http.MethodPost:
		return h.rotateContextKey(ctx)
	case parts[0] == "context-key" && len(parts) == 2 && parts[1] == "rotate":
		return methodNotAllowed("POST")
	case parts[0] == "nodes" && len(parts) == 1 && method == http.MethodGet:
		return h.nodes(ctx)
	case parts[0] == "nodes" && len(parts) == 1 && method == http.MethodPost:
		return h.addNode(ctx, req)
	case parts[0] == "nodes" && len(parts) == 2 && method == http.MethodDelete:
		return h.changeCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, parts[1]) })
	case parts[0] == "nodes" && len(parts) == 3 && parts[2] == "state" && method == http.MethodPut:
		var body struct {
			State kv.NodeState `json:"state"`
		}
		if r := decodeJSON(req, &body); r != nil {
			return *r
		}
		return h.changeCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) { return membership.SetState(c, parts[1], body.State) })
	case parts[0] == "ring" && len(parts) == 1 && method == http.MethodGet:
		return h.ring(ctx)
	case parts[0] == "repair" && len(parts) == 1 && method == http.MethodPost:
		return h.repair(ctx)
	case parts[0] == "stats" && len(parts) == 1 && method == http.MethodGet:
		return h.stats(ctx)
	case parts[0] == "faults":
		return h.faults(ctx, method, parts[1:], req)
	case parts[0] == "nodes" || parts[0] == "ring" || parts[0] == "repair" || parts[0] == "stats":
		if allow := adminAllow(parts); allow != "" {
			return methodNotAllowed(allow)
		}
	}
	return errorResponse(http.StatusNotFound, "no_route", "no such admin route")
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
	out := make([]nodeView, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		v := nodeView{ID: n.ID, Zone: n.Zone, Weight: n.Weight, State: n.State, Suspect: suspect[n.ID],
			Incarnation: n.Incarnation, Partitions: owned[n.ID], Location: n.Location}
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
	return h.changeCluster(ctx, func(c kv.Cluster) (kv.Cluster, error) {
		loc := kv.Location{}
		if body.Location != nil {
			loc = *body.Location
		} else if len(c.Nodes) > 0 {
			loc = c.Nodes[0].Location
			loc.Prefix = "nodes/" + body.ID + "/"
		}
		return membership.AddNode(c, kv.Node{ID: body.ID, Zone: body.Zone, Weight: body.Weight, Location: loc})
	})
}

// changeCluster applies f to the stored cluster with a conditional save,
// retrying on a concurrent change.
func (h *Handler) changeCluster(ctx context.Context, f func(kv.Cluster) (kv.Cluster, error)) Response {
	prev, next, bad := h.saveCluster(ctx, f)
	if bad != nil {
		return *bad
	}
	return jsonResponse(http.StatusOK, map[string]any{"epoch": next.Epoch, "moved": moved(prev.Owners, planned(next))})
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
			r := errorResponse(http.StatusBadRequest, "bad_request", err.Error())
			if errors.Is(err, kv.ErrNoNode) {
				r = errorResponse(http.StatusNotFound, "no_such_node", err.Error())
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
	r := errorResponse(http.StatusConflict, "conflict", "membership kept changing; try again")
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

func (h *Handler) repair(ctx context.Context) Response {
	if h.d.Repair != nil {
		res, err := h.d.Repair.Repair(ctx)
		if err != nil {
			return h.fail(err)
		}
		return jsonResponse(http.StatusOK, res)
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
		return errorResponse(http.StatusForbidden, "faults_disabled", "fault injection is disabled (enable it with the FaultInjection parameter or serve --faults)")
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
		return errorResponse(http.StatusNotFound, "no_route", "use /admin/faults/{node}")
	}
	var m faults.Mode
	switch method {
	case http.MethodPut:
		if r := decodeJSON(req, &m); r != nil {
			return *r
		}
		if m.Kind == "" {
			return errorResponse(http.StatusBadRequest, "bad_request", `"mode" is required: down, slow or errors`)
		}
		if m.Kind == "slow" && m.LatencyMs <= 0 {
			return errorResponse(http.StatusBadRequest, "bad_request", `a slow fault needs "latencyMs" > 0, e.g. {"mode": "slow", "latencyMs": 200}`)
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

// ---- helpers -------------------------------------------------------------------------

const maxAdminBody = 64 << 10

func decodeJSON(req events.APIGatewayV2HTTPRequest, dst any) *Response {
	body, err := requestBody(req)
	if err != nil || len(body) > maxAdminBody {
		r := errorResponse(http.StatusBadRequest, "bad_json", "the body must be a JSON object of at most 64 KiB")
		return &r
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		r := errorResponse(http.StatusBadRequest, "bad_json", "invalid JSON body: "+err.Error())
		return &r
	}
	if dec.More() {
		r := errorResponse(http.StatusBadRequest, "bad_json", "trailing data after the JSON object")
		return &r
	}
	return nil
}

func jsonResponse(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "internal", "could not encode the response")
	}
	return Response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

func errorResponse(status int, code, msg string) Response {
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	return Response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

func methodNotAllowed(allow string) Response {
	r := errorResponse(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed; use "+allow)
	r.Headers["Allow"] = allow
	return r
}

// ---- dashboard routes (see ui.go) ----------------------------------------------------

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
		return errorResponse(http.StatusBadRequest, "bad_key", "the key is not a valid URL-encoded string")
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
	extra := map[string]any{"recent": h.d.Coord.Stats().Recent(), "suspects": h.d.Coord.Suspects()}
	if per := h.perNode(ctx); per != nil {
		extra["nodes"] = per
	}
	for k, v := range extra {
		b, _ := json.Marshal(v) // plain numbers and strings: cannot fail
		out[k] = b
	}
	return jsonResponse(http.StatusOK, out)
}

// ---- ring changes and reaping -------------------------------------------------------

// Planner is implemented by a Deps.Repair that carries out ring changes
// (jobs.Repairer): adding or removing a node only plans the change (see
// membership.AddNode); the repair job transfers the moving partitions and
// commits it.
type Planner interface {
	// Plan returns the pending change and its transfer progress.
	Plan(ctx context.Context) (repair.Plan, error)
	// Commit finishes the transfers and commits the change; it fails with
	// membership.ErrNoPlan or repair.ErrTransfersPending.
	Commit(ctx context.Context) (repair.Report, error)
}

// Reaper is implemented by a Deps.Repair that reaps tombstones.
type Reaper interface {
	Reap(ctx context.Context) (repair.Report, error)
}

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
func (h *Handler) plan(ctx context.Context, moves bool) Response {
	var p repair.Plan
	var err error
	if pl, ok := h.d.Repair.(Planner); ok {
		p, err = pl.Plan(ctx)
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
	}
	return jsonResponse(http.StatusOK, out)
}

// commit serves POST /admin/commit: transfer what remains of the pending
// ring change and commit it (409 while transfers remain, or with no change).
func (h *Handler) commit(ctx context.Context) Response {
	pl, ok := h.d.Repair.(Planner)
	if !ok {
		return errorResponse(http.StatusNotImplemented, "not_available", "this server does not run the repair job that commits ring changes")
	}
	rep, err := pl.Commit(ctx)
	switch {
	case errors.Is(err, membership.ErrNoPlan):
		return errorResponse(http.StatusConflict, "no_plan", "no ring change is pending")
	case errors.Is(err, repair.ErrTransfersPending):
		return jsonResponse(http.StatusConflict, map[string]any{
			"error":     "transfers_pending",
			"message":   fmt.Sprintf("%d of %d moving partitions transferred; run it again", rep.Transfers.Done, rep.Transfers.Moves),
			"transfers": rep.Transfers,
		})
	case err != nil:
		return h.fail(err)
	}
	h.d.Coord.Invalidate()
	return jsonResponse(http.StatusOK, rep)
}

// reap serves POST /admin/reap: compare every partition and reap the deleted
// keys that may be (one GET per key: see repair.Repairer.Reap).
func (h *Handler) reap(ctx context.Context) Response {
	r, ok := h.d.Repair.(Reaper)
	if !ok {
		return errorResponse(http.StatusNotImplemented, "not_available", "this server does not run the repair job")
	}
	rep, err := r.Reap(ctx)
	if err != nil {
		return h.fail(err)
	}
	return jsonResponse(http.StatusOK, rep)
}
