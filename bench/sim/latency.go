package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/cartwheel/cartwheel/core/quorum"
	"github.com/cartwheel/cartwheel/core/ring"
)

// Part (a): with replica latencies drawn independently (as real S3 buckets in
// different zones give), what do quorum operations cost relative to one
// request? A discrete-event simulation over the real ring and the real quorum
// accumulators, beside the order-statistics theory computed numerically from
// the same distributions.

// Dist describes a fitted latency distribution.
type Dist struct {
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	Mu    float64 `json:"mu"`
	Sigma float64 `json:"sigma"`
}

// LatencyRow is one operation: simulated and theoretical percentiles (ms)
// and the simulated ones relative to one request of the kind it is made of.
type LatencyRow struct {
	Op          string  `json:"op"`
	Base        string  `json:"relativeTo"`
	SimP50      float64 `json:"simP50Ms"`
	SimP99      float64 `json:"simP99Ms"`
	SimP999     float64 `json:"simP999Ms"`
	TheoryP50   float64 `json:"theoryP50Ms"`
	TheoryP99   float64 `json:"theoryP99Ms"`
	TheoryP999  float64 `json:"theoryP999Ms"`
	P50VsOne    float64 `json:"p50_vs_one_request"`
	P99VsOne    float64 `json:"p99_vs_one_request"`
	P999VsOne   float64 `json:"p999_vs_one_request"`
	Requests    float64 `json:"requestsPerOp"`
	TheoryNotes string  `json:"theory"`
}

// LatencyResult is part (a)'s output.
type LatencyResult struct {
	Get        Dist         `json:"getDistribution"`
	Put        Dist         `json:"putDistribution"`
	OpsPerKind int          `json:"opsPerKind"`
	Nodes      int          `json:"nodes"`
	Q          int          `json:"q"`
	Events     int64        `json:"events"`
	Rows       []LatencyRow `json:"rows"`
	// GetP99IsGetQuantile is the quantile of one GET equal to a (3,2) read's
	// p99 (theory: 94.15).
	GetP99IsGetQuantile float64 `json:"getP99IsOneGetQuantile"`
	HedgeDelayMs        float64 `json:"hedgeDelayMs"`
}

// rmwAsCoded is the read-modify-write put as the coordinator does it today:
// conditional PUTs on the coordinating replica and on the other replica the
// get's context saw (a (3,2) get's context holds the two that answered
// first), a GET then a PUT on the third.
const rmwAsCoded = "rmw put as coded (3,2)"

const (
	simN = 3
	simR = 2
	simW = 2
)

// buildRing claims q partitions over s nodes in zones a, b, c.
func buildRing(s, q int, zones []string) (*ring.Ring, []ring.Node, error) {
	nodes := make([]ring.Node, s)
	for i := range nodes {
		nodes[i] = ring.Node{ID: fmt.Sprintf("n%03d", i), Zone: zones[i%len(zones)], Weight: 1}
	}
	owners, err := ring.Claim(q, nodes, nil)
	if err != nil {
		return nil, nil, err
	}
	r, err := ring.New(q, nodes, owners)
	return r, nodes, err
}

func runLatency(cfg Config) (LatencyResult, error) {
	get := fitLognormal(cfg.GetP50Ms, cfg.GetP99Ms)
	put := fitLognormal(cfg.PutP50Ms, cfg.PutP99Ms)
	res := LatencyResult{
		Get:        Dist{P50Ms: cfg.GetP50Ms, P99Ms: cfg.GetP99Ms, Mu: get.Mu, Sigma: get.Sigma},
		Put:        Dist{P50Ms: cfg.PutP50Ms, P99Ms: cfg.PutP99Ms, Mu: put.Mu, Sigma: put.Sigma},
		OpsPerKind: cfg.LatencyOps, Nodes: cfg.Nodes, Q: cfg.Q,
	}
	rg, _, err := buildRing(cfg.Nodes, cfg.Q, []string{"a", "b", "c"})
	if err != nil {
		return res, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xa))
	d := &des{}
	hedge := get.quantile(0.95)
	res.HedgeDelayMs = hedge

	kinds := []string{"GET", "PUT", "get (3,2)", "hedged get (3,2)", "put (3,2)", "put (3,3)", "blind put (3,2)", rmwAsCoded}
	lat := make(map[string][]float64, len(kinds))
	reqs := make(map[string]int, len(kinds))
	done := func(kind string, start float64) { lat[kind] = append(lat[kind], d.now-start) }
	pl := make(map[int][]string) // partition -> primaries, cached

	// fanOutWrite sends the committed version to the other replicas and
	// counts acks with the real write quorum, finishing when it is won.
	// With readFirst, the last replica is read before it is written (the
	// one a get's context did not see).
	fanOutWrite := func(kind string, start float64, nodes []string, need int, readFirst bool) {
		acc := quorum.NewWrite(need, len(nodes))
		acc.Record(nodes[0], true) // the coordinating replica committed
		if acc.Vote() == quorum.Won {
			done(kind, start)
			return
		}
		finished := false
		for i, n := range nodes[1:] {
			reqs[kind]++
			lat := put.sample(rng)
			if readFirst && i == len(nodes)-2 {
				reqs[kind]++
				lat += get.sample(rng)
			}
			d.after(lat, func() {
				if acc.Record(n, true) == quorum.Won && !finished {
					finished = true
					done(kind, start)
				}
			})
		}
	}
	// Operations arrive 0.1 ms apart, kinds in turn; latencies are
	// independent, so the arrival process does not matter.
	for i := range cfg.LatencyOps * len(kinds) {
		kind := kinds[i%len(kinds)]
		d.at(float64(i)*0.1, func() {
			start := d.now
			p := rg.Partition(fmt.Sprintf("key-%d", rng.IntN(1_000_000)))
			nodes, ok := pl[p]
			if !ok {
				nodes = rg.PrimariesOfPartition(p, simN)
				pl[p] = nodes
			}
			switch kind {
			case "GET":
				reqs[kind]++
				d.after(get.sample(rng), func() { done(kind, start) })
			case "PUT":
				reqs[kind]++
				d.after(put.sample(rng), func() { done(kind, start) })
			case "get (3,2)", "hedged get (3,2)":
				acc := quorum.NewRead(simR, simN, func(a, _ int) int { return a }, func(a, b int) bool { return a == b })
				finished := false
				sent := 0
				send := func(n string) {
					sent++
					reqs[kind]++
					d.after(get.sample(rng), func() {
						if acc.Record(n, 1) == quorum.Won && !finished {
							finished = true
							done(kind, start)
						}
					})
				}
				first := simN
				if kind == "hedged get (3,2)" {
					first = simR
				}
				for _, n := range nodes[:first] {
					send(n)
				}
				if first < simN {
					d.after(hedge, func() {
						if !finished {
							for _, n := range nodes[sent:] {
								send(n)
							}
						}
					})
				}
			case "put (3,2)", "put (3,3)":
				need := simW
				if kind == "put (3,3)" {
					need = simN
				}
				reqs[kind]++
				d.after(put.sample(rng), func() { fanOutWrite(kind, start, nodes, need, false) })
			case rmwAsCoded:
				reqs[kind]++
				d.after(put.sample(rng), func() { fanOutWrite(kind, start, nodes, simW, true) })
			case "blind put (3,2)":
				// No context: the coordinating replica is read, then written,
				// then the others.
				reqs[kind] += 2
				d.after(get.sample(rng), func() {
					d.after(put.sample(rng), func() { fanOutWrite(kind, start, nodes, simW, false) })
				})
			}
		})
	}
	d.run(0)
	res.Events = d.n

	th := newTheory(get, put)
	base := map[string]string{"GET": "GET", "PUT": "PUT", "get (3,2)": "GET", "hedged get (3,2)": "GET",
		"put (3,2)": "PUT", "put (3,3)": "PUT", "blind put (3,2)": "PUT", rmwAsCoded: "PUT"}
	one := map[string][3]float64{}
	for _, k := range kinds {
		xs := lat[k]
		slices.Sort(xs)
		q := [3]float64{quantile(xs, 0.5), quantile(xs, 0.99), quantile(xs, 0.999)}
		if k == "GET" || k == "PUT" {
			one[k] = q
		}
		t, note := th.quantiles(k)
		res.Rows = append(res.Rows, LatencyRow{
			Op: k, Base: base[k], SimP50: q[0], SimP99: q[1], SimP999: q[2],
			TheoryP50: t[0], TheoryP99: t[1], TheoryP999: t[2],
			Requests: float64(reqs[k]) / float64(len(xs)), TheoryNotes: note,
		})
	}
	for i := range res.Rows {
		r := &res.Rows[i]
		o := one[r.Base]
		r.P50VsOne, r.P99VsOne, r.P999VsOne = r.SimP50/o[0], r.SimP99/o[1], r.SimP999/o[2]
	}
	res.GetP99IsGetQuantile = 100 * quorumQuantile(0.99)
	return res, nil
}

// quorumQuantile returns p such that the 2nd fastest of 3 independent
// replies is below one reply's p-quantile with probability q: solves
// 3p^2 - 2p^3 = q.
func quorumQuantile(q float64) float64 {
	lo, hi := 0.0, 1.0
	for range 100 {
		m := (lo + hi) / 2
		if 3*m*m-2*m*m*m < q {
			lo = m
		} else {
			hi = m
		}
	}
	return (lo + hi) / 2
}

// theory computes the exact distributions of the operations on a fine time
// grid (probability masses per bin, convolved numerically).
type theory struct {
	get, put lognormal
	dt       float64
	n        int
}

func newTheory(get, put lognormal) *theory {
	// Wide enough for p99.9 of a GET and two PUTs in a row, with bins of
	// about 1% of a median.
	hi := 1.5 * (get.quantile(0.99999) + 2*put.quantile(0.99999))
	n := 4000
	return &theory{get: get, put: put, dt: hi / float64(n), n: n}
}

// mass discretizes a CDF into n bins of width dt.
func (t *theory) mass(cdf func(float64) float64) []float64 {
	m := make([]float64, t.n)
	prev := 0.0
	for i := range m {
		c := cdf(float64(i+1) * t.dt)
		m[i] = c - prev
		prev = c
	}
	return m
}

func (t *theory) conv(a, b []float64) []float64 {
	out := make([]float64, t.n)
	last := len(b) - 1
	for last > 0 && b[last] < 1e-15 {
		last--
	}
	for i, x := range a {
		if x < 1e-15 {
			continue
		}
		for j := 0; j <= last && i+j < t.n; j++ {
			out[i+j] += x * b[j]
		}
	}
	return out
}

// q returns the q-quantile of masses m that went through convs
// convolutions, interpolating linearly within the bin. Bin i holds
// (i*dt, (i+1)*dt]; each convolution of two such grids puts the mass of
// sums centred on (k+1)*dt into bin k, half a bin early, hence the shift.
func (t *theory) q(m []float64, q float64, convs int) float64 {
	c := 0.0
	for i, x := range m {
		if c+x >= q {
			return (float64(i) + (q-c)/x + 0.5*float64(convs)) * t.dt
		}
		c += x
	}
	return math.Inf(1)
}

func (t *theory) quantiles(kind string) ([3]float64, string) {
	qs := [3]float64{0.5, 0.99, 0.999}
	var out [3]float64
	var m []float64
	convs := 1
	note := ""
	putM := func() []float64 { return t.mass(t.put.cdf) }
	min2 := func() []float64 {
		return t.mass(func(x float64) float64 { f := t.put.cdf(x); return 1 - (1-f)*(1-f) })
	}
	max2 := func() []float64 {
		return t.mass(func(x float64) float64 { f := t.put.cdf(x); return f * f })
	}
	switch kind {
	case "GET":
		for i, q := range qs {
			out[i] = t.get.quantile(q)
		}
		return out, "lognormal quantiles"
	case "PUT":
		for i, q := range qs {
			out[i] = t.put.quantile(q)
		}
		return out, "lognormal quantiles"
	case "get (3,2)":
		for i, q := range qs {
			out[i] = t.get.quantile(quorumQuantile(q))
		}
		return out, fmt.Sprintf("2nd of 3: p50 = one GET's p50, p99 = one GET's p%.2f, p99.9 = one GET's p%.2f",
			100*quorumQuantile(0.99), 100*quorumQuantile(0.999))
	case "hedged get (3,2)", rmwAsCoded:
		return [3]float64{}, "simulated only"
	case "put (3,2)":
		m = t.conv(putM(), min2())
		note = "coordinating PUT + the faster of the other two"
	case "put (3,3)":
		m = t.conv(putM(), max2())
		note = "coordinating PUT + the slower of the other two"
	case "blind put (3,2)":
		m = t.conv(t.conv(t.mass(t.get.cdf), putM()), min2())
		convs = 2
		note = "GET + PUT at the coordinating replica + the faster of the other two PUTs"
	}
	for i, q := range qs {
		out[i] = t.q(m, q, convs)
	}
	return out, note
}
