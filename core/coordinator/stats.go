package coordinator

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what a coordinator did. Counters are cumulative since start and
// safe for concurrent use; read them with Snapshot. Series and rates over time
// belong to the edge that shows them: it gets each request from the
// Observer (Deps.Observer).
type Stats struct {
	Gets, Puts, Deletes      atomic.Int64
	QuorumFailures           atomic.Int64
	BackendGets, BackendPuts atomic.Int64
	BackendLists             atomic.Int64
	CASRetries               atomic.Int64
	ReadRepairs              atomic.Int64
	// HedgedReads counts gets that asked the replicas beyond their first R
	// after the hedge delay or a failure (hedge.go).
	HedgedReads atomic.Int64
	// HedgedWrites counts hinted replicas a put wrote beside a primary that
	// was slow to acknowledge (hedged writes, off by default).
	HedgedWrites atomic.Int64
	// OneRoundPuts counts puts that wrote every replica in one round
	// (oneround.go).
	OneRoundPuts   atomic.Int64
	HintsQueued    atomic.Int64
	HintsDelivered atomic.Int64
	// HintsObsolete counts hints that found nothing left to deliver: an
	// earlier hint for the same hinted replica (one per write), or a repair,
	// carried it. Drained, HintsQueued = HintsDelivered + HintsObsolete
	// (plus those that failed for good, in the dead-letter queue).
	HintsObsolete   atomic.Int64
	CorruptReplicas atomic.Int64
	SiblingRejects  atomic.Int64
	MaxSiblings     atomic.Int64
	// Anti-entropy runs recorded with RecordRepair, the keys they compared
	// and the keys they repaired.
	Repairs, RepairKeysCompared, RepairKeysRepaired atomic.Int64
	// Reaped counts the deleted keys whose tombstones repairs and reaps run
	// in this process removed (RecordReaped).
	Reaped atomic.Int64

	GetLatency, PutLatency latencies

	lastRepair atomic.Int64 // Unix ms of the last RecordRepair; 0: none
	obs        Observer     // nil: nobody is told
}

// Observer is told of every finished get and put (deletes included) and of
// every quorum failure, e.g. to keep the dashboard's recent-activity series
// (infra/recent). Its methods are called from request goroutines: they must
// be quick and safe for concurrent use.
type Observer interface {
	ObserveGet(d time.Duration)
	ObservePut(d time.Duration)
	ObserveQuorumFailure()
}

func newStats(obs Observer) *Stats {
	return &Stats{GetLatency: latencies{window: 2048}, PutLatency: latencies{window: 2048}, obs: obs}
}

func (s *Stats) add(c *atomic.Int64, n int64) {
	c.Add(n)
	if c == &s.QuorumFailures && s.obs != nil {
		for range n {
			s.obs.ObserveQuorumFailure()
		}
	}
}

// RecordRepair counts one anti-entropy run, finished at at, that compared
// and repaired the given numbers of keys (the repair job calls it when it
// runs in this process).
func (s *Stats) RecordRepair(compared, repaired int64, at time.Time) {
	s.Repairs.Add(1)
	s.RepairKeysCompared.Add(compared)
	s.RepairKeysRepaired.Add(repaired)
	s.lastRepair.Store(at.UnixMilli())
}

// RecordReaped counts deleted keys whose tombstones a repair or reap run in
// this process removed.
func (s *Stats) RecordReaped(n int64) { s.Reaped.Add(n) }

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
	if s.obs == nil {
		return
	}
	switch l {
	case &s.GetLatency:
		s.obs.ObserveGet(d)
	case &s.PutLatency:
		s.obs.ObservePut(d)
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
	OneRoundPuts    int64   `json:"oneRoundPuts"`
	HintsQueued     int64   `json:"hintsQueued"`
	HintsDelivered  int64   `json:"hintsDelivered"`
	HintsObsolete   int64   `json:"hintsObsolete"`
	CorruptReplicas int64   `json:"corruptReplicas"`
	SiblingRejects  int64   `json:"siblingRejects"`
	MaxSiblings     int64   `json:"maxSiblings"`
	Repairs         int64   `json:"repairs"`
	RepairCompared  int64   `json:"repairKeysCompared"`
	RepairRepaired  int64   `json:"repairKeysRepaired"`
	Reaped          int64   `json:"reaped"`
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
		CASRetries:   s.CASRetries.Load(), ReadRepairs: s.ReadRepairs.Load(), OneRoundPuts: s.OneRoundPuts.Load(),
		HintsQueued: s.HintsQueued.Load(), HintsDelivered: s.HintsDelivered.Load(),
		HintsObsolete:   s.HintsObsolete.Load(),
		CorruptReplicas: s.CorruptReplicas.Load(), SiblingRejects: s.SiblingRejects.Load(),
		MaxSiblings: s.MaxSiblings.Load(),
		Repairs:     s.Repairs.Load(), RepairCompared: s.RepairKeysCompared.Load(),
		RepairRepaired: s.RepairKeysRepaired.Load(), Reaped: s.Reaped.Load(), LastRepairMs: s.lastRepair.Load(),
		GetP50Ms: g[0], GetP99Ms: g[1], PutP50Ms: p[0], PutP99Ms: p[1],
	}
}
