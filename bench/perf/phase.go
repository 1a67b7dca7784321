package perf

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// phaseResult is what one phase measured.
type phaseResult struct {
	name    string
	lat     map[string]*latencies
	elapsed time.Duration
	ops     int64
	cwOps   int64 // workload (non-probe) operations
	missed  int64
	rate    float64
}

// phase runs the workers for d: on a fixed-rate schedule at rate ops/s in
// total, or closed-loop (each operation starts when the previous one ends)
// when rate is 0.
func (b *bencher) phase(ctx context.Context, name string, mix []weighted, probeShare, rate float64, d time.Duration) phaseResult {
	var wg sync.WaitGroup
	var ops, cwOps atomic.Int64
	c := len(b.workers)
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(c) / rate * float64(time.Second))
	}
	t0 := time.Now()
	end := t0.Add(d)
	// Behind schedule at the end, a worker stops after this much overrun and
	// counts the slots it skipped.
	grace := max(d/4, time.Second)
	for _, w := range b.workers {
		w.lat = map[string]*latencies{}
		w.missed = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := t0
			if interval > 0 {
				next = t0.Add(interval * time.Duration(w.id) / time.Duration(c)) // stagger the workers
			}
			for ctx.Err() == nil {
				now := time.Now()
				if interval == 0 {
					if now.After(end) {
						return
					}
					next = now
				} else {
					if !next.Before(end) {
						return
					}
					if now.After(end.Add(grace)) {
						w.missed += int64(end.Sub(next)/interval) + 1
						return
					}
					if wait := next.Sub(now); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
				}
				kind, probe := pick(w.rng, mix, probeShare)
				w.do(ctx, kind, next)
				ops.Add(1)
				if !probe {
					cwOps.Add(1)
				}
				if interval > 0 {
					next = next.Add(interval)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.bg.Wait()
	b.coord.Wait()
	res := phaseResult{name: name, lat: map[string]*latencies{}, elapsed: elapsed, ops: ops.Load(), cwOps: cwOps.Load(), rate: rate}
	for _, w := range b.workers {
		res.missed += w.missed
		mergeLatencies(res.lat, w.lat)
	}
	return res
}

// snapshotRequests copies every kind's request counts.
func (b *bencher) snapshotRequests() map[string]RequestCounts {
	out := map[string]RequestCounts{}
	for k, r := range b.req {
		out[k] = r.snapshot()
	}
	return out
}

func diffCounts(a, b RequestCounts) RequestCounts {
	return RequestCounts{Get: a.Get - b.Get, Put: a.Put - b.Put, List: a.List - b.List, Delete: a.Delete - b.Delete,
		SQS: a.SQS - b.SQS, Dynamo: a.Dynamo - b.Dynamo, DynamoReadUnits: a.DynamoReadUnits - b.DynamoReadUnits}
}

// opResults turns histograms and the request counts before and after them
// into OpResults; a read-modify-write's requests are its get's and its put's.
func (b *bencher) opResults(lat map[string]*latencies, before, after map[string]RequestCounts) map[string]OpResult {
	out := map[string]OpResult{}
	for k, l := range lat {
		ops := l.Service.TotalCount() + l.Errors
		op := OpResult{Response: summarize(l.Response), Service: summarize(l.Service), Errors: l.Errors, ErrorSamples: l.ErrorSamples}
		if _, ok := b.req[k]; ok && ops > 0 {
			op.RequestsPerOp = perOp(diffCounts(after[k], before[k]), ops)
		}
		out[k] = op
	}
	if g, pp := out[kGet], out[kRMWPut]; g.RequestsPerOp != nil && pp.RequestsPerOp != nil {
		if rmw, ok := out[kRMW]; ok {
			rmw.RequestsPerOp = addPerOp(g.RequestsPerOp, pp.RequestsPerOp)
			out[kRMW] = rmw
		}
	}
	return out
}

// mergeLatencies adds every kind's histograms of src into dst.
func mergeLatencies(dst, src map[string]*latencies) {
	for k, l := range src {
		if dst[k] == nil {
			dst[k] = newLatencies()
		}
		dst[k].merge(l)
	}
}
