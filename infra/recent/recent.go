// Package recent keeps a process's recent activity for the dashboard: request
// rates and latency percentiles over the last minute, and a five-minute series
// for graphs. The coordinator only counts; it tells a Series of each request
// through coordinator.Observer, and the HTTP API shows the Series.
package recent

import (
	"math"
	"sync"
	"time"
)

// The recent-activity series keeps, per step of SeriesStep, the number of gets,
// puts (deletes included) and quorum failures, and a latency histogram of the
// gets and of the puts, for the last SeriesSteps steps.
const (
	SeriesStep  = 5 * time.Second
	SeriesSteps = 60 // five minutes
	// RateWindow is the span of Recent's rates and percentiles.
	RateWindow = time.Minute

	nSlots      = SeriesSteps + 1 // the complete steps and the current one
	histBuckets = 64
	histBase    = 50 * time.Microsecond // upper bound of bucket 0
)

type seriesKind int

const (
	seriesGet seriesKind = iota
	seriesPut
	seriesQuorumFailure
)

// hist is a latency histogram: bucket i counts durations in
// (bound(i-1), bound(i)], bound(i) = histBase * 2^(i/3); the last one is open.
type hist [histBuckets]uint32

func bucketOf(d time.Duration) int {
	if d <= histBase {
		return 0
	}
	i := int(math.Ceil(3 * math.Log2(float64(d)/float64(histBase))))
	return min(i, histBuckets-1)
}

func bucketBound(i int) float64 { // in ms
	return float64(histBase.Microseconds()) / 1000 * math.Exp2(float64(i)/3)
}

func (h *hist) merge(o *hist) {
	for i := range h {
		h[i] += o[i]
	}
}

// percentile returns the p-th percentile (0 < p <= 100) in ms, interpolated
// linearly inside its bucket; 0 for an empty histogram.
func (h *hist) percentile(p float64) float64 {
	var n uint64
	for _, c := range h {
		n += uint64(c)
	}
	if n == 0 {
		return 0
	}
	rank := max(1, uint64(math.Ceil(p/100*float64(n))))
	var cum uint64
	i := 0
	for ; cum+uint64(h[i]) < rank; i++ { // stops: the counts sum to n >= rank
		cum += uint64(h[i])
	}
	lo := 0.0
	if i > 0 {
		lo = bucketBound(i - 1)
	}
	v := lo + (bucketBound(i)-lo)*float64(rank-cum)/float64(h[i])
	return math.Round(v*1000) / 1000
}

type slot struct {
	step           int64 // Unix time / SeriesStep; the slot is empty unless it matches
	gets, puts, qf int64
	getH, putH     hist
}

// Series is one process's recent activity: per step of SeriesStep, the
// number of gets, puts and quorum failures and latency histograms, for the
// last SeriesSteps steps. It implements coordinator.Observer and is safe for
// concurrent use.
type Series struct {
	now     func() time.Time
	started time.Time
	mu      sync.Mutex
	slots   [nSlots]slot
}

// New returns an empty series read with the clock now (time.Now outside
// tests), starting now.
func New(now func() time.Time) *Series { return &Series{now: now, started: now()} }

// ObserveGet records a finished get that took d.
func (r *Series) ObserveGet(d time.Duration) { r.record(r.now(), seriesGet, d, 1) }

// ObservePut records a finished put or delete that took d.
func (r *Series) ObservePut(d time.Duration) { r.record(r.now(), seriesPut, d, 1) }

// ObserveQuorumFailure records a request that missed its quorum.
func (r *Series) ObserveQuorumFailure() { r.record(r.now(), seriesQuorumFailure, 0, 1) }

func stepOf(t time.Time) int64 { return t.UnixNano() / int64(SeriesStep) }

func slotIndex(step int64) int { return int(((step % nSlots) + nSlots) % nSlots) }

func (r *Series) at(step int64) *slot {
	sl := &r.slots[slotIndex(step)]
	if sl.step != step {
		*sl = slot{step: step}
	}
	return sl
}

func (r *Series) record(now time.Time, k seriesKind, d time.Duration, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sl := r.at(stepOf(now))
	switch k {
	case seriesGet:
		sl.gets += n
		sl.getH[bucketOf(d)]++
	case seriesPut:
		sl.puts += n
		sl.putH[bucketOf(d)]++
	default:
		sl.qf += n
	}
}

// Point is one step of the recent-activity series.
type Point struct {
	T              int64   `json:"t"` // Unix ms of the step's start
	Gets           int64   `json:"gets"`
	Puts           int64   `json:"puts"` // deletes included
	QuorumFailures int64   `json:"quorumFailures"`
	GetP50Ms       float64 `json:"getP50Ms"`
	GetP99Ms       float64 `json:"getP99Ms"`
	PutP50Ms       float64 `json:"putP50Ms"`
	PutP99Ms       float64 `json:"putP99Ms"`
}

// Recent is this process's recent activity: request rates and latency
// percentiles over the last RateWindow, and the per-step series of the last
// SeriesSteps steps (for graphs). Percentiles come from histograms with
// buckets 26% wide, interpolated: good to about 10%.
type Recent struct {
	Now               int64   `json:"now"`      // Unix ms
	StepMs            int64   `json:"stepMs"`   // width of a series point
	WindowMs          int64   `json:"windowMs"` // span the rates and percentiles cover
	UptimeMs          int64   `json:"uptimeMs"`
	GetsPerSec        float64 `json:"getsPerSec"`
	PutsPerSec        float64 `json:"putsPerSec"`
	QuorumFailsPerSec float64 `json:"quorumFailuresPerSec"`
	GetP50Ms          float64 `json:"getP50Ms"`
	GetP99Ms          float64 `json:"getP99Ms"`
	PutP50Ms          float64 `json:"putP50Ms"`
	PutP99Ms          float64 `json:"putP99Ms"`
	// Series holds SeriesSteps+1 points, oldest first; the last one is the
	// current, incomplete step.
	Series []Point `json:"series"`
}

// Recent returns the recent activity as of now.
func (s *Series) Recent() Recent {
	now := s.now()
	cur := stepOf(now)
	first := cur - SeriesSteps
	windowSteps := int64(RateWindow / SeriesStep)
	out := Recent{Now: now.UnixMilli(), StepMs: SeriesStep.Milliseconds(), UptimeMs: now.Sub(s.started).Milliseconds(),
		Series: make([]Point, 0, nSlots)}
	var getH, putH hist
	var gets, puts, qf int64
	s.mu.Lock()
	for step := first; step <= cur; step++ {
		p := Point{T: step * SeriesStep.Milliseconds()}
		if sl := &s.slots[slotIndex(step)]; sl.step == step {
			p.Gets, p.Puts, p.QuorumFailures = sl.gets, sl.puts, sl.qf
			p.GetP50Ms, p.GetP99Ms = sl.getH.percentile(50), sl.getH.percentile(99)
			p.PutP50Ms, p.PutP99Ms = sl.putH.percentile(50), sl.putH.percentile(99)
			if step > cur-windowSteps {
				getH.merge(&sl.getH)
				putH.merge(&sl.putH)
				gets, puts, qf = gets+sl.gets, puts+sl.puts, qf+sl.qf
			}
		}
		out.Series = append(out.Series, p)
	}
	s.mu.Unlock()
	// The window is the current step and the complete ones before it, cut at
	// the process's start.
	from := time.UnixMilli((cur - windowSteps + 1) * SeriesStep.Milliseconds())
	if s.started.After(from) {
		from = s.started
	}
	span := max(now.Sub(from), time.Second)
	out.WindowMs = span.Milliseconds()
	rate := func(n int64) float64 { return math.Round(float64(n)/span.Seconds()*100) / 100 }
	out.GetsPerSec, out.PutsPerSec, out.QuorumFailsPerSec = rate(gets), rate(puts), rate(qf)
	out.GetP50Ms, out.GetP99Ms = getH.percentile(50), getH.percentile(99)
	out.PutP50Ms, out.PutP99Ms = putH.percentile(50), putH.percentile(99)
	return out
}
