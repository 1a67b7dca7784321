package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// emfUnits are the units the EMF specification accepts.
var emfUnits = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true,
	"Megabytes": true, "Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true, "Megabits": true,
	"Gigabits": true, "Terabits": true, "Percent": true, "Count": true, "Bytes/Second": true,
	"Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true,
	"Terabits/Second": true, "Count/Second": true, "None": true,
}

// validateEMF checks one line against the EMF specification's structure and
// returns the decoded record.
func validateEMF(t *testing.T, line string) map[string]any {
	t.Helper()
	if strings.Contains(line, "\n") {
		t.Fatalf("a record spans lines: %q", line)
	}
	var rec map[string]any
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&rec); err != nil {
		t.Fatalf("not a JSON object: %v: %q", err, line)
	}
	aws, ok := rec["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	ts, ok := aws["Timestamp"].(json.Number)
	if _, err := ts.Int64(); !ok || err != nil {
		t.Fatalf("_aws.Timestamp %v is not an integer (ms since the epoch)", aws["Timestamp"])
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics must be a non-empty array: %s", line)
	}
	for _, d := range directives {
		dir, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("directive %v is not an object", d)
		}
		if ns, ok := dir["Namespace"].(string); !ok || ns == "" || len(ns) > 255 {
			t.Fatalf("bad Namespace %v", dir["Namespace"])
		}
		dims, ok := dir["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions must be an array of dimension sets: %v", dir["Dimensions"])
		}
		for _, set := range dims {
			names, ok := set.([]any)
			if !ok || len(names) > 30 {
				t.Fatalf("dimension set %v must be an array of at most 30 names", set)
			}
			for _, n := range names {
				name, _ := n.(string)
				if v, ok := rec[name].(string); !ok || v == "" {
					t.Fatalf("dimension %v has no string value at the top level", n)
				}
			}
		}
		metrics, ok := dir["Metrics"].([]any)
		if !ok || len(metrics) == 0 || len(metrics) > 100 {
			t.Fatalf("Metrics must be an array of 1 to 100 definitions: %v", dir["Metrics"])
		}
		seen := map[string]bool{}
		for _, m := range metrics {
			def, ok := m.(map[string]any)
			name, _ := def["Name"].(string)
			if !ok || name == "" || len(name) > 1024 || seen[name] {
				t.Fatalf("bad or repeated metric definition %v", m)
			}
			seen[name] = true
			if u, ok := def["Unit"]; ok && !emfUnits[u.(string)] {
				t.Fatalf("metric %s: unit %v is not an EMF unit", name, u)
			}
			if _, ok := rec[name].(json.Number); !ok {
				t.Fatalf("metric %s has no numeric value at the top level: %v", name, rec[name])
			}
		}
	}
	return rec
}

func num(t *testing.T, rec map[string]any, name string) float64 {
	t.Helper()
	f, err := rec[name].(json.Number).Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEmitIsValidEMF(t *testing.T) {
	snap := coordinator.Snapshot{QuorumFailures: 2, HintsQueued: 5, HintsDelivered: 1, ReadRepairs: 3, Repairs: 1, RepairRepaired: 4, MaxSiblings: 2}
	var buf bytes.Buffer
	e := New(&buf, func() coordinator.Snapshot { return snap })
	e.now = func() time.Time { return time.UnixMilli(1_700_000_000_123) }
	// The counters moved by these amounts since New.
	snap.QuorumFailures += 1
	snap.HintsQueued += 2
	snap.HintsDelivered += 3
	snap.ReadRepairs += 4
	snap.Repairs += 1
	snap.RepairRepaired += 6
	snap.MaxSiblings = 7
	if err := e.Emit(Request{ID: "req-1", Operation: "put", Status: 503, Latency: 12345 * time.Microsecond}); err != nil {
		t.Fatal(err)
	}
	rec := validateEMF(t, strings.TrimSuffix(buf.String(), "\n"))
	aws := rec["_aws"].(map[string]any)
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if ts, _ := aws["Timestamp"].(json.Number).Int64(); ts != 1_700_000_000_123 || dir["Namespace"] != "Cartwheel" {
		t.Fatalf("timestamp %v namespace %v", aws["Timestamp"], dir["Namespace"])
	}
	want := map[string]float64{
		"Latency": 12.345, "Requests": 1, "ServerErrors": 1, "ClientErrors": 0, "QuorumFailures": 1,
		"HintsQueued": 2, "HintsDelivered": 3, "ReadRepairs": 4, "Repairs": 1, "KeysRepaired": 6, "MaxSiblings": 7,
	}
	for name, v := range want {
		if got := num(t, rec, name); math.Abs(got-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if len(want) != len(Metrics) {
		t.Fatalf("the test checks %d metrics of %d", len(want), len(Metrics))
	}
	if rec["Operation"] != "put" || rec["requestId"] != "req-1" || rec["status"].(json.Number).String() != "503" {
		t.Fatalf("properties: %v", rec)
	}
	// The next record counts from there: nothing moved.
	buf.Reset()
	if err := e.Emit(Request{ID: "req-2", Operation: "get", Status: 404}); err != nil {
		t.Fatal(err)
	}
	rec = validateEMF(t, strings.TrimSpace(buf.String()))
	for _, name := range []string{"QuorumFailures", "HintsQueued", "HintsDelivered", "ReadRepairs", "Repairs", "KeysRepaired", "ServerErrors"} {
		if num(t, rec, name) != 0 {
			t.Errorf("%s = %v on the second record, want 0", name, rec[name])
		}
	}
	if num(t, rec, "ClientErrors") != 1 || num(t, rec, "MaxSiblings") != 7 {
		t.Fatalf("second record: %v", rec)
	}
}

func TestEmitWithoutStats(t *testing.T) {
	var buf bytes.Buffer
	if err := New(&buf, nil).Emit(Request{Operation: "ui", Status: 200}); err != nil {
		t.Fatal(err)
	}
	rec := validateEMF(t, strings.TrimSpace(buf.String()))
	if num(t, rec, "QuorumFailures") != 0 || num(t, rec, "Requests") != 1 {
		t.Fatalf("%v", rec)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWrap(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, func() coordinator.Snapshot { return coordinator.Snapshot{} })
	h := e.Wrap(func(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if req.RequestContext.HTTP.Path == "/boom" {
			return events.APIGatewayV2HTTPResponse{}, errors.New("boom")
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
	})
	req := events.APIGatewayV2HTTPRequest{RawPath: "/kv/a"}
	req.RequestContext.RequestID = "abc"
	req.RequestContext.HTTP.Method = "PUT"
	if r, err := h(context.Background(), req); err != nil || r.StatusCode != 204 {
		t.Fatalf("%+v %v", r, err)
	}
	req.RawPath = ""
	req.RequestContext.HTTP.Path = "/boom"
	if _, err := h(context.Background(), req); err == nil {
		t.Fatal("the handler's error was swallowed")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d records for 2 requests", len(lines))
	}
	first, second := validateEMF(t, lines[0]), validateEMF(t, lines[1])
	if first["Operation"] != "put" || first["requestId"] != "abc" || second["Operation"] != "other" || num(t, second, "ServerErrors") != 1 {
		t.Fatalf("records: %v / %v", first, second)
	}
	// A failing writer never fails the request.
	h = New(failingWriter{}, nil).Wrap(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	})
	if r, err := h(context.Background(), req); err != nil || r.StatusCode != 200 {
		t.Fatalf("%+v %v", r, err)
	}
	if err := New(failingWriter{}, nil).Emit(Request{}); err == nil {
		t.Fatal("Emit hid the write error")
	}
}

func TestOperation(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/kv/a", "get"}, {"HEAD", "/kv/a", "get"}, {"PUT", "/kv/a", "put"}, {"POST", "/kv/a", "put"},
		{"DELETE", "/kv/a", "delete"}, {"PATCH", "/kv/a", "other"}, {"GET", "/kv", "get"},
		{"GET", "/admin/stats", "admin/stats"}, {"PUT", "/admin/faults/n1", "admin/faults"},
		{"GET", "/admin/preflist/a/b", "admin/preflist"}, {"POST", "/admin/commit", "admin/commit"}, {"GET", "/admin/zzz", "admin/other"},
		{"GET", "/ui", "ui"}, {"GET", "/ui/app.js", "ui"}, {"GET", "/", "other"},
	} {
		if got := Operation(c.method, c.path); got != c.want {
			t.Errorf("Operation(%s, %s) = %s, want %s", c.method, c.path, got, c.want)
		}
	}
}
