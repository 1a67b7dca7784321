package perf

import (
	"time"
)

// HedgedResult reports hedged reads.
type HedgedResult struct {
	Coordinator        string  `json:"coordinator"`
	RawFanoutP999Ms    float64 `json:"rawFanoutGetP999Ms"`
	RawHedgedP999Ms    float64 `json:"rawHedgedGetP999Ms"`
	RawFanoutP50Ms     float64 `json:"rawFanoutGetP50Ms"`
	RawHedgedP50Ms     float64 `json:"rawHedgedGetP50Ms"`
	FanoutGetsPerOp    float64 `json:"rawFanoutGetsPerOp"`
	HedgedGetsPerOp    float64 `json:"rawHedgedGetsPerOp"`
	HedgeDelayMs       float64 `json:"hedgeDelayMs"`
	P999HedgedVsFanout float64 `json:"p999_hedged_vs_fanout"`
}

// adaptHedge sets the hedge delay to the p95 of one raw GET measured so far,
// once there are 20 samples (before that: 20 ms, or the calibration's).
func (b *bencher) adaptHedge(lat map[string]*latencies) {
	if l := lat[kRawGet]; l != nil && l.Service.TotalCount() >= 20 {
		b.hedge = time.Duration(l.Service.ValueAtQuantile(95)) * time.Microsecond
	}
}

// hedgedReads gathers the raw fan-out and hedged gets' figures.
func (e *EndpointResult) hedgedReads() HedgedResult {
	h := HedgedResult{
		Coordinator: "off by default (CARTWHEEL_HEDGE_QUANTILE; the lognormal endpoint's --hedge-quantile): the coordinator then reads all N " +
			"replicas at once and waits for R; the raw pattern below shows what hedging gives on this endpoint",
		HedgeDelayMs: e.HedgeDelayMs,
	}
	if f, ok := e.Ops[kRawFanGet]; ok {
		h.RawFanoutP999Ms, h.RawFanoutP50Ms = f.Service.P999, f.Service.P50
		if f.RequestsPerOp != nil {
			h.FanoutGetsPerOp = f.RequestsPerOp.Get
		}
	}
	if g, ok := e.Ops[kRawHedgedGet]; ok {
		h.RawHedgedP999Ms, h.RawHedgedP50Ms = g.Service.P999, g.Service.P50
		if g.RequestsPerOp != nil {
			h.HedgedGetsPerOp = g.RequestsPerOp.Get
		}
	}
	h.P999HedgedVsFanout = ratio(h.RawHedgedP999Ms, h.RawFanoutP999Ms)
	return h
}
