// Package metrics writes CloudWatch Embedded Metric Format (EMF) records: one
// JSON line per request on stdout, which Lambda ships to CloudWatch Logs and
// CloudWatch turns into metrics (no PutMetricData call, no extra latency).
//
// Each record carries the request's latency and status, and what the
// coordinator counted since the previous record of this process (quorum
// failures, hints queued and delivered, read repairs, anti-entropy repairs),
// plus the most siblings seen: a Lambda container serves one request at a
// time, so those deltas are the request's own work and any background work
// that finished meanwhile.
//
// See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "Cartwheel"

// OperationDimension names the request kind: get, put, delete, admin/<route>, ui, other.
const OperationDimension = "Operation"

// Metric is one metric definition of an EMF record.
type Metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Metrics lists what every record carries, with units.
var Metrics = []Metric{
	{"Latency", "Milliseconds"},
	{"Requests", "Count"},
	{"ServerErrors", "Count"},
	{"ClientErrors", "Count"},
	{"QuorumFailures", "Count"},
	{"HintsQueued", "Count"},
	{"HintsDelivered", "Count"},
	{"ReadRepairs", "Count"},
	{"Repairs", "Count"},
	{"KeysRepaired", "Count"},
	{"MaxSiblings", "Count"},
}

// Handler is the signature of an API Gateway v2 Lambda handler.
type Handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Emitter writes EMF records. It is safe for concurrent use.
type Emitter struct {
	w     io.Writer
	stats func() coordinator.Snapshot
	now   func() time.Time

	mu   sync.Mutex
	last coordinator.Snapshot
}

// New returns an emitter writing to w (os.Stdout in Lambda), reading the
// coordinator's counters with stats (nil: request metrics only).
func New(w io.Writer, stats func() coordinator.Snapshot) *Emitter {
	e := &Emitter{w: w, stats: stats, now: time.Now}
	if stats != nil {
		e.last = stats()
	}
	return e
}

// Request is what one request did, for Emit.
type Request struct {
	ID        string
	Operation string
	Status    int
	Latency   time.Duration
}

// Emit writes one EMF record for r.
func (e *Emitter) Emit(r Request) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var d, cur coordinator.Snapshot
	if e.stats != nil {
		cur = e.stats()
		d = coordinator.Snapshot{
			QuorumFailures: cur.QuorumFailures - e.last.QuorumFailures,
			HintsQueued:    cur.HintsQueued - e.last.HintsQueued,
			HintsDelivered: cur.HintsDelivered - e.last.HintsDelivered,
			ReadRepairs:    cur.ReadRepairs - e.last.ReadRepairs,
			Repairs:        cur.Repairs - e.last.Repairs,
			RepairRepaired: cur.RepairRepaired - e.last.RepairRepaired,
		}
		e.last = cur
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	rec := map[string]any{
		"_aws": map[string]any{
			"Timestamp": e.now().UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{OperationDimension}},
				"Metrics":    Metrics,
			}},
		},
		OperationDimension: r.Operation,
		"Latency":          float64(r.Latency.Microseconds()) / 1000,
		"Requests":         1,
		"ServerErrors":     b2i(r.Status >= 500),
		"ClientErrors":     b2i(r.Status >= 400 && r.Status < 500),
		"QuorumFailures":   d.QuorumFailures,
		"HintsQueued":      d.HintsQueued,
		"HintsDelivered":   d.HintsDelivered,
		"ReadRepairs":      d.ReadRepairs,
		"Repairs":          d.Repairs,
		"KeysRepaired":     d.RepairRepaired,
		"MaxSiblings":      cur.MaxSiblings,
		// Not metrics: searchable properties of the log line.
		"requestId": r.ID,
		"status":    r.Status,
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}

// Operation names a request's kind for the Operation dimension (few distinct
// values: CloudWatch bills per metric and dimension value).
func Operation(method, path string) string {
	switch {
	case strings.HasPrefix(path, "/kv/") || path == "/kv":
		switch method {
		case "GET", "HEAD":
			return "get"
		case "PUT", "POST":
			return "put"
		case "DELETE":
			return "delete"
		}
		return "other"
	case strings.HasPrefix(path, "/admin/"):
		route, _, _ := strings.Cut(strings.TrimPrefix(path, "/admin/"), "/")
		switch route {
		case "nodes", "ring", "repair", "stats", "faults", "preflist", "hints", "plan", "transfers", "commit", "reap":
			return "admin/" + route
		}
		return "admin/other"
	case path == "/ui" || strings.HasPrefix(path, "/ui/"):
		return "ui"
	}
	return "other"
}

// Wrap returns next emitting one record per request. A failed write is
// ignored: metrics never fail a request.
func (e *Emitter) Wrap(next Handler) Handler {
	return func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		path := req.RawPath
		if path == "" {
			path = req.RequestContext.HTTP.Path
		}
		status := resp.StatusCode
		if err != nil {
			status = 500
		}
		_ = e.Emit(Request{ID: req.RequestContext.RequestID, Operation: Operation(req.RequestContext.HTTP.Method, path),
			Status: status, Latency: time.Since(start)})
		return resp, err
	}
}
