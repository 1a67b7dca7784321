// Package httpapi is Cartwheel's HTTP API as an API Gateway HTTP API (payload
// v2) handler. The api Lambda function serves it directly; the local server
// (cartwheel serve) translates plain HTTP requests into the same events and
// calls the same handler, so both speak exactly the same protocol.
//
// Routes:
//
//	GET    /kv/{key}            200 value | 300 siblings (JSON) | 304 | 404 (HEAD: no body)
//	PUT    /kv/{key}            204, X-Cartwheel-Context: the new context (POST: alias)
//	DELETE /kv/{key}            204
//	GET    /keys                {"keys": [...], "next": TOKEN}: live keys in byte order (?prefix, limit, after)
//	GET    /healthz             200 {"status": "ok"}: the process answers
//	GET    /readyz              200 or 503 {"status", "checks"}: membership fresh, a quorum of every replica set reachable
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
//	POST   /admin/context-key/rotate  a new context key (the previous one accepted for 24 h)
//	GET    /ui                  the dashboard (embedded HTML, CSS, JavaScript)
//
// Errors are JSON {"error": "<code>", "message": "..."} with a 4xx or 5xx status.
//
// Files: routes.go (the route table, which template.yaml must match), kv.go
// and kvopts.go (the key-value routes and their options), keys.go (the key
// listing and the health checks), payload.go
// (responses that fit Lambda), admin.go, ringchange.go, plan_cancel.go,
// contextkey.go, dashboard.go and ui.go (the admin routes), respond.go
// (responses and errors), local.go (net/http for the local server), origin.go
// (the local server's Host and Origin checks), endpoint.go (where a node may
// live), caller.go (who made a request; the admin route's IAM check).
package httpapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/nodestats"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/infra/recent"
)

// ContextHeader carries the opaque causal context between get and put.
const ContextHeader = client.ContextHeader

// Jobs are the repair job's operations that the admin API runs on demand
// (jobs.Repairer implements them). A nil Deps.Jobs means this process runs
// none: POST /admin/repair then only drains hints, and commit and reap
// answer 501.
type Jobs interface {
	// Repair runs transfers (and the commit of a finished ring change),
	// anti-entropy and hint delivery.
	Repair(ctx context.Context) (repair.Report, error)
	// Plan returns the pending ring change and its transfer progress.
	Plan(ctx context.Context) (repair.Plan, error)
	// Commit finishes the transfers and commits the change; it fails with
	// membership.ErrNoPlan or repair.ErrTransfersPending.
	Commit(ctx context.Context) (repair.Report, error)
	// Reap removes tombstones where it is safe.
	Reap(ctx context.Context) (repair.Report, error)
}

// Deps are what the handler serves.
type Deps struct {
	Coord   *coordinator.Coordinator
	Members kv.Membership
	Hints   kv.HintQueue
	// Faults is nil when fault injection is disabled.
	Faults *faults.Store
	// Recent is this process's recent activity (the coordinator's Observer),
	// shown by /admin/stats and the dashboard; nil: an empty series.
	Recent *recent.Series
	// Jobs runs the repair job's operations; nil when this process runs none.
	Jobs Jobs
	// HintWait is the receive wait used when draining hints.
	HintWait time.Duration
	Log      *slog.Logger
	// Limits bound request sizes (the coordinator checks them too).
	Limits kv.Limits
	// NodeStats, if set, counts each node's replica requests (GET
	// /admin/stats shows them under "nodes").
	NodeStats *nodestats.Store
	// Endpoints says where a node added through the admin API may live
	// (POST /admin/nodes): the zero value allows only AWS S3 endpoints of
	// the partition of an empty region, i.e. the aws partition.
	Endpoints EndpointPolicy
	// RequireIAMForAdmin (the api Lambda function) serves the admin API and
	// the dashboard only when API Gateway matched the request to their route
	// and its IAM authorizer ran; the local server leaves it off.
	RequireIAMForAdmin bool
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
	if d.Recent == nil {
		d.Recent = recent.New(time.Now)
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
		"status", resp.StatusCode, "ms", float64(time.Since(start).Microseconds())/1000, "caller", Caller(req))
	h.logAdminAction(ctx, method, logPath, req, resp.StatusCode)
	return resp, nil
}
