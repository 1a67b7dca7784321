// Package promstats exposes a process's counters in the Prometheus text
// format for GET /metrics on `cartwheel serve`. It reads, at each scrape, the
// same counters GET /admin/stats shows (the coordinator's, each node's replica
// requests, the hint queue's depths), and counts the HTTP requests the server
// answers by operation and status, with latency histograms. Deployed
// functions report CloudWatch EMF instead (functions/metrics).
package promstats

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/nodestats"
)

const namespace = "cartwheel"

// Sources are the counters a scrape reads.
type Sources struct {
	// Coord is the coordinator's counters (required).
	Coord *coordinator.Stats
	// Nodes counts each node's replica requests; nil: none exported.
	Nodes *nodestats.Store
	// Cluster names the nodes' locations (the coordinator's cached view);
	// nil: nothing exported per node.
	Cluster func(context.Context) (kv.Cluster, error)
	// Hints is the hint queue, whose depths a scrape reads; nil: none.
	Hints kv.HintQueue
}

// Metrics is one process's registry: the scrape-time collector and the HTTP
// request counters. It is safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New registers the collectors over src.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by operation (the route, e.g. \"GET /kv/{key}\") and status code.",
		}, []string{"operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency, by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
	}
	m.reg.MustRegister(m.requests, m.latency, &collector{src: src})
	return m
}

// Observe counts one answered request.
func (m *Metrics) Observe(operation string, status int, d time.Duration) {
	m.requests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(operation).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Middleware counts every request next answers; operation names it (the
// route it matched).
func (m *Metrics) Middleware(next http.Handler, operation func(method, path string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		m.Observe(operation(r.Method, r.URL.EscapedPath()), sw.status, time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// counter is one coordinator counter: its name, help and value.
type counter struct {
	name, help string
	value      func(coordinator.Snapshot) int64
}

// coordCounters are the coordinator counters of GET /admin/stats.
var coordCounters = []counter{
	{"gets_total", "Gets served.", func(s coordinator.Snapshot) int64 { return s.Gets }},
	{"puts_total", "Puts served.", func(s coordinator.Snapshot) int64 { return s.Puts }},
	{"deletes_total", "Deletes served.", func(s coordinator.Snapshot) int64 { return s.Deletes }},
	{"quorum_failures_total", "Requests that missed their quorum.", func(s coordinator.Snapshot) int64 { return s.QuorumFailures }},
	{"backend_gets_total", "Replica object reads.", func(s coordinator.Snapshot) int64 { return s.BackendGets }},
	{"backend_puts_total", "Replica object writes.", func(s coordinator.Snapshot) int64 { return s.BackendPuts }},
	{"backend_lists_total", "Replica listings.", func(s coordinator.Snapshot) int64 { return s.BackendLists }},
	{"cas_retries_total", "Conditional writes retried after a lost condition.", func(s coordinator.Snapshot) int64 { return s.CASRetries }},
	{"read_repairs_total", "Read repairs.", func(s coordinator.Snapshot) int64 { return s.ReadRepairs }},
	{"one_round_puts_total", "Puts that wrote every replica in one round.", func(s coordinator.Snapshot) int64 { return s.OneRoundPuts }},
	{"hints_queued_total", "Hints queued.", func(s coordinator.Snapshot) int64 { return s.HintsQueued }},
	{"hints_delivered_total", "Hints delivered.", func(s coordinator.Snapshot) int64 { return s.HintsDelivered }},
	{"corrupt_replicas_total", "Corrupt replica objects read.", func(s coordinator.Snapshot) int64 { return s.CorruptReplicas }},
	{"sibling_rejects_total", "Puts rejected for too many siblings.", func(s coordinator.Snapshot) int64 { return s.SiblingRejects }},
	{"repairs_total", "Repair runs (anti-entropy) in this process.", func(s coordinator.Snapshot) int64 { return s.Repairs }},
	{"repair_keys_compared_total", "Keys anti-entropy compared.", func(s coordinator.Snapshot) int64 { return s.RepairCompared }},
	{"repair_keys_repaired_total", "Keys anti-entropy repaired.", func(s coordinator.Snapshot) int64 { return s.RepairRepaired }},
	{"reaped_total", "Deleted keys whose tombstones were reaped.", func(s coordinator.Snapshot) int64 { return s.Reaped }},
}

var (
	maxSiblingsDesc  = prometheus.NewDesc(namespace+"_max_siblings", "The most siblings a get or put has seen.", nil, nil)
	nodeRequestsDesc = prometheus.NewDesc(namespace+"_node_requests_total", "Replica requests to a node, as this process made them.", []string{"node"}, nil)
	nodeErrorsDesc   = prometheus.NewDesc(namespace+"_node_errors_total", "Replica requests to a node that failed.", []string{"node"}, nil)
	hintQueueDesc    = prometheus.NewDesc(namespace+"_hint_queue_messages", "Messages in the hint queue (visible, in flight) and its dead-letter queue (dead).", []string{"state"}, nil)
	coordDescs       = func() []*prometheus.Desc {
		out := make([]*prometheus.Desc, len(coordCounters))
		for i, c := range coordCounters {
			out[i] = prometheus.NewDesc(namespace+"_"+c.name, c.help, nil, nil)
		}
		return out
	}()
)

// collector reads the sources at each scrape.
type collector struct{ src Sources }

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range coordDescs {
		ch <- d
	}
	ch <- maxSiblingsDesc
	ch <- nodeRequestsDesc
	ch <- nodeErrorsDesc
	ch <- hintQueueDesc
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Coord.Snapshot()
	for i, cc := range coordCounters {
		ch <- prometheus.MustNewConstMetric(coordDescs[i], prometheus.CounterValue, float64(cc.value(s)))
	}
	ch <- prometheus.MustNewConstMetric(maxSiblingsDesc, prometheus.GaugeValue, float64(s.MaxSiblings))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c.src.Nodes != nil && c.src.Cluster != nil {
		if cl, err := c.src.Cluster(ctx); err == nil {
			per := c.src.Nodes.Snapshot()
			for _, n := range cl.Nodes {
				st := per[n.Location]
				ch <- prometheus.MustNewConstMetric(nodeRequestsDesc, prometheus.CounterValue, float64(st.Requests), n.ID)
				ch <- prometheus.MustNewConstMetric(nodeErrorsDesc, prometheus.CounterValue, float64(st.Errors), n.ID)
			}
		}
	}
	if c.src.Hints != nil {
		if qs, err := c.src.Hints.Stats(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(hintQueueDesc, prometheus.GaugeValue, float64(qs.Visible), "visible")
			ch <- prometheus.MustNewConstMetric(hintQueueDesc, prometheus.GaugeValue, float64(qs.InFlight), "in_flight")
			ch <- prometheus.MustNewConstMetric(hintQueueDesc, prometheus.GaugeValue, float64(qs.Dead), "dead")
		}
	}
}
