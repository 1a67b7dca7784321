package perf

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmokeLognormal runs the lognormal endpoint with a few samples per kind
// (the real run takes 20,000) and checks that every kind ran exactly that
// many times and that bench.json keeps the field names the README and the
// issue use. It asserts no latency: those depend on the machine.
func TestSmokeLognormal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the lognormal endpoint for a few seconds")
	}
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Endpoints = []string{EndpointLognormal}
	cfg.Lognormal.SamplesPerKind, cfg.Lognormal.Concurrency, cfg.Lognormal.Records, cfg.Lognormal.TimeScale = 12, 16, 50, 1
	cfg.OutDir, cfg.LambdaJSON, cfg.Command = dir, filepath.Join(dir, "missing.json"), "go test"
	var out bytes.Buffer
	if _, err := Run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Slow replica: n1 10x slower", "read-modify-write put p99.9 / one PUT p99.9"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Endpoints []struct {
			Ops map[string]struct {
				Service struct {
					Count int64 `json:"count"`
				} `json:"service"`
				RequestsPerOp *struct {
					Get, Put *float64
				} `json:"requestsPerOp"`
			} `json:"ops"`
			Ratios    map[string]struct{ P50, P99, P999 *float64 } `json:"ratios"`
			Lognormal *struct {
				CPUPerOpUs  *float64 `json:"cpuPerOpUs"`
				SlowReplica *struct {
					P999VsHealthy map[string]float64 `json:"p999VsHealthy"`
				} `json:"slowReplica"`
			} `json:"lognormal"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	e := doc.Endpoints[0]
	for _, k := range []string{kRawGet, kRawPut, kRawFanGet, kRawFanPut, kRMWPut, kBlindPut, kPut33} {
		if n := e.Ops[k].Service.Count; n != 12 {
			t.Errorf("%s ran %d times, want 12", k, n)
		}
		if e.Ops[k].RequestsPerOp == nil || e.Ops[k].RequestsPerOp.Put == nil {
			t.Errorf("%s: no requests per operation", k)
		}
	}
	for _, k := range []string{"rmw_put_vs_raw_put", "blind_put_vs_raw_put", "get_vs_raw_fanout_get", "put33_vs_raw_put"} {
		if r, ok := e.Ratios[k]; !ok || r.P999 == nil {
			t.Errorf("ratio %s missing", k)
		}
	}
	if e.Lognormal == nil || e.Lognormal.CPUPerOpUs == nil || e.Lognormal.SlowReplica == nil || len(e.Lognormal.SlowReplica.P999VsHealthy) == 0 {
		t.Errorf("lognormal section incomplete in %s", data)
	}
}
