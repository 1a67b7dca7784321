package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmokeKumo runs the whole benchmark for about a second against the
// in-process kumo server and checks the result files and their fields. It
// asserts no latency or throughput figure: those depend on the machine.
func TestSmokeKumo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark for a few seconds")
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Endpoints = []string{EndpointKumo}
	cfg.Concurrency = 2
	cfg.Records = 40
	cfg.PhaseDuration = 250 * time.Millisecond
	cfg.CalibrateDuration = 200 * time.Millisecond
	cfg.DegradedDuration = 200 * time.Millisecond
	cfg.ProbeShare = 0.6
	cfg.OutDir = dir
	cfg.LambdaJSON = filepath.Join(dir, "missing.json")
	cfg.Command = "go test"
	var out bytes.Buffer
	res, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Endpoints) != 1 || res.Headline != EndpointKumo {
		t.Fatalf("endpoints %d, headline %q", len(res.Endpoints), res.Headline)
	}
	for _, want := range []string{"get / raw fan-out get", "NOTE:", "request fees", "one node down", "n/a"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Note      string `json:"note"`
		Endpoints []struct {
			Ops        map[string]json.RawMessage `json:"ops"`
			CPUPerOpUs float64                    `json:"cpuPerOpUs"`
			Ratios     map[string]struct {
				P50, P99, P999 *float64
			} `json:"ratios"`
			Fees      []json.RawMessage `json:"feesPerMillionOps"`
			Workloads []struct {
				CPUPerOpUs *float64 `json:"cpuPerOpUs"`
			} `json:"workloads"`
			Degraded *struct{ FailedWrites *int64 } `json:"oneNodeDown"`
			Hedged   json.RawMessage                `json:"hedgedReads"`
			Targets  []json.RawMessage              `json:"targets"`
			Plot     string                         `json:"plot"`
		} `json:"endpoints"`
		Lambda struct {
			Available bool   `json:"available"`
			Note      string `json:"note"`
		} `json:"lambda"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	e := doc.Endpoints[0]
	// The operations run at random; in a second each kind runs a few times,
	// but not necessarily every one: check the ratio names that did.
	if len(e.Ratios) == 0 {
		t.Fatalf("no ratios in %s", data)
	}
	for name, r := range e.Ratios {
		if !strings.Contains(name, "_vs_") || r.P50 == nil || r.P99 == nil || r.P999 == nil {
			t.Errorf("ratio %s: %+v", name, r)
		}
	}
	if _, ok := e.Ops["get"]; !ok {
		t.Error("no get operations")
	}
	if len(e.Fees) == 0 || len(e.Workloads) != 3 || e.Degraded == nil || e.Degraded.FailedWrites == nil || len(e.Hedged) == 0 || len(e.Targets) == 0 {
		t.Errorf("missing sections in %s", data)
	}
	// The process spends CPU on every operation (getrusage's resolution is
	// far below a phase's total).
	if e.CPUPerOpUs <= 0 {
		t.Errorf("cpuPerOpUs %v, want > 0", e.CPUPerOpUs)
	}
	for i, w := range e.Workloads {
		if w.CPUPerOpUs == nil || *w.CPUPerOpUs <= 0 {
			t.Errorf("workload %d: cpuPerOpUs %v, want > 0", i, w.CPUPerOpUs)
		}
	}
	if doc.Lambda.Available || !strings.HasPrefix(doc.Lambda.Note, "n/a") || doc.Note == "" {
		t.Errorf("lambda %+v, note %q", doc.Lambda, doc.Note)
	}
	for _, f := range []string{"bench.md", e.Plot} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "bench.md" && !bytes.Contains(b, []byte("CPU µs/op")) {
			t.Errorf("bench.md has no CPU per operation")
		}
		if f == e.Plot && !bytes.HasPrefix(b, []byte("<svg")) {
			t.Errorf("%s is not an SVG", f)
		}
	}
}
