package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"
)

// des is a minimal discrete-event simulator: a clock in milliseconds and a
// queue of events ordered by time, then by scheduling order (so runs are
// deterministic).
type des struct {
	now float64
	seq uint64
	q   eventQueue
	n   int64 // events run
}

type event struct {
	t   float64
	seq uint64
	fn  func()
}

type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].t != q[j].t {
		return q[i].t < q[j].t
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// at schedules fn at time t (ms); a time in the past runs at the current time.
func (d *des) at(t float64, fn func()) {
	if t < d.now {
		t = d.now
	}
	d.seq++
	heap.Push(&d.q, event{t: t, seq: d.seq, fn: fn})
}

// after schedules fn dt ms from now.
func (d *des) after(dt float64, fn func()) { d.at(d.now+dt, fn) }

// run processes events until the queue is empty or the clock passes until
// (until <= 0: no limit).
func (d *des) run(until float64) {
	for d.q.Len() > 0 {
		if until > 0 && d.q[0].t > until {
			return
		}
		e := heap.Pop(&d.q).(event)
		d.now = e.t
		d.n++
		e.fn()
	}
}

// z99 is the standard normal's 99th percentile.
var z99 = normQuantile(0.99)

// normQuantile is the standard normal quantile function.
func normQuantile(q float64) float64 { return math.Sqrt2 * math.Erfinv(2*q-1) }

// lognormal is a latency distribution in milliseconds.
type lognormal struct {
	Mu, Sigma float64
}

// fitLognormal returns the lognormal with the given median and 99th percentile.
func fitLognormal(p50, p99 float64) lognormal {
	return lognormal{Mu: math.Log(p50), Sigma: math.Log(p99/p50) / z99}
}

// FitLognormal returns the parameters (of the logarithm of milliseconds) of
// the lognormal with median p50 and 99th percentile p99, as the simulator
// draws its S3-like latencies; the benchmark's lognormal endpoint draws from
// the same distributions.
func FitLognormal(p50, p99 float64) (mu, sigma float64) {
	l := fitLognormal(p50, p99)
	return l.Mu, l.Sigma
}

func (l lognormal) sample(r *rand.Rand) float64 { return math.Exp(l.Mu + l.Sigma*r.NormFloat64()) }

func (l lognormal) cdf(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return 0.5 * math.Erfc(-(math.Log(x)-l.Mu)/(l.Sigma*math.Sqrt2))
}

func (l lognormal) quantile(q float64) float64 { return math.Exp(l.Mu + l.Sigma*normQuantile(q)) }

// quantiles returns the q-quantiles (q in [0, 1]) of sorted xs.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(len(sorted)-1, i))
	return sorted[i]
}
