package coordinator

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what a coordinator did. Counters are cumulative since start and
// safe for concurrent use; read them with Snapshot, and the recent rates and
// latencies with Recent.
type Stats struct {
	Gets, Puts, Deletes      atomic.Int64
	QuorumFailures           atomic.Int64
	BackendGets, BackendPuts atomic.Int64
	BackendLists             atomic.Int64
	CASRetries               atomic.Int64
	ReadRepairs              atomic.Int64
	HintsQueued              atomic.Int64
	HintsDelivered           atomic.Int64
	CorruptReplicas          atomic.Int64
	SiblingRejects           atomic.Int64
	MaxSiblings              atomic.Int64
	// Anti-entropy runs recorded with RecordRepair, the keys they compared
	// and the keys they repaired.
	Repairs, RepairKeysCompared, RepairKeysRepaired atomic.Int64

	GetLatency, PutLatency latencies

	// now is the clock of the recent-activity series and of LastRepair: the
	// wall clock (these describe this process's throughput); tests replace it.
	now        func() time.Time
	started    time.Time
	lastRepair atomic.Int64 // Unix ms of the last RecordRepair; 0: none
	recent     series
}

func newStats() *Stats {
	s := &Stats{GetLatency: latencies{window: 2048}, PutLatency: latencies{window: 2048}, now: time.Now}
	s.started = s.now()
	return s
}

func (s *Stats) add(c *atomic.Int64, n int64) {
	c.Add(n)
	if c == &s.QuorumFailures {
		s.recent.record(s.clock(), seriesQuorumFailure, 0, n)
	}
}

// RecordRepair counts one anti-entropy run that compared and repaired the
// given numbers of keys (the repair job calls it when it runs in this process).
func (s *Stats) RecordRepair(compared, repaired int64) {
	s.Repairs.Add(1)
	s.RepairKeysCompared.Add(compared)
	s.RepairKeysRepaired.Add(repaired)
	s.lastRepair.Store(s.clock().UnixMilli())
}

func (s *Stats) clock() time.Time {
	if s.now == nil { // a Stats built without newStats
		return time.Now()
	}
	return s.now()
}

func (s *Stats) sibling(n int) {
	for {
		cur := s.MaxSiblings.Load()
		if int64(n) <= cur || s.MaxSiblings.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

func (s *Stats) observe(l *latencies, d time.Duration) {
	l.add(d)
	switch l {
	case &s.GetLatency:
		s.recent.record(s.clock(), seriesGet, d, 1)
	case &s.PutLatency:
		s.recent.record(s.clock(), seriesPut, d, 1)
	}
}

// latencies keeps the most recent durations in a ring buffer.
type latencies struct {
	mu     sync.Mutex
	window int
	buf    []time.Duration
	next   int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) < l.window {
		l.buf = append(l.buf, d)
		return
	}
	l.buf[l.next] = d
	l.next = (l.next + 1) % l.window
}

// percentiles returns the p-th percentiles (0-100) of the window, in ms.
func (l *latencies) percentiles(ps ...float64) []float64 {
	l.mu.Lock()
	cp := append([]time.Duration(nil), l.buf...)
	l.mu.Unlock()
	out := make([]float64, len(ps))
	if len(cp) == 0 {
		return out
	}
	sort.Slice(cp, func(i, j int) bool { return cp[i] < cp[j] })
	for i, p := range ps {
		idx := int(p / 100 * float64(len(cp)-1))
		out[i] = float64(cp[idx].Microseconds()) / 1000
	}
	return out
}

// Snapshot is a point-in-time copy of Stats, ready for JSON.
type Snapshot struct {
	Gets            int64   `json:"gets"`
	Puts            int64   `json:"puts"`
	Deletes         int64   `json:"deletes"`
	QuorumFailures  int64   `json:"quorumFailures"`
	BackendGets     int64   `json:"backendGets"`
	BackendPuts     int64   `json:"backendPuts"`
	BackendLists    int64   `json:"backendLists"`
	CASRetries      int64   `json:"casRetries"`
	ReadRepairs     int64   `json:"readRepairs"`
	HintsQueued     int64   `json:"hintsQueued"`
	HintsDelivered  int64   `json:"hintsDelivered"`
	CorruptReplicas int64   `json:"corruptReplicas"`
	SiblingRejects  int64   `json:"siblingRejects"`
	MaxSiblings     int64   `json:"maxSiblings"`
	Repairs         int64   `json:"repairs"`
	RepairCompared  int64   `json:"repairKeysCompared"`
	RepairRepaired  int64   `json:"repairKeysRepaired"`
	LastRepairMs    int64   `json:"lastRepairMs"` // Unix ms; 0: no repair recorded
	GetP50Ms        float64 `json:"getP50Ms"`
	GetP99Ms        float64 `json:"getP99Ms"`
	PutP50Ms        float64 `json:"putP50Ms"`
	PutP99Ms        float64 `json:"putP99Ms"`
}

// Snapshot copies the counters and the recent latency percentiles.
func (s *Stats) Snapshot() Snapshot {
	g := s.GetLatency.percentiles(50, 99)
	p := s.PutLatency.percentiles(50, 99)
	return Snapshot{
		Gets: s.Gets.Load(), Puts: s.Puts.Load(), Deletes: s.Deletes.Load(),
		QuorumFailures: s.QuorumFailures.Load(),
		BackendGets:    s.BackendGets.Load(), BackendPuts: s.BackendPuts.Load(),
		BackendLists: s.BackendLists.Load(),
		CASRetries:   s.CASRetries.Load(), ReadRepairs: s.ReadRepairs.Load(),
		HintsQueued: s.HintsQueued.Load(), HintsDelivered: s.HintsDelivered.Load(),
		CorruptReplicas: s.CorruptReplicas.Load(), SiblingRejects: s.SiblingRejects.Load(),
		MaxSiblings: s.MaxSiblings.Load(),
		Repairs:     s.Repairs.Load(), RepairCompared: s.RepairKeysCompared.Load(),
		RepairRepaired: s.RepairKeysRepaired.Load(), LastRepairMs: s.lastRepair.Load(),
		GetP50Ms: g[0], GetP99Ms: g[1], PutP50Ms: p[0], PutP99Ms: p[1],
	}
}

// ---- recent activity ---------------------------------------------------------

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

type series struct {
	mu    sync.Mutex
	slots [nSlots]slot
}

func stepOf(t time.Time) int64 { return t.UnixNano() / int64(SeriesStep) }

func slotIndex(step int64) int { return int(((step % nSlots) + nSlots) % nSlots) }

func (r *series) at(step int64) *slot {
	sl := &r.slots[slotIndex(step)]
	if sl.step != step {
		*sl = slot{step: step}
	}
	return sl
}

func (r *series) record(now time.Time, k seriesKind, d time.Duration, n int64) {
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
func (s *Stats) Recent() Recent {
	now := s.clock()
	cur := stepOf(now)
	first := cur - SeriesSteps
	windowSteps := int64(RateWindow / SeriesStep)
	out := Recent{Now: now.UnixMilli(), StepMs: SeriesStep.Milliseconds(), UptimeMs: now.Sub(s.started).Milliseconds(),
		Series: make([]Point, 0, nSlots)}
	var getH, putH hist
	var gets, puts, qf int64
	s.recent.mu.Lock()
	for step := first; step <= cur; step++ {
		p := Point{T: step * SeriesStep.Milliseconds()}
		if sl := &s.recent.slots[slotIndex(step)]; sl.step == step {
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
	s.recent.mu.Unlock()
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
