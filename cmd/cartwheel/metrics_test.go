package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads GET /metrics with the Prometheus library's own parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	r := call(t, "GET", base+"/metrics", nil)
	if r.status != 200 {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("GET /metrics is not the Prometheus text format: %v\n%s", err, r.body)
	}
	return fams
}

// sample returns the value of the family's metric with the given labels
// (counter, gauge or a histogram's count), and whether it exists.
func sample(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics: GET /metrics on cartwheel serve is the Prometheus text format
// and holds what the requests did: requests by operation and status, latency
// histograms, the coordinator's counters equal to /admin/stats's, per-node
// replica requests and the hint queue.
func TestMetrics(t *testing.T) {
	base := startServer(t, "")
	kv := base + "/kv/" + url.PathEscape("metrics key")
	for range 3 {
		if r := call(t, "PUT", kv, []byte("v")); r.status != 204 {
			t.Fatalf("put: %d %s", r.status, r.body)
		}
	}
	call(t, "GET", kv, nil)
	call(t, "GET", base+"/kv/metrics-absent", nil)
	fams := scrape(t, base)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cartwheel_http_requests_total", map[string]string{"operation": "PUT /kv/{key}", "status": "204"}, 3},
		{"cartwheel_http_requests_total", map[string]string{"operation": "GET /kv/{key}", "status": "404"}, 1},
		{"cartwheel_http_request_duration_seconds", map[string]string{"operation": "PUT /kv/{key}"}, 3},
		{"cartwheel_puts_total", nil, 3},
	} {
		if got, ok := sample(fams, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	var stats struct {
		Coordinator struct{ Gets, BackendPuts int64 }
	}
	if r := call(t, "GET", base+"/admin/stats", nil); r.status != 200 || json.Unmarshal(r.body, &stats) != nil {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	fams = scrape(t, base)
	if got, _ := sample(fams, "cartwheel_gets_total", nil); got != float64(stats.Coordinator.Gets) || got < 2 {
		t.Errorf("cartwheel_gets_total %v, /admin/stats gets %d", got, stats.Coordinator.Gets)
	}
	if got, _ := sample(fams, "cartwheel_backend_puts_total", nil); got < float64(stats.Coordinator.BackendPuts) || got < 6 {
		t.Errorf("cartwheel_backend_puts_total %v, /admin/stats %d", got, stats.Coordinator.BackendPuts)
	}
	total := 0.0
	for _, n := range []string{"n1", "n2", "n3", "n4", "n5"} {
		v, ok := sample(fams, "cartwheel_node_requests_total", map[string]string{"node": n})
		if !ok {
			t.Errorf("no cartwheel_node_requests_total for %s", n)
		}
		total += v
	}
	if total < 6 {
		t.Errorf("node requests total %v, want at least the 6 replica writes", total)
	}
	for _, name := range []string{"cartwheel_hints_queued_total", "cartwheel_hints_delivered_total", "cartwheel_repairs_total", "cartwheel_reaped_total", "cartwheel_node_errors_total", "cartwheel_quorum_failures_total"} {
		if _, ok := sample(fams, name, nil); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if _, ok := sample(fams, "cartwheel_hint_queue_messages", map[string]string{"state": "dead"}); !ok {
		t.Error("cartwheel_hint_queue_messages{state=dead} missing")
	}
}
