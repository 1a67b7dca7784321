package perf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/bench/sim"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// EndpointLognormal is the endpoint kind that runs the real coordinator (as
// infra/wire builds it) over the in-memory store, each replica request
// delayed by a seeded draw from the simulator's S3-like lognormal
// distributions: the latency tail of the code itself, not of an emulator.
const EndpointLognormal = "lognormal"

// lognormalKinds are measured in the healthy phase, each SamplesPerKind
// times; slowKinds in the slow-replica phase.
var (
	lognormalKinds = []string{kRawGet, kRawPut, kRawFanGet, kRawHedgedGet, kRawFanPut, kRawFanPut33, kGet, kRMW, kBlindPut, kPut33}
	slowKinds      = []string{kRawGet, kRawPut, kRawFanGet, kRawFanPut, kRawFanPut33, kGet, kRMW, kBlindPut, kPut33}
)

// LognormalConfig tunes the lognormal endpoint.
type LognormalConfig struct {
	// SamplesPerKind is the number of operations of each kind per phase
	// (>= 20,000 gives a p99.9 with 20 samples above it).
	SamplesPerKind int
	// Concurrency is the number of clients, each with one operation in
	// flight (closed loop: they only wait for the drawn latencies).
	Concurrency int
	// Records is the number of keys, drawn uniformly (few collisions: the
	// healthy path is what is measured).
	Records int
	// GetP50Ms, GetP99Ms, PutP50Ms and PutP99Ms fit the lognormals (the
	// simulator's: 20/80 and 30/120 ms).
	GetP50Ms, GetP99Ms, PutP50Ms, PutP99Ms float64
	// Slow runs the slow-replica phase: node n1 SlowFactor times slower, and
	// every request stalls with probability StallProb for StallMin to
	// StallMax more.
	Slow       bool
	SlowFactor float64
	// TimeScale multiplies every drawn latency, so the machine's own
	// scheduling delays (tens of ms on a loaded 2-core machine) stay small
	// beside them; the ratios do not depend on it (only on sigma), the
	// absolute figures are TimeScale times S3's.
	TimeScale float64
	// HedgeQuantile is the coordinator's Config.HedgeQuantile on this
	// endpoint (0: every get asks all N replicas at once).
	HedgeQuantile float64
	// TwoPhasePut turns the coordinator's one-round put off on this
	// endpoint (Config.OneRoundPut), for an A/B run.
	TwoPhasePut        bool
	StallProb          float64
	StallMin, StallMax time.Duration
}

// DefaultLognormalConfig returns make bench's settings: 20,000 samples per
// kind, 256 clients.
func DefaultLognormalConfig() LognormalConfig {
	sc := sim.DefaultConfig()
	return LognormalConfig{
		SamplesPerKind: 20_000, Concurrency: 2048, Records: 10_000, TimeScale: 10,
		GetP50Ms: sc.GetP50Ms, GetP99Ms: sc.GetP99Ms, PutP50Ms: sc.PutP50Ms, PutP99Ms: sc.PutP99Ms,
		HedgeQuantile: 0.95,
		Slow:          true, SlowFactor: 10, StallProb: 0.0005, StallMin: 200 * time.Millisecond, StallMax: 500 * time.Millisecond,
	}
}

func (c LognormalConfig) validate() error {
	switch {
	case c.SamplesPerKind < 1:
		return fmt.Errorf("bench: lognormal samples=%d must be >= 1", c.SamplesPerKind)
	case c.Concurrency < 1 || c.Concurrency > 4096:
		return fmt.Errorf("bench: lognormal concurrency=%d must be in [1, 4096]", c.Concurrency)
	case c.Records < 1:
		return fmt.Errorf("bench: lognormal records=%d must be >= 1", c.Records)
	case !(c.GetP50Ms > 0 && c.GetP99Ms > c.GetP50Ms && c.PutP50Ms > 0 && c.PutP99Ms > c.PutP50Ms):
		return fmt.Errorf("bench: lognormal distributions need 0 < p50 < p99")
	case !(c.HedgeQuantile >= 0 && c.HedgeQuantile < 1):
		return fmt.Errorf("bench: hedge quantile=%v must be in [0, 1)", c.HedgeQuantile)
	case !(c.TimeScale >= 1 && c.TimeScale <= 100):
		return fmt.Errorf("bench: lognormal time scale=%v must be in [1, 100]", c.TimeScale)
	case c.SlowFactor < 1 || !(c.StallProb >= 0 && c.StallProb <= 1) || c.StallMax < c.StallMin:
		return fmt.Errorf("bench: slow-replica mode needs factor >= 1, stall probability in [0, 1], stall min <= max")
	}
	return nil
}

// LognormalResult is what the lognormal endpoint adds to its EndpointResult.
type LognormalResult struct {
	GetDist        sim.Dist `json:"getDistribution"`
	PutDist        sim.Dist `json:"putDistribution"`
	SamplesPerKind int      `json:"samplesPerKind"`
	TimeScale      float64  `json:"timeScale"`
	HedgeQuantile  float64  `json:"hedgeQuantile"`
	// OneRoundPut is the coordinator's Config.OneRoundPut, and OneRoundPuts
	// the puts that went in one round in the healthy phase.
	OneRoundPut  bool  `json:"oneRoundPut"`
	OneRoundPuts int64 `json:"oneRoundPuts"`
	HedgedReads  int64 `json:"hedgedReads"`
	// HedgedWrites counts the hinted replicas puts wrote beside slow
	// primaries (hedged writes) in the healthy phase.
	HedgedWrites int64 `json:"hedgedWrites"`
	Concurrency  int   `json:"concurrency"`
	Records      int   `json:"records"`
	// CPUPerOpUs is the process's CPU time (user + system) over the healthy
	// phase divided by its operations (every kind, raw ones included).
	CPUPerOpUs  float64     `json:"cpuPerOpUs"`
	ElapsedSec  float64     `json:"elapsedSec"`
	SlowReplica *SlowResult `json:"slowReplica,omitempty"`
}

// SlowResult is the slow-replica phase: its operations, and each Cartwheel
// operation's p99.9 over the healthy phase's.
type SlowResult struct {
	Node          string              `json:"node"`
	Factor        float64             `json:"factor"`
	StallProb     float64             `json:"stallProbability"`
	StallMinMs    float64             `json:"stallMinMs"`
	StallMaxMs    float64             `json:"stallMaxMs"`
	Ops           map[string]OpResult `json:"ops"`
	P999VsHealthy map[string]float64  `json:"p999VsHealthy"`
	ElapsedSec    float64             `json:"elapsedSec"`
	// HedgedReads and HedgedWrites count the coordinator's hedges in this
	// phase.
	HedgedReads  int64 `json:"hedgedReads"`
	HedgedWrites int64 `json:"hedgedWrites"`
}

// buildLognormal wires the coordinator over the latency store.
func (b *bencher) buildLognormal(lc LognormalConfig) (*latencyStore, error) {
	mem := kvmem.NewStore()
	gm, gs := sim.FitLognormal(lc.GetP50Ms*lc.TimeScale, lc.GetP99Ms*lc.TimeScale)
	pm, ps := sim.FitLognormal(lc.PutP50Ms*lc.TimeScale, lc.PutP99Ms*lc.TimeScale)
	lat := &latencyStore{inner: mem, seed: b.cfg.Seed, getMu: gm, getSigma: gs, putMu: pm, putSigma: ps,
		slowFactor: lc.SlowFactor, stallProb: lc.StallProb, stallMin: time.Duration(float64(lc.StallMin) * lc.TimeScale), stallMax: time.Duration(float64(lc.StallMax) * lc.TimeScale),
		rngs: map[kv.Location]*mrand.Rand{}}
	wc := wire.DefaultConfig()
	wc.Nodes, wc.Zones = b.cfg.Nodes, b.cfg.Zones
	wc.Params.N, wc.Params.R, wc.Params.W = replN, replR, replW
	wc.Bucket = "lognormal"
	wc.Coordinator.HedgeQuantile = lc.HedgeQuantile
	wc.Coordinator.OneRoundPut = !lc.TwoPhasePut
	wc.Wrap = b.countingPorts
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := wire.BuildWith(wc, wire.Ports{Store: lat, Hints: kvmem.NewHintQueue(30*time.Second, 20), Members: kvmem.NewMembership()}, quiet)
	if err != nil {
		return nil, err
	}
	b.app, b.coord = app, app.Coord
	for i := 1; i <= b.cfg.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		b.nodes = append(b.nodes, kv.Node{ID: id, Zone: b.cfg.Zones[(i-1)%len(b.cfg.Zones)], Weight: 1, Location: wire.NodeLocation(wc.Bucket, id)})
	}
	cluster, err := b.saveCluster(context.Background(), wc.Params, func(n kv.Node) replica {
		return replica{store: lat, plain: mem, loc: n.Location}
	})
	if err != nil {
		return nil, err
	}
	lat.slowLoc = cluster.Nodes[0].Location
	b.members.units = 1
	b.env = &endpointEnv{name: EndpointLognormal, desc: fmt.Sprintf("in-memory store, lognormal latencies (GET p50 %.0f ms p99 %.0f ms, PUT p50 %.0f ms p99 %.0f ms, all times %gx), independent per replica",
		lc.GetP50Ms, lc.GetP99Ms, lc.PutP50Ms, lc.PutP99Ms, lc.TimeScale), stop: func() {}}
	return lat, nil
}

// countPhase runs exactly perKind operations of each kind, spread over the
// workers (closed loop), and returns them with the process CPU time spent.
func (b *bencher) countPhase(ctx context.Context, name string, kinds []string, perKind int) (phaseResult, time.Duration) {
	var next atomic.Int64
	total := int64(perKind * len(kinds))
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	t0 := time.Now()
	for _, w := range b.workers {
		w.lat = map[string]*latencies{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				w.do(ctx, kinds[i%int64(len(kinds))], time.Now())
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.bg.Wait()
	b.coord.Wait()
	cpu := cpuTime() - cpu0
	res := phaseResult{name: name, lat: map[string]*latencies{}, elapsed: elapsed, ops: min(next.Load(), total)}
	for _, w := range b.workers {
		mergeLatencies(res.lat, w.lat)
	}
	return res, cpu
}

// runLognormal measures the coordinator on the lognormal endpoint.
func runLognormal(ctx context.Context, cfg Config, _ string, logw io.Writer) (*EndpointResult, error) {
	lc := cfg.Lognormal
	fmt.Fprintf(logw, "== endpoint %s (%d samples per kind, %d clients)\n", EndpointLognormal, lc.SamplesPerKind, lc.Concurrency)
	wcfg := cfg
	wcfg.Concurrency, wcfg.Records, wcfg.Theta = lc.Concurrency, lc.Records, 0
	b := newBencher(wcfg, logw)
	lat, err := b.buildLognormal(lc)
	if err != nil {
		return nil, err
	}
	if err := b.newWorkers(); err != nil {
		return nil, err
	}
	t := time.Now()
	if err := b.load(ctx); err != nil {
		return nil, err
	}
	b.logf("  loaded %d records in %s", wcfg.Records, time.Since(t).Round(time.Millisecond))
	lat.on.Store(true)
	gd := sim.Dist{P50Ms: lc.GetP50Ms, P99Ms: lc.GetP99Ms, Mu: lat.getMu, Sigma: lat.getSigma}
	pd := sim.Dist{P50Ms: lc.PutP50Ms, P99Ms: lc.PutP99Ms, Mu: lat.putMu, Sigma: lat.putSigma}
	// The raw hedged get's delay: one GET's p95, from the distribution.
	b.hedge = time.Duration(math.Exp(gd.Mu+gd.Sigma*1.6448536269514722) * float64(time.Millisecond))

	before := b.snapshotRequests()
	healthy, cpu := b.countPhase(ctx, "healthy", lognormalKinds, lc.SamplesPerKind)
	after := b.snapshotRequests()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := &EndpointResult{Endpoint: EndpointLognormal, Description: b.env.desc, Nodes: wcfg.Nodes, N: replN, R: replR, W: replW,
		CalibratedOpsPerSec: float64(healthy.ops) / healthy.elapsed.Seconds(), HedgeDelayMs: float64(b.hedge.Microseconds()) / 1000}
	res.Ops = b.opResults(healthy.lat, before, after)
	res.pooled = healthy.lat
	for _, l := range healthy.lat {
		res.Errors += l.Errors
	}
	ln := &LognormalResult{GetDist: gd, PutDist: pd, SamplesPerKind: lc.SamplesPerKind, TimeScale: lc.TimeScale, HedgeQuantile: lc.HedgeQuantile,
		HedgedReads: b.coord.Stats().HedgedReads.Load(), HedgedWrites: b.coord.Stats().HedgedWrites.Load(), Concurrency: lc.Concurrency, Records: lc.Records,
		OneRoundPut: !lc.TwoPhasePut, OneRoundPuts: b.coord.Stats().OneRoundPuts.Load(),
		CPUPerOpUs: cpuPerOpUs(cpu, healthy.ops), ElapsedSec: healthy.elapsed.Seconds()}
	res.Lognormal = ln
	res.CPUPerOpUs = ln.CPUPerOpUs
	b.logf("  healthy: %d ops in %s (%.0f ops/s), %.0f µs CPU per op", healthy.ops, healthy.elapsed.Round(time.Millisecond),
		res.CalibratedOpsPerSec, ln.CPUPerOpUs)

	if lc.Slow {
		lat.slow.Store(true)
		before := b.snapshotRequests()
		slow, _ := b.countPhase(ctx, "slow replica", slowKinds, lc.SamplesPerKind)
		after := b.snapshotRequests()
		lat.slow.Store(false)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s := &SlowResult{Node: b.nodes[0].ID, Factor: lc.SlowFactor, StallProb: lc.StallProb,
			StallMinMs: float64(lc.StallMin.Microseconds()) / 1000, StallMaxMs: float64(lc.StallMax.Microseconds()) / 1000,
			Ops: b.opResults(slow.lat, before, after), P999VsHealthy: map[string]float64{}, ElapsedSec: slow.elapsed.Seconds(),
			HedgedReads: b.coord.Stats().HedgedReads.Load() - ln.HedgedReads, HedgedWrites: b.coord.Stats().HedgedWrites.Load() - ln.HedgedWrites}
		for k, op := range s.Ops {
			if h, ok := res.Ops[k]; ok {
				s.P999VsHealthy[k] = ratio(op.Service.P999, h.Service.P999)
			}
		}
		ln.SlowReplica = s
		b.logf("  slow replica (%s %gx, stalls %g): %d ops in %s; get p99.9 %.2fx, rmw put p99.9 %.2fx of healthy", s.Node, s.Factor, s.StallProb,
			slow.ops, slow.elapsed.Round(time.Millisecond), s.P999VsHealthy[kGet], s.P999VsHealthy[kRMWPut])
	}
	res.Coordinator = b.coord.Stats().Snapshot()
	return res, nil
}

// lognormalTargets are the goals on the lognormal endpoint (checked,
// never asserted).
func (e *EndpointResult) lognormalTargets() {
	if e.Lognormal == nil {
		return
	}
	e.Targets = nil
	add := func(goal string, v float64, limit float64) {
		if v == 0 {
			return
		}
		e.Targets = append(e.Targets, Target{Goal: goal, Value: v, Limit: fmt.Sprintf("<= %.2f", limit), Met: v <= limit})
	}
	add("read-modify-write put p50 / one PUT p50", e.Ratios["rmw_put_vs_raw_put"].P50, 1.15)
	add("read-modify-write put p99.9 / one PUT p99.9", e.Ratios["rmw_put_vs_raw_put"].P999, 0.8)
	add("blind put p50 / one PUT p50", e.Ratios["blind_put_vs_raw_put"].P50, 1.6)
	if g, ok := e.Ops[kGet]; ok && g.RequestsPerOp != nil {
		add("GET requests per get", g.RequestsPerOp.Get, float64(e.R)+0.1)
	}
	if f, ok := e.Ops[kRawFanGet]; ok {
		add("get p99.9 / raw fan-out get p99.9", ratio(e.Ops[kGet].Service.P999, f.Service.P999), 1.0)
	}
	if s := e.Lognormal.SlowReplica; s != nil {
		add("slow replica: get p99.9 / healthy get p99.9", s.P999VsHealthy[kGet], 1.2)
		add("slow replica: rmw put p99.9 / healthy rmw put p99.9", s.P999VsHealthy[kRMWPut], 1.2)
	}
}
