package perf

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// markdown writes bench.md: the headline tables for the README.
func (r *Result) markdown(w io.Writer) {
	fmt.Fprintf(w, "# Cartwheel benchmark results\n\n")
	fmt.Fprintf(w, "Made by `%s` on %s (%s/%s, %d CPUs, %s).\n\n", r.Command, r.StartedAt, r.Host.GOOS, r.Host.GOARCH, r.Host.NumCPU, r.Host.GoVersion)
	fmt.Fprintf(w, "> %s\n\n", NoiseNote)
	fmt.Fprintf(w, "Path: %s. Latencies: %s\n\n", r.Config.Path, r.Config.LatencyDefinition)
	fmt.Fprintf(w, "Workloads %s, %d workers, %d records, %d-byte values, zipfian theta %.2f, %d nodes, N=3 R=2 W=2.\n\n",
		strings.Join(r.Config.Workloads, "/"), r.Config.Concurrency, r.Config.Records, r.Config.ValueSize, r.Config.Theta, r.Config.Nodes)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "**Skipped %s**: %s\n\n", s.Endpoint, s.Reason)
	}
	// The ratios of every endpoint side by side.
	fmt.Fprintf(w, "## Ratios (service time, p50 / p99 / p99.9, and the smaller sample count)\n\n| ratio |")
	for _, e := range r.Endpoints {
		fmt.Fprintf(w, " %s |", e.Endpoint)
	}
	fmt.Fprintf(w, "\n|---|")
	for range r.Endpoints {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for _, d := range ratioDefs {
		fmt.Fprintf(w, "| %s (`%s`) |", d.name, d.key)
		for _, e := range r.Endpoints {
			if x, ok := e.Ratios[d.key]; ok {
				fmt.Fprintf(w, " %.2f / %.2f / %.2f (n=%d) |", x.P50, x.P99, x.P999, x.Samples)
			} else {
				fmt.Fprintf(w, " n/a |")
			}
		}
		fmt.Fprintln(w)
	}
	r.markdownCPU(w)
	for _, e := range r.Endpoints {
		fmt.Fprintf(w, "\n## %s: %s\n\n", e.Endpoint, e.Description)
		fmt.Fprintf(w, "%d workers at %.0f ops/s (closed-loop capacity %.0f ops/s). Plot: [%s](%s).\n\n", r.Config.Concurrency, e.TargetOpsPerSec, e.CalibratedOpsPerSec, e.Plot, e.Plot)
		fmt.Fprintf(w, "| operation | p50 ms | p99 ms | p99.9 ms | count | errors | GET/op | PUT/op | LIST/op | SQS/op | DynamoDB/op |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, k := range opOrder {
			op, ok := e.Ops[k]
			if !ok {
				continue
			}
			q := op.RequestsPerOp
			reqs := "| | | | |"
			if q != nil {
				reqs = fmt.Sprintf("%.2f | %.2f | %.2f | %.3f | %.4f |", q.Get, q.Put, q.List, q.SQS, q.Dynamo)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %s\n", opLabels[k], f2(op.Service.P50), f2(op.Service.P99), f2(op.Service.P999), op.Service.Count, op.Errors, reqs)
		}
		writeErrorSamples(w, e.Ops)
		fmt.Fprintf(w, "\nA p99 needs about 100 samples and a p99.9 about 1000 to mean much (see the counts); with fewer they approach the maximum.\n")
		fmt.Fprintf(w, "\nTargets (informational):\n\n")
		for _, t := range e.Targets {
			met := "met"
			if !t.Met {
				met = "**not met**"
			}
			fmt.Fprintf(w, "- %s: %.2f (%s) %s\n", t.Goal, t.Value, t.Limit, met)
		}
		fmt.Fprintf(w, "\nRequest fees per million operations (USD):\n\n| operation | S3 Standard | S3 Express One Zone | DynamoDB on-demand (same op) |\n|---|---|---|---|\n")
		for _, f := range e.Fees {
			fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f (%s) |\n", f.Op, f.TotalStandard, f.TotalExpress, f.DynamoEquivalent, f.DynamoEquivalentIs)
		}
		fmt.Fprintf(w, "\nWorkloads (response time from the intended start):\n\n| workload | ops/s | workload ops/s | errors | missed slots | CPU µs/op | Cartwheel operations p50 / p99 ms |\n|---|---|---|---|---|---|---|\n")
		for _, wl := range e.Workloads {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(wl.Ops)) {
				parts = append(parts, fmt.Sprintf("%s %.2f / %.2f", k, wl.Ops[k].P50, wl.Ops[k].P99))
			}
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %d | %d | %.0f | %s |\n", wl.Workload, wl.OpsPerSec, wl.WorkloadOpsPerSec, wl.Errors, wl.MissedSlots, wl.CPUPerOpUs, strings.Join(parts, "; "))
		}
		if d := e.Degraded; d != nil {
			fmt.Fprintf(w, "\nOne node down (%s): get p50 %.2f -> %.2f ms (**%.2fx**), read-modify-write put p50 %.2f -> %.2f ms (**%.2fx**); "+
				"failed writes: **%d**; failed reads: %d; hints queued %d, delivered after healing %d.\n",
				d.Node, d.HealthyGet.P50, d.DegradedGet.P50, d.GetP50Ratio, d.HealthyPut.P50, d.DegradedPut.P50, d.PutP50Ratio,
				d.FailedWrites, d.FailedReads, d.HintsQueued, d.HintsDelivered)
		}
		e.writeLognormal(w, true)
		h := e.Hedged
		fmt.Fprintf(w, "\nHedged reads: %s. Raw fan-out get p99.9 %.2f ms at %.2f GET/op; raw hedged get (delay %.2f ms) p99.9 %.2f ms at %.2f GET/op.\n",
			h.Coordinator, h.RawFanoutP999Ms, h.FanoutGetsPerOp, h.HedgeDelayMs, h.RawHedgedP999Ms, h.HedgedGetsPerOp)
	}
	fmt.Fprintf(w, "\n## Lambda binaries\n\n")
	if !r.Lambda.Available {
		fmt.Fprintf(w, "%s\n", r.Lambda.Note)
		return
	}
	fmt.Fprintf(w, "Measured %s under the Runtime Interface Emulator against %s.\n\n| function | bootstrap | cold start | init | warm |\n|---|---|---|---|---|\n", r.Lambda.MeasuredAt, r.Lambda.Endpoint)
	for _, f := range r.Lambda.Functions {
		fmt.Fprintf(w, "| %s | %.1f MB | %.0f ms | %.0f ms | %.2f ms |\n", f.Function, float64(f.BootstrapBytes)/1e6, f.ColdStartMs, f.InitMs, f.WarmMs)
	}
}

// markdownCPU writes the CPU per operation of every endpoint side by side.
func (r *Result) markdownCPU(w io.Writer) {
	fmt.Fprintf(w, "\n## CPU per operation (process user + system time / operations)\n\n| endpoint | CPU µs/op | measured over |\n|---|---|---|\n")
	for _, e := range r.Endpoints {
		over := "the workloads (" + strings.Join(r.Config.Workloads, ", ") + "), probes included"
		if e.Lognormal != nil {
			over = "the healthy phase, every kind"
		} else if len(e.Workloads) > 0 {
			var parts []string
			for _, wl := range e.Workloads {
				parts = append(parts, fmt.Sprintf("%s %.0f", wl.Workload, wl.CPUPerOpUs))
			}
			over += ": " + strings.Join(parts, ", ")
		}
		fmt.Fprintf(w, "| %s | %.0f | %s |\n", e.Endpoint, e.CPUPerOpUs, over)
	}
}
