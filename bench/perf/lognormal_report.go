package perf

import (
	"fmt"
	"io"
)

// lognormalKindsShown are the slow-replica table's rows.
var lognormalKindsShown = []string{kRawGet, kRawPut, kRawFanGet, kRawFanPut, kRawFanPut33, kGet, kRMWPut, kBlindPut, kPut33}

// writeLognormal prints the lognormal endpoint's own lines (markdown when md):
// distributions, CPU per operation and the slow-replica phase.
func (e *EndpointResult) writeLognormal(w io.Writer, md bool) {
	ln := e.Lognormal
	if ln == nil {
		return
	}
	fmt.Fprintf(w, "\nLognormal endpoint (times %gx S3-like): GET mu %.3f sigma %.3f, PUT mu %.3f sigma %.3f (ln ms); %d samples per kind, %d concurrent clients, %d keys (uniform); "+
		"healthy phase %.0f s; CPU %.0f µs per operation (all kinds); coordinator hedge quantile %g (%d hedged gets, %d hedged writes); one-round put %v (%d puts in one round).\n",
		ln.TimeScale, ln.GetDist.Mu, ln.GetDist.Sigma, ln.PutDist.Mu, ln.PutDist.Sigma, ln.SamplesPerKind, ln.Concurrency, ln.Records, ln.ElapsedSec, ln.CPUPerOpUs, ln.HedgeQuantile, ln.HedgedReads, ln.HedgedWrites,
		ln.OneRoundPut, ln.OneRoundPuts)
	s := ln.SlowReplica
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\nSlow replica: %s %gx slower, every request stalls with probability %g for %.0f-%.0f ms more (%.0f s; %d hedged gets, %d hedged writes):\n\n",
		s.Node, s.Factor, s.StallProb, s.StallMinMs, s.StallMaxMs, s.ElapsedSec, s.HedgedReads, s.HedgedWrites)
	if md {
		fmt.Fprintf(w, "| operation | p50 ms | p99 ms | p99.9 ms | p99.9 / healthy | count | GET/op | PUT/op |\n|---|---|---|---|---|---|---|---|\n")
	}
	for _, k := range lognormalKindsShown {
		op, ok := s.Ops[k]
		if !ok {
			continue
		}
		g, p := 0.0, 0.0
		if op.RequestsPerOp != nil {
			g, p = op.RequestsPerOp.Get, op.RequestsPerOp.Put
		}
		if md {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f | %d | %.2f | %.2f |\n", opLabels[k], f2(op.Service.P50), f2(op.Service.P99), f2(op.Service.P999),
				s.P999VsHealthy[k], op.Service.Count, g, p)
		} else {
			fmt.Fprintf(w, "  %-40s p50 %8s  p99 %8s  p99.9 %8s  (%.2fx healthy)  n=%d  GET/op %.2f PUT/op %.2f\n", opLabels[k], f2(op.Service.P50), f2(op.Service.P99),
				f2(op.Service.P999), s.P999VsHealthy[k], op.Service.Count, g, p)
		}
	}
	writeErrorSamples(w, s.Ops)
}

// writeErrorSamples lists the errors seen, per operation kind, if any.
func writeErrorSamples(w io.Writer, ops map[string]OpResult) {
	for _, k := range opOrder {
		if op, ok := ops[k]; ok && op.Errors > 0 {
			fmt.Fprintf(w, "\n%s: %d errors, first distinct ones:\n", opLabels[k], op.Errors)
			for _, m := range op.ErrorSamples {
				fmt.Fprintf(w, "- `%s`\n", m)
			}
		}
	}
}
