package perf

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/bench/zipf"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// Operation kinds (histogram and JSON names).
const (
	kRawGet       = "raw_get"          // one GetObject
	kRawPut       = "raw_put"          // one conditional PutObject
	kRawFanGet    = "raw_fanout_get"   // N GetObject in parallel, wait for R
	kRawHedgedGet = "raw_hedged_get"   // R GetObject, the others after the hedge delay, wait for R
	kRawFanPut    = "raw_fanout_put"   // conditional PUT, then N-1 in parallel, wait for W-1
	kRawFanPut33  = "raw_fanout_put33" // the same, waiting for N-1
	kGet          = "get"              // Cartwheel get (R)
	kRMW          = "rmw"              // Cartwheel get, then put with its context (whole)
	kRMWPut       = "rmw_put"          // the put of a read-modify-write
	kUpdate       = "update"           // put with the context the client last saw for the key
	kBlindPut     = "blind_put"        // put without context, to a new key
	kPut33        = "put33"            // the put of a read-modify-write with W=N
)

// Replication parameters of the benchmarked cluster (the defaults, and the
// shape every raw pattern mirrors).
const (
	replN = 3
	replR = 2
	replW = 2
)

// probeKinds run in turn in the ProbeShare of every workload's slots.
var probeKinds = []string{kRawGet, kRawPut, kRawFanGet, kRawHedgedGet, kRawFanPut, kRawFanPut33, kGet, kRMW, kBlindPut, kPut33}

// countedKinds have their own request counters (rmw is get + rmw_put).
var countedKinds = []string{kRawGet, kRawPut, kRawFanGet, kRawHedgedGet, kRawFanPut, kRawFanPut33, kGet, kRMWPut, kUpdate, kBlindPut, kPut33}

type weighted struct {
	kind string
	w    float64
}

// workloadMixes are YCSB's core workloads A, B and F. An "update" carries the
// context the client last saw for the key (as a client with a context cache,
// like the CLI, does); F's read-modify-write carries a fresh get's context.
var workloadMixes = map[string][]weighted{
	"A": {{kGet, 0.5}, {kUpdate, 0.5}},
	"B": {{kGet, 0.95}, {kUpdate, 0.05}},
	"F": {{kGet, 0.5}, {kRMW, 0.5}},
}

// degradedMix runs during the healthy and one-node-down phases.
var degradedMix = []weighted{{kGet, 0.5}, {kRMW, 0.5}}

// bencher runs the benchmark against one endpoint set-up.
type bencher struct {
	cfg     Config
	log     io.Writer
	env     *endpointEnv
	app     *wire.App
	coord   *coordinator.Coordinator
	ring    *ring.Ring
	nodes   []kv.Node
	reps    map[string]replica // by node id
	members *countMembers
	req     map[string]*requests
	other   *requests
	ctxs    sync.Map // key -> the latest context seen for it
	bg      sync.WaitGroup
	hedge   time.Duration
	runID   string
	workers []*worker
}

type worker struct {
	b      *bencher
	id     int
	rng    *mrand.Rand
	keys   *zipf.Zipf
	raw    *rawWriter
	seq    int
	lat    map[string]*latencies
	missed int64 // slots skipped because the phase ended while behind schedule
}

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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func recordKey(i int) string { return fmt.Sprintf("user%06d", i) }

// setup starts the endpoints, provisions fresh resources, saves a cluster and
// builds the coordinator.
func setup(ctx context.Context, cfg Config, spec string, logw io.Writer) (*bencher, error) {
	env, err := startEndpoints(ctx, spec, cfg.Nodes, cfg.MotoServer, filepath.Join(os.TempDir(), "cartwheel-bench"), logw)
	if err != nil {
		return nil, err
	}
	b := &bencher{cfg: cfg, log: logw, env: env, other: &requests{}, req: map[string]*requests{}, runID: randomHex(4)}
	for _, k := range countedKinds {
		b.req[k] = &requests{}
	}
	if err := b.build(ctx); err != nil {
		env.stop()
		return nil, err
	}
	return b, nil
}

func (b *bencher) build(ctx context.Context) error {
	wc := wire.DefaultConfig()
	wc.AWS.Endpoint = b.env.main
	wc.Bucket = "cwbench-" + b.runID
	wc.Table = "cwbench-" + b.runID + "-members"
	wc.QueueName, wc.DLQName = "cwbench-"+b.runID+"-hints", "cwbench-"+b.runID+"-hints-dlq"
	wc.Nodes, wc.Zones = b.cfg.Nodes, b.cfg.Zones
	wc.Params.N, wc.Params.R, wc.Params.W = replN, replR, replW
	wc.Faults = true
	wc, err := wire.Provision(ctx, wc)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The coordinator as wire builds it, with counting wrappers around its
	// three ports (the store below them is wire's fault-injecting S3 store).
	wc.Wrap = func(p wire.Ports) wire.Ports {
		b.members = &countMembers{inner: p.Members, other: b.other}
		return wire.Ports{
			Store:   &countStore{inner: p.Store, other: b.other},
			Hints:   &countHints{inner: p.Hints, other: b.other},
			Members: b.members,
		}
	}
	app, err := wire.Build(ctx, wc, quiet)
	if err != nil {
		return err
	}
	b.app = app
	store, ok := app.Store.(*s3store.Store)
	if !ok {
		return fmt.Errorf("bench: the wired store is %T, not *s3store.Store", app.Store)
	}
	// The cluster: wire's layout (one bucket, a prefix per node), each node on
	// its own endpoint when there is one per node.
	for i := 1; i <= b.cfg.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		loc := wire.NodeLocation(wc.Bucket, id)
		loc.Endpoint = b.env.nodes[i-1]
		if loc.Endpoint != "" {
			if err := s3store.EnsureBucket(ctx, awsconf.S3(app.AWS, loc.Endpoint), loc.Bucket); err != nil {
				return err
			}
		}
		b.nodes = append(b.nodes, kv.Node{ID: id, Zone: b.cfg.Zones[(i-1)%len(b.cfg.Zones)], Weight: 1, Location: loc})
	}
	cluster, err := membership.Bootstrap(wc.Params, b.nodes)
	if err != nil {
		return err
	}
	if err := app.Members.Save(ctx, cluster, 0); err != nil {
		return err
	}
	b.nodes = cluster.Nodes
	body, _ := json.Marshal(cluster)
	rn := make([]ring.Node, 0, len(cluster.Nodes))
	b.reps = map[string]replica{}
	for _, n := range cluster.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
		b.reps[n.ID] = replica{client: store.Client(n.Location), bucket: n.Location.Bucket, prefix: n.Location.Prefix}
	}
	if b.ring, err = ring.New(cluster.Params.Q, rn, cluster.Owners); err != nil {
		return err
	}
	b.members.units = int64((len(body) + 100 + 4095) / 4096) // DynamoDB read units of the record
	b.coord = app.Coord
	return nil
}

// replicasFor returns the key's N primaries, as the coordinator computes them.
func (b *bencher) replicasFor(key string) []replica {
	prefs := b.ring.PreferenceList(key, replN, nil)
	out := make([]replica, len(prefs))
	for i, p := range prefs {
		out[i] = b.reps[p.Node]
	}
	return out
}

func (b *bencher) newWorkers() error {
	b.workers = nil
	for i := range b.cfg.Concurrency {
		rng := mrand.New(mrand.NewPCG(b.cfg.Seed, uint64(i)+1))
		z, err := zipf.New(b.cfg.Records, b.cfg.Theta, mrand.New(mrand.NewPCG(b.cfg.Seed^0x5eed, uint64(i)+1)))
		if err != nil {
			return err
		}
		b.workers = append(b.workers, &worker{b: b, id: i, rng: rng, keys: z, raw: newRawWriter()})
	}
	return nil
}

// value returns a fresh value (a new slice each time: the coordinator keeps
// referring to it while it finishes the write in the background).
func (w *worker) value() []byte {
	v := make([]byte, w.b.cfg.ValueSize)
	for i := 0; i < len(v); i += 8 {
		var x [8]byte
		binary.LittleEndian.PutUint64(x[:], w.rng.Uint64())
		copy(v[i:], x[:])
	}
	return v
}

// load writes every record through Cartwheel: a blind put, whose context the
// client keeps for its updates.
func (b *bencher) load(ctx context.Context) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	val := func(i int) []byte {
		v := make([]byte, b.cfg.ValueSize)
		binary.LittleEndian.PutUint64(v, uint64(i))
		return v
	}
	// More loaders than workers: loading is not measured, and a moto_server
	// answers faster with a few requests queued.
	for range max(b.cfg.Concurrency, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.cfg.Records || ctx.Err() != nil {
					return
				}
				key := recordKey(i)
				res, err := b.coord.Put(ctx, key, "", coordinator.Value{Data: val(i), ContentType: "application/octet-stream"}, coordinator.Options{})
				if err != nil {
					select {
					case errs <- fmt.Errorf("load %s: %w", key, err):
					default:
					}
					return
				}
				b.ctxs.Store(key, res.Context)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	b.coord.Wait()
	return ctx.Err()
}

// record adds one operation's latencies (or error) to the worker's histograms.
func (w *worker) record(kind string, intended, start time.Time, err error) {
	l := w.lat[kind]
	if l == nil {
		l = newLatencies()
		w.lat[kind] = l
	}
	if err != nil {
		l.Errors++
		return
	}
	end := time.Now()
	recordUS(l.Response, end.Sub(intended))
	recordUS(l.Service, end.Sub(start))
}

func (w *worker) cachedContext(key string) string {
	if v, ok := w.b.ctxs.Load(key); ok {
		return v.(string)
	}
	return ""
}

func (w *worker) get(ctx context.Context, key string, intended time.Time) (coordinator.GetResult, error) {
	start := time.Now()
	res, err := w.b.coord.Get(chargeTo(ctx, w.b.req[kGet]), key, coordinator.Options{})
	w.record(kGet, intended, start, err)
	if err == nil {
		w.b.ctxs.Store(key, res.Context)
	}
	return res, err
}

func (w *worker) put(ctx context.Context, kind, key, token string, wq int, intended time.Time) error {
	val := coordinator.Value{Data: w.value(), ContentType: "application/octet-stream"}
	start := time.Now()
	if intended.IsZero() {
		intended = start
	}
	res, err := w.b.coord.Put(chargeTo(ctx, w.b.req[kind]), key, token, val, coordinator.Options{W: wq})
	w.record(kind, intended, start, err)
	if err == nil {
		w.b.ctxs.Store(key, res.Context)
	}
	return err
}

// do runs one operation of the given kind scheduled at intended.
func (w *worker) do(ctx context.Context, kind string, intended time.Time) {
	b := w.b
	key := recordKey(w.keys.Next())
	switch kind {
	case kGet:
		_, _ = w.get(ctx, key, intended)
	case kUpdate:
		_ = w.put(ctx, kUpdate, key, w.cachedContext(key), 0, intended)
	case kRMW, kPut33:
		start := time.Now()
		g, err := w.get(ctx, key, intended)
		if err == nil {
			// The put's own latency runs from its own start: it follows the get
			// at once, so it cannot be behind schedule.
			putKind, wq := kRMWPut, 0
			if kind == kPut33 {
				putKind, wq = kPut33, replN
			}
			err = w.put(ctx, putKind, key, g.Context, wq, time.Time{})
		}
		if kind == kRMW {
			w.record(kRMW, intended, start, err)
		}
	case kBlindPut:
		w.seq++
		fresh := fmt.Sprintf("new/%s/w%d/%d", b.runID, w.id, w.seq)
		_ = w.put(ctx, kBlindPut, fresh, "", 0, intended)
	default:
		w.doRaw(ctx, kind, key, intended)
	}
}

func (w *worker) doRaw(ctx context.Context, kind, key string, intended time.Time) {
	b := w.b
	reps := b.replicasFor(key)
	req := b.req[kind]
	var val []byte
	if kind == kRawPut || kind == kRawFanPut || kind == kRawFanPut33 {
		val = w.value()
	}
	start := time.Now()
	var err error
	var n int
	switch kind {
	case kRawGet:
		err = getObject(ctx, reps[0], rawReadName(key))
		req.get.Add(1)
	case kRawFanGet:
		n, err = fanGet(ctx, &b.bg, reps, rawReadName(key), replR)
		req.get.Add(int64(n))
	case kRawHedgedGet:
		n, err = hedgedGet(ctx, &b.bg, reps, rawReadName(key), replR, b.hedge)
		req.get.Add(int64(n))
	case kRawPut:
		n, err = w.raw.put(ctx, reps[0], 0, rawWriteName(w.id, key), val)
		req.put.Add(int64(n))
	case kRawFanPut:
		n, err = fanPut(ctx, &b.bg, w.raw, reps, rawWriteName(w.id, key), val, replW)
		req.put.Add(int64(n))
	case kRawFanPut33:
		n, err = fanPut(ctx, &b.bg, w.raw, reps, rawWriteName(w.id, key), val, replN)
		req.put.Add(int64(n))
	default:
		panic("bench: unknown kind " + kind)
	}
	w.record(kind, intended, start, err)
}

// pick draws a kind: a probe with probability probeShare, else from mix.
func pick(rng *mrand.Rand, mix []weighted, probeShare float64) (string, bool) {
	if probeShare > 0 && rng.Float64() < probeShare {
		return probeKinds[rng.IntN(len(probeKinds))], true
	}
	u := rng.Float64()
	for _, m := range mix {
		if u < m.w {
			return m.kind, false
		}
		u -= m.w
	}
	return mix[len(mix)-1].kind, false
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
		for k, l := range w.lat {
			if res.lat[k] == nil {
				res.lat[k] = newLatencies()
			}
			res.lat[k].merge(l)
		}
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

func (b *bencher) logf(format string, args ...any) {
	fmt.Fprintf(b.log, format+"\n", args...)
}

// runEndpoint runs the whole benchmark against one endpoint set-up.
func runEndpoint(ctx context.Context, cfg Config, spec string, logw io.Writer) (*EndpointResult, error) {
	fmt.Fprintf(logw, "== endpoint %s\n", spec)
	b, err := setup(ctx, cfg, spec, logw)
	if err != nil {
		return nil, err
	}
	defer b.env.stop()
	if err := b.newWorkers(); err != nil {
		return nil, err
	}
	res := &EndpointResult{Endpoint: spec, Description: b.env.desc, Nodes: cfg.Nodes, N: replN, R: replR, W: replW}

	t := time.Now()
	if err := b.load(ctx); err != nil {
		return nil, err
	}
	b.logf("  loaded %d records in %s", cfg.Records, time.Since(t).Round(time.Millisecond))

	// Calibration: closed loop, workload F (the heaviest: a read-modify-write
	// is two operations in one slot) with the probes, so that no workload
	// runs above capacity.
	b.hedge = 20 * time.Millisecond
	cal := b.phase(ctx, "calibrate", workloadMixes["F"], cfg.ProbeShare, 0, cfg.CalibrateDuration)
	capacity := float64(cal.ops) / cal.elapsed.Seconds()
	rate := cfg.Rate
	if rate == 0 {
		rate = cfg.RateFraction * capacity
	}
	rate = max(rate, 1)
	b.adaptHedge(cal.lat)
	res.CalibratedOpsPerSec, res.TargetOpsPerSec, res.HedgeDelayMs = capacity, rate, float64(b.hedge.Microseconds())/1000
	b.logf("  calibrated: %.0f ops/s closed-loop with %d workers; running at %.0f ops/s; hedge delay %s", capacity, cfg.Concurrency, rate, b.hedge.Round(10*time.Microsecond))
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// The workloads. Requests per operation are counted over them only.
	before := b.snapshotRequests()
	pooled := map[string]*latencies{}
	for _, wl := range cfg.Workloads {
		wl = strings.ToUpper(wl)
		p := b.phase(ctx, wl, workloadMixes[wl], cfg.ProbeShare, rate, cfg.PhaseDuration)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.Workloads = append(res.Workloads, workloadResult(p, wl))
		for k, l := range p.lat {
			if pooled[k] == nil {
				pooled[k] = newLatencies()
			}
			pooled[k].merge(l)
		}
		b.adaptHedge(pooled)
		b.logf("  workload %s: %d ops in %s (%.0f ops/s, %d workload ops/s), %d slots missed", wl, p.ops, p.elapsed.Round(time.Millisecond),
			float64(p.ops)/p.elapsed.Seconds(), int(float64(p.cwOps)/p.elapsed.Seconds()), p.missed)
	}
	after := b.snapshotRequests()
	res.HedgeDelayMs = float64(b.hedge.Microseconds()) / 1000
	res.Ops = map[string]OpResult{}
	for k, l := range pooled {
		ops := l.Service.TotalCount() + l.Errors
		op := OpResult{Response: summarize(l.Response), Service: summarize(l.Service), Errors: l.Errors}
		if _, ok := b.req[k]; ok && ops > 0 {
			op.RequestsPerOp = perOp(diffCounts(after[k], before[k]), ops)
		}
		res.Ops[k] = op
		res.Errors += l.Errors
	}
	// A read-modify-write's requests are its get's and its put's.
	if g, p := res.Ops[kGet], res.Ops[kRMWPut]; g.RequestsPerOp != nil && p.RequestsPerOp != nil {
		if rmw, ok := res.Ops[kRMW]; ok {
			rmw.RequestsPerOp = addPerOp(g.RequestsPerOp, p.RequestsPerOp)
			res.Ops[kRMW] = rmw
		}
	}
	res.pooled = pooled
	res.RawConflicts = b.rawConflictCount()

	if cfg.DegradedDuration > 0 {
		if err := b.degraded(ctx, rate, res); err != nil {
			return nil, err
		}
	}
	res.Coordinator = b.coord.Stats().Snapshot()
	return res, nil
}

// adaptHedge sets the hedge delay to the p95 of one raw GET measured so far,
// once there are 20 samples (before that: 20 ms, or the calibration's).
func (b *bencher) adaptHedge(lat map[string]*latencies) {
	if l := lat[kRawGet]; l != nil && l.Service.TotalCount() >= 20 {
		b.hedge = time.Duration(l.Service.ValueAtQuantile(95)) * time.Microsecond
	}
}

func (b *bencher) rawConflictCount() int64 {
	var n int64
	for _, w := range b.workers {
		w.raw.mu.Lock()
		n += w.raw.conflicts
		w.raw.mu.Unlock()
	}
	return n
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

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func workloadResult(p phaseResult, name string) WorkloadResult {
	w := WorkloadResult{Workload: name, ElapsedSec: p.elapsed.Seconds(), TargetOpsPerSec: p.rate,
		OpsPerSec: float64(p.ops) / p.elapsed.Seconds(), WorkloadOpsPerSec: float64(p.cwOps) / p.elapsed.Seconds(),
		MissedSlots: p.missed, Ops: map[string]Summary{}}
	kinds := make([]string, 0, len(p.lat))
	for k := range p.lat {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	own := map[string]bool{}
	for _, m := range workloadMixes[name] {
		own[m.kind] = true
		if m.kind == kRMW {
			own[kRMWPut] = true
		}
	}
	for _, k := range kinds {
		if own[k] {
			w.Ops[k] = summarize(p.lat[k].Response)
			w.Errors += p.lat[k].Errors
		}
	}
	return w
}

// Run runs the benchmark against every configured endpoint, writes the results
// into cfg.OutDir and prints a summary to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	res := newResult(cfg)
	for _, spec := range cfg.Endpoints {
		run := runEndpoint
		if spec == EndpointLognormal {
			run = runLognormal
		}
		er, err := run(ctx, cfg, spec, logw)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, ErrNoMoto) {
				fmt.Fprintf(logw, "  SKIPPED %s: %v\n", spec, err)
				res.Skipped = append(res.Skipped, Skipped{Endpoint: spec, Reason: err.Error()})
				continue
			}
			return nil, fmt.Errorf("bench on %s: %w", spec, err)
		}
		er.finish(res.Prices)
		res.Endpoints = append(res.Endpoints, er)
	}
	if len(res.Endpoints) == 0 {
		return nil, fmt.Errorf("bench: no endpoint could run (%d skipped)", len(res.Skipped))
	}
	res.chooseHeadline()
	res.Lambda = readLambda(cfg.LambdaJSON)
	if err := res.write(cfg.OutDir); err != nil {
		return nil, err
	}
	res.printSummary(out)
	return res, nil
}
