package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

func (b *bencher) logf(format string, args ...any) {
	fmt.Fprintf(b.log, format+"\n", args...)
}

// runEndpoint runs the whole benchmark against one endpoint set-up.
func runEndpoint(ctx context.Context, cfg Config, spec string, logw io.Writer) (*EndpointResult, error) {
	fmt.Fprintf(logw, "== endpoint %s\n", spec)
	b, err := setup(ctx, cfg, spec, logw)
	if err != nil {
		return nil, err
	}
	defer b.env.stop()
	if err := b.newWorkers(); err != nil {
		return nil, err
	}
	res := &EndpointResult{Endpoint: spec, Description: b.env.desc, Nodes: cfg.Nodes, N: replN, R: replR, W: replW}

	t := time.Now()
	if err := b.load(ctx); err != nil {
		return nil, err
	}
	b.logf("  loaded %d records in %s", cfg.Records, time.Since(t).Round(time.Millisecond))

	// Calibration: closed loop, workload F (the heaviest: a read-modify-write
	// is two operations in one slot) with the probes, so that no workload
	// runs above capacity.
	b.hedge = 20 * time.Millisecond
	cal := b.phase(ctx, "calibrate", workloadMixes["F"], cfg.ProbeShare, 0, cfg.CalibrateDuration)
	capacity := float64(cal.ops) / cal.elapsed.Seconds()
	rate := cfg.Rate
	if rate == 0 {
		rate = cfg.RateFraction * capacity
	}
	rate = max(rate, 1)
	b.adaptHedge(cal.lat)
	res.CalibratedOpsPerSec, res.TargetOpsPerSec, res.HedgeDelayMs = capacity, rate, float64(b.hedge.Microseconds())/1000
	b.logf("  calibrated: %.0f ops/s closed-loop with %d workers; running at %.0f ops/s; hedge delay %s", capacity, cfg.Concurrency, rate, b.hedge.Round(10*time.Microsecond))
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// The workloads. Requests per operation are counted over them only.
	before := b.snapshotRequests()
	pooled := map[string]*latencies{}
	var cpuAll time.Duration
	var opsAll int64
	for _, wl := range cfg.Workloads {
		wl = strings.ToUpper(wl)
		cpu0 := cpuTime()
		p := b.phase(ctx, wl, workloadMixes[wl], cfg.ProbeShare, rate, cfg.PhaseDuration)
		cpu := cpuTime() - cpu0
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		wr := workloadResult(p, wl)
		wr.CPUPerOpUs = cpuPerOpUs(cpu, p.ops)
		res.Workloads = append(res.Workloads, wr)
		cpuAll, opsAll = cpuAll+cpu, opsAll+p.ops
		mergeLatencies(pooled, p.lat)
		b.adaptHedge(pooled)
		b.logf("  workload %s: %d ops in %s (%.0f ops/s, %d workload ops/s), %d slots missed, %.0f µs CPU per op", wl, p.ops, p.elapsed.Round(time.Millisecond),
			float64(p.ops)/p.elapsed.Seconds(), int(float64(p.cwOps)/p.elapsed.Seconds()), p.missed, wr.CPUPerOpUs)
	}
	res.CPUPerOpUs = cpuPerOpUs(cpuAll, opsAll)
	after := b.snapshotRequests()
	res.HedgeDelayMs = float64(b.hedge.Microseconds()) / 1000
	res.Ops = b.opResults(pooled, before, after)
	for _, l := range pooled {
		res.Errors += l.Errors
	}
	res.pooled = pooled
	res.RawConflicts = b.rawConflictCount()

	if cfg.DegradedDuration > 0 {
		if err := b.degraded(ctx, rate, res); err != nil {
			return nil, err
		}
	}
	res.Coordinator = b.coord.Stats().Snapshot()
	return res, nil
}

func (b *bencher) rawConflictCount() int64 {
	var n int64
	for _, w := range b.workers {
		w.raw.mu.Lock()
		n += w.raw.conflicts
		w.raw.mu.Unlock()
	}
	return n
}

// Run runs the benchmark against every configured endpoint, writes the results
// into cfg.OutDir and prints a summary to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	res := newResult(cfg)
	for _, spec := range cfg.Endpoints {
		run := runEndpoint
		if spec == EndpointLognormal {
			run = runLognormal
		}
		er, err := run(ctx, cfg, spec, logw)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, ErrNoMoto) {
				fmt.Fprintf(logw, "  SKIPPED %s: %v\n", spec, err)
				res.Skipped = append(res.Skipped, Skipped{Endpoint: spec, Reason: err.Error()})
				continue
			}
			return nil, fmt.Errorf("bench on %s: %w", spec, err)
		}
		er.finish(res.Prices)
		res.Endpoints = append(res.Endpoints, er)
	}
	if len(res.Endpoints) == 0 {
		return nil, fmt.Errorf("bench: no endpoint could run (%d skipped)", len(res.Skipped))
	}
	res.chooseHeadline()
	res.Lambda = readLambda(cfg.LambdaJSON)
	if err := res.write(cfg.OutDir); err != nil {
		return nil, err
	}
	res.printSummary(out)
	return res, nil
}
