package perf

import (
	"context"
	"errors"
	"time"

	"github.com/cartwheel/cartwheel/core/kv/faults"
)

// DegradedResult compares one node down with all healthy (service times).
type DegradedResult struct {
	Node             string         `json:"node"`
	HealthyGet       Summary        `json:"healthyGet"`
	DegradedGet      Summary        `json:"degradedGet"`
	HealthyPut       Summary        `json:"healthyPut"`
	DegradedPut      Summary        `json:"degradedPut"`
	GetP50Ratio      float64        `json:"degradedGetP50_vs_healthyGetP50"`
	PutP50Ratio      float64        `json:"degradedPutP50_vs_healthyPutP50"`
	GetP99Ratio      float64        `json:"degradedGetP99_vs_healthyGetP99"`
	PutP99Ratio      float64        `json:"degradedPutP99_vs_healthyPutP99"`
	FailedWrites     int64          `json:"failedWrites"`
	FailedReads      int64          `json:"failedReads"`
	GetRequestsPerOp *RequestsPerOp `json:"degradedGetRequestsPerOp,omitempty"`
	PutRequestsPerOp *RequestsPerOp `json:"degradedPutRequestsPerOp,omitempty"`
	HintsQueued      int64          `json:"hintsQueued"`
	HintsDelivered   int64          `json:"hintsDeliveredAfterHealing"`
	DrainError       string         `json:"drainError,omitempty"`
}

// degraded compares a healthy phase with one where node n1 is down (every
// request to it fails, as a dead endpoint's would, but at once), then heals it
// and delivers the hints.
func (b *bencher) degraded(ctx context.Context, rate float64, res *EndpointResult) error {
	healthy := b.phase(ctx, "healthy", degradedMix, 0, rate, b.cfg.DegradedDuration)
	down := b.nodes[0]
	if err := b.app.Faults.Set(down.Location, faults.Mode{Kind: "down"}); err != nil {
		return err
	}
	before := b.snapshotRequests()
	deg := b.phase(ctx, "degraded", degradedMix, 0, rate, b.cfg.DegradedDuration)
	after := b.snapshotRequests()
	b.app.Faults.ClearAll()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d := &DegradedResult{Node: down.ID, HealthyGet: summarize(lat(healthy, kGet).Service), DegradedGet: summarize(lat(deg, kGet).Service),
		HealthyPut: summarize(lat(healthy, kRMWPut).Service), DegradedPut: summarize(lat(deg, kRMWPut).Service),
		FailedWrites: lat(deg, kRMWPut).Errors, FailedReads: lat(deg, kGet).Errors}
	d.GetP50Ratio = ratio(d.DegradedGet.P50, d.HealthyGet.P50)
	d.PutP50Ratio = ratio(d.DegradedPut.P50, d.HealthyPut.P50)
	d.GetP99Ratio = ratio(d.DegradedGet.P99, d.HealthyGet.P99)
	d.PutP99Ratio = ratio(d.DegradedPut.P99, d.HealthyPut.P99)
	if n := lat(deg, kRMWPut).Service.TotalCount() + lat(deg, kRMWPut).Errors; n > 0 {
		d.PutRequestsPerOp = perOp(diffCounts(after[kRMWPut], before[kRMWPut]), n)
	}
	if n := lat(deg, kGet).Service.TotalCount() + lat(deg, kGet).Errors; n > 0 {
		d.GetRequestsPerOp = perOp(diffCounts(after[kGet], before[kGet]), n)
	}
	st := b.coord.Stats().Snapshot()
	d.HintsQueued = st.HintsQueued
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	dr, err := b.coord.DrainHints(dctx, 0)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		d.DrainError = err.Error()
	}
	d.HintsDelivered = int64(dr.Delivered)
	res.Degraded = d
	b.logf("  one node down (%s): get p50 %.2fx, put p50 %.2fx of healthy; %d failed writes, %d hints queued, %d delivered after healing",
		down.ID, d.GetP50Ratio, d.PutP50Ratio, d.FailedWrites, d.HintsQueued, d.HintsDelivered)
	return nil
}

func lat(p phaseResult, kind string) *latencies {
	if l := p.lat[kind]; l != nil {
		return l
	}
	return newLatencies()
}
