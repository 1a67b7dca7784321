package perf

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func reqCols(r *RequestsPerOp) string {
	if r == nil {
		return "\t\t\t\t"
	}
	return fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.3f\t%.4f", r.Get, r.Put, r.List, r.SQS, r.Dynamo)
}

// printSummary prints the human summary.
func (r *Result) printSummary(out io.Writer) {
	fmt.Fprintf(out, "\nCartwheel bench, %s (%s/%s, %d CPUs, %s), took %s\n", r.StartedAt, r.Host.GOOS, r.Host.GOARCH, r.Host.NumCPU, r.Host.GoVersion,
		time.Since(r.started).Round(time.Second))
	fmt.Fprintf(out, "NOTE: %s\n", NoiseNote)
	fmt.Fprintf(out, "Path: %s.\n", r.Config.Path)
	for _, s := range r.Skipped {
		fmt.Fprintf(out, "SKIPPED %s: %s\n", s.Endpoint, s.Reason)
	}
	for _, e := range r.Endpoints {
		headline := ""
		if e.Endpoint == r.Headline {
			headline = " [headline]"
		}
		fmt.Fprintf(out, "\n=== %s%s: %s; %d nodes, N=%d R=%d W=%d; %d workers at %.0f ops/s (closed-loop capacity %.0f)\n",
			e.Endpoint, headline, e.Description, e.Nodes, e.N, e.R, e.W, r.Config.Concurrency, e.TargetOpsPerSec, e.CalibratedOpsPerSec)
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation (service time, ms)\tp50\tp99\tp99.9\tcount\terrors\tGET/op\tPUT/op\tLIST/op\tSQS/op\tDDB/op\t")
		for _, k := range opOrder {
			op, ok := e.Ops[k]
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t\n", opLabels[k], f2(op.Service.P50), f2(op.Service.P99), f2(op.Service.P999),
				op.Service.Count, op.Errors, reqCols(op.RequestsPerOp))
		}
		tw.Flush()
		fmt.Fprintln(out, "(a p99 needs about 100 samples and a p99.9 about 1000 to mean much; with fewer they approach the maximum)")
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ratio (service time)\tp50\tp99\tp99.9\tsamples\t")
		for _, d := range ratioDefs {
			if x, ok := e.Ratios[d.key]; ok {
				fmt.Fprintf(tw, "%s [%s]\t%.2f\t%.2f\t%.2f\t%d\t\n", d.name, d.key, x.P50, x.P99, x.P999, x.Samples)
			}
		}
		tw.Flush()
		fmt.Fprintln(out, "\ndesign targets (informational, never asserted):")
		for _, t := range e.Targets {
			met := "met"
			if !t.Met {
				met = "NOT met"
			}
			fmt.Fprintf(out, "  %-52s %6.2f  (%s)  %s\n", t.Goal, t.Value, t.Limit, met)
		}
		fmt.Fprintln(out, "\nrequest fees per million operations, USD (S3 Standard | S3 Express One Zone | DynamoDB on-demand doing the same):")
		tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation\tS3 Standard\tS3 Express\tDynamoDB\t")
		for _, f := range e.Fees {
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t\n", f.Op, f.TotalStandard, f.TotalExpress, f.DynamoEquivalent)
		}
		tw.Flush()
		fmt.Fprintln(out, "\nworkloads (Cartwheel operations, response time from the intended start, ms):")
		for _, w := range e.Workloads {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(w.Ops)) {
				s := w.Ops[k]
				parts = append(parts, fmt.Sprintf("%s p50 %.2f p99 %.2f", k, s.P50, s.P99))
			}
			fmt.Fprintf(out, "  %s: %.0f ops/s (%.0f workload ops/s, target %.0f), %d errors, %d missed slots, %.0f µs CPU/op; %s\n",
				w.Workload, w.OpsPerSec, w.WorkloadOpsPerSec, w.TargetOpsPerSec, w.Errors, w.MissedSlots, w.CPUPerOpUs, strings.Join(parts, "; "))
		}
		if e.Lognormal == nil {
			fmt.Fprintf(out, "CPU per operation over the workloads: %.0f µs (process user + system time)\n", e.CPUPerOpUs)
		}
		if d := e.Degraded; d != nil {
			fmt.Fprintf(out, "\none node down (%s): get p50 %.2f -> %.2f ms (%.2fx), put p50 %.2f -> %.2f ms (%.2fx); failed writes %d, failed reads %d; %d hints queued, %d delivered after healing\n",
				d.Node, d.HealthyGet.P50, d.DegradedGet.P50, d.GetP50Ratio, d.HealthyPut.P50, d.DegradedPut.P50, d.PutP50Ratio,
				d.FailedWrites, d.FailedReads, d.HintsQueued, d.HintsDelivered)
		}
		e.writeLognormal(out, false)
		h := e.Hedged
		fmt.Fprintf(out, "hedged reads: %s. Raw: fan-out p99.9 %.2f ms with %.2f GET/op; hedged (delay %.2f ms = raw GET p95) p99.9 %.2f ms with %.2f GET/op\n",
			h.Coordinator, h.RawFanoutP999Ms, h.FanoutGetsPerOp, h.HedgeDelayMs, h.RawHedgedP999Ms, h.HedgedGetsPerOp)
		fmt.Fprintf(out, "plot: %s\n", e.Plot)
	}
	fmt.Fprintln(out, "\nLambda binaries (under the Runtime Interface Emulator, against kumo):")
	if !r.Lambda.Available {
		fmt.Fprintf(out, "  %s\n", r.Lambda.Note)
	} else {
		fmt.Fprintf(out, "  measured %s (%s)\n", r.Lambda.MeasuredAt, r.Lambda.Source)
		for _, f := range r.Lambda.Functions {
			fmt.Fprintf(out, "  %-12s bootstrap %.1f MB, cold start %.0f ms (init %.0f ms), warm %.2f ms\n",
				f.Function, float64(f.BootstrapBytes)/1e6, f.ColdStartMs, f.InitMs, f.WarmMs)
		}
	}
}
