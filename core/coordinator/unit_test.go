package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
	"github.com/cartwheel/cartwheel/internal/testclock"
)

// ---- test environment ------------------------------------------------------

// fakeClock is a settable clock for Deps.Now.
// fakeClock is the tests' manual clock.
type fakeClock = testclock.Clock

func newClock() *fakeClock { return testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) }

// countingMembers counts Load calls.
type countingMembers struct {
	kv.Membership
	loads atomic.Int64
}

func (m *countingMembers) Load(ctx context.Context) (kv.Cluster, error) {
	m.loads.Add(1)
	return m.Membership.Load(ctx)
}

// logRecorder is a slog handler keeping every message, for asserting warnings.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.msgs, msg)
}

type env struct {
	t       *testing.T
	store   *kvmem.Store
	faults  *faults.Store
	hints   *kvmem.HintQueue
	members *countingMembers
	clock   *fakeClock
	logs    *logRecorder
	cluster kv.Cluster
	seq     atomic.Uint64
}

// newEnv bootstraps nodes n1..nN (zones z1..z3 round-robin, N=3 R=2 W=2, Q=64).
func newEnv(t *testing.T, nodes int) *env {
	t.Helper()
	e := &env{
		t:       t,
		store:   kvmem.NewStore(),
		hints:   kvmem.NewHintQueue(time.Minute, 0),
		members: &countingMembers{Membership: kvmem.NewMembership()},
		clock:   newClock(),
		logs:    &logRecorder{},
	}
	e.faults = faults.New(e.store, func() float64 { return 1 }, nil)
	p := kv.DefaultParams()
	p.Q = 64
	var ns []kv.Node
	for i := 1; i <= nodes; i++ {
		ns = append(ns, kv.Node{
			ID: fmt.Sprintf("n%d", i), Zone: fmt.Sprintf("z%d", (i-1)%3+1), Weight: 1,
			Location: kv.Location{Bucket: "cw", Prefix: fmt.Sprintf("n%d/", i)},
		})
	}
	c, err := membership.Bootstrap(p, ns)
	if err != nil {
		t.Fatal(err)
	}
	e.save(c)
	return e
}

func (e *env) save(c kv.Cluster) {
	e.t.Helper()
	if err := e.members.Save(context.Background(), c, e.cluster.Epoch); err != nil {
		e.t.Fatal(err)
	}
	e.cluster = c
}

// removeNode removes node id from the cluster: the plan, then its commit.
func (e *env) removeNode(id string) {
	e.t.Helper()
	c, err := membership.RemoveNode(e.cluster, id)
	if err == nil {
		c, err = membership.Commit(c)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.save(c)
}

func (e *env) setState(id string, s kv.NodeState) {
	e.t.Helper()
	c, err := membership.SetState(e.cluster, id, s)
	if err != nil {
		e.t.Fatal(err)
	}
	e.save(c)
}

func (e *env) config() Config {
	cfg := DefaultConfig()
	cfg.ClusterTTL = 0
	cfg.SuspectFor = 0
	cfg.ReplicaTimeout = time.Minute
	return cfg
}

func (e *env) deps() Deps {
	return Deps{
		Store: e.faults, Hints: e.hints, Members: e.members,
		Now: e.clock.Now, Rand: func() uint64 { return e.seq.Add(1) },
		Log: slog.New(e.logs),
	}
}

func (e *env) coord(edit ...func(*Config)) *Coordinator {
	e.t.Helper()
	cfg := e.config()
	for _, f := range edit {
		f(&cfg)
	}
	co, err := New(cfg, e.deps())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(co.Wait)
	return co
}

func (e *env) ring() *ring.Ring {
	e.t.Helper()
	var rn []ring.Node
	for _, n := range e.cluster.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	r, err := ring.New(e.cluster.Params.Q, rn, e.cluster.Owners)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) primaries(key string) []string { return e.ring().Primaries(key, e.cluster.Params.N) }
func (e *env) walk(key string) []string      { return e.ring().Walk(key) }

func (e *env) loc(id string) kv.Location {
	e.t.Helper()
	n, err := e.cluster.Node(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return n.Location
}

func (e *env) down(id string, down bool) {
	e.t.Helper()
	m := faults.Mode{}
	if down {
		m.Kind = "down"
	}
	if err := e.faults.Set(e.loc(id), m); err != nil {
		e.t.Fatal(err)
	}
}

// object reads node id's object name directly; ok is false when absent.
func (e *env) object(id, name, key string) (vclock.Object, bool) {
	e.t.Helper()
	b, err := e.store.Get(context.Background(), e.loc(id), name)
	if errors.Is(err, kv.ErrNotFound) {
		return vclock.Object{}, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	o, err := vclock.Decode(b.Data, vclock.DecodeLimits())
	if err != nil || o.Key != key {
		e.t.Fatalf("object %s on %s: key %q, %v", name, id, o.Key, err)
	}
	return o, true
}

// values returns the sorted live values of node id's replica of key.
func (e *env) values(id, key string) []string {
	e.t.Helper()
	o, ok := e.object(id, kv.DataName(key), key)
	if !ok {
		return nil
	}
	return liveValues(o.Live())
}

func liveValues(sibs []vclock.Sibling) []string {
	var out []string
	for _, s := range sibs {
		out = append(out, string(s.Value))
	}
	sort.Strings(out)
	return out
}

// takeHints receives and acknowledges every visible hint.
func (e *env) takeHints() []kv.Hint {
	e.t.Helper()
	var out []kv.Hint
	for {
		got, err := e.hints.Receive(context.Background(), 10, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(got) == 0 {
			return out
		}
		for _, r := range got {
			if r.Err != nil {
				e.t.Fatalf("poison message in the queue: %v", r.Err)
			}
			out = append(out, r.Hint)
			if err := e.hints.Ack(context.Background(), r.Receipt); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

func val(s string) Value { return Value{Data: []byte(s), ContentType: "text/plain"} }

func mustPut(t *testing.T, co *Coordinator, key, token, v string, opt Options) PutResult {
	t.Helper()
	p, err := co.Put(context.Background(), key, token, val(v), opt)
	if err != nil {
		t.Fatalf("put %q=%q: %v", key, v, err)
	}
	co.Wait()
	return p
}

func mustGet(t *testing.T, co *Coordinator, key string, opt Options) GetResult {
	t.Helper()
	g, err := co.Get(context.Background(), key, opt)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	co.Wait()
	return g
}

// ---- config, deps, New -----------------------------------------------------

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"bad limits", func(c *Config) { c.Limits.MaxSiblings = 0 }, "MaxSiblings"},
		{"zero replica timeout", func(c *Config) { c.ReplicaTimeout = 0 }, "ReplicaTimeout"},
		{"negative replica timeout", func(c *Config) { c.ReplicaTimeout = -time.Second }, "ReplicaTimeout"},
		{"zero CAS retries", func(c *Config) { c.CASRetries = 0 }, "CASRetries"},
		{"one CAS retry", func(c *Config) { c.CASRetries = 1 }, ""},
		{"negative TTL", func(c *Config) { c.ClusterTTL = -1 }, "ClusterTTL"},
		{"zero TTL", func(c *Config) { c.ClusterTTL = 0 }, ""},
		{"zero SuspectAfter", func(c *Config) { c.SuspectAfter = 0 }, "SuspectAfter"},
		{"negative SuspectFor", func(c *Config) { c.SuspectFor = -1 }, "SuspectFor"},
		{"zero SuspectFor", func(c *Config) { c.SuspectFor = 0 }, ""},
		{"prune", func(c *Config) { p := vclock.DefaultPrunePolicy(); c.Prune = &p }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "coordinator config: ") {
				t.Fatalf("Validate = %v, want a coordinator config error about %s", err, tc.want)
			}
			if co, err := New(cfg, newEnv(t, 3).deps()); err == nil || co != nil {
				t.Fatalf("New accepted an invalid config: %v", err)
			}
		})
	}
}

func TestDepsValidate(t *testing.T) {
	e := newEnv(t, 3)
	cases := []struct {
		field string
		edit  func(*Deps)
	}{
		{"Store", func(d *Deps) { d.Store = nil }},
		{"Hints", func(d *Deps) { d.Hints = nil }},
		{"Members", func(d *Deps) { d.Members = nil }},
		{"Now", func(d *Deps) { d.Now = nil }},
		{"Rand", func(d *Deps) { d.Rand = nil }},
	}
	for _, tc := range cases {
		d := e.deps()
		tc.edit(&d)
		co, err := New(e.config(), d)
		if err == nil || co != nil || !strings.Contains(err.Error(), tc.field+" is required") {
			t.Errorf("New without %s = %v, %v", tc.field, co, err)
		}
	}
	d := e.deps()
	d.Log = nil
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatalf("New without a logger: %v", err)
	}
	if co.log == nil {
		t.Fatal("nil Log must be replaced by a discarding logger")
	}
	// A coordinator does no I/O until the first request.
	if n := e.members.loads.Load(); n != 0 {
		t.Fatalf("New loaded membership %d times", n)
	}
	if e.faults.Counts().Total() != 0 {
		t.Fatal("New touched the store")
	}
	// And works with the discarding logger.
	mustPut(t, co, "k", "", "v", Options{})
}

// ---- stats ------------------------------------------------------------------

func TestLatencyPercentiles(t *testing.T) {
	var l latencies
	l.window = 4
	if got := l.percentiles(50, 99); !slices.Equal(got, []float64{0, 0}) {
		t.Fatalf("empty window: %v", got)
	}
	l.add(1500 * time.Microsecond)
	if got := l.percentiles(0, 50, 100); !slices.Equal(got, []float64{1.5, 1.5, 1.5}) {
		t.Fatalf("one sample: %v", got)
	}
	for _, ms := range []int{2, 3, 4, 5, 6} { // 1.5 and 2 fall out of the window of 4
		l.add(time.Duration(ms) * time.Millisecond)
	}
	if len(l.buf) != 4 {
		t.Fatalf("window holds %d samples, want 4", len(l.buf))
	}
	if got := l.percentiles(0, 50, 100); !slices.Equal(got, []float64{3, 4, 6}) {
		t.Fatalf("after wrapping: %v, want [3 4 6]", got)
	}

	var big latencies
	big.window = 2048
	for i := 100; i >= 1; i-- { // order of arrival does not matter
		big.add(time.Duration(i) * time.Millisecond)
	}
	if got := big.percentiles(50, 99, 100); !slices.Equal(got, []float64{50, 99, 100}) {
		t.Fatalf("1..100 ms: p50/p99/p100 = %v", got)
	}
}

func TestStatsSnapshot(t *testing.T) {
	s := newStats(nil)
	counters := []*atomic.Int64{
		&s.Gets, &s.Puts, &s.Deletes, &s.QuorumFailures, &s.BackendGets, &s.BackendPuts,
		&s.BackendLists, &s.CASRetries, &s.ReadRepairs, &s.HintsQueued, &s.HintsDelivered,
		&s.CorruptReplicas, &s.SiblingRejects,
	}
	for i, c := range counters {
		s.add(c, int64(i+1))
	}
	s.sibling(3)
	s.sibling(7)
	s.sibling(5)
	for i := 1; i <= 100; i++ {
		s.observe(&s.GetLatency, time.Duration(i)*time.Millisecond)
		s.observe(&s.PutLatency, time.Duration(2*i)*time.Millisecond)
	}
	got := s.Snapshot()
	want := Snapshot{
		Gets: 1, Puts: 2, Deletes: 3, QuorumFailures: 4, BackendGets: 5, BackendPuts: 6,
		BackendLists: 7, CASRetries: 8, ReadRepairs: 9, HintsQueued: 10, HintsDelivered: 11,
		CorruptReplicas: 12, SiblingRejects: 13, MaxSiblings: 7,
		GetP50Ms: 50, GetP99Ms: 99, PutP50Ms: 100, PutP99Ms: 198,
	}
	if got != want {
		t.Fatalf("Snapshot =\n%+v\nwant\n%+v", got, want)
	}
}

func TestStatsMaxSiblingsConcurrent(t *testing.T) {
	s := newStats(nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.sibling((i*7 + g*13) % 1000)
			}
		}()
	}
	wg.Wait()
	if got := s.MaxSiblings.Load(); got != 999 {
		t.Fatalf("MaxSiblings = %d, want 999", got)
	}
}

// The coordinator's counters and latencies reflect its requests.
func TestStatsFromRequests(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "stats"
	prim := e.primaries(key)
	e.setState(prim[0], kv.StateDown) // a fallback stands in: reads LIST its hints
	p := mustPut(t, co, key, "", "v1", Options{})
	mustGet(t, co, key, Options{R: 3})
	if _, err := co.Delete(context.Background(), key, p.Context, Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	s := co.Stats().Snapshot()
	if s.Gets != 1 || s.Puts != 1 || s.Deletes != 1 {
		t.Fatalf("request counters %+v", s)
	}
	if s.BackendLists == 0 || s.BackendLists != co.Stats().BackendLists.Load() {
		t.Fatalf("Snapshot.BackendLists = %d, counter = %d", s.BackendLists, co.Stats().BackendLists.Load())
	}
	if s.BackendPuts == 0 || s.HintsQueued == 0 || s.MaxSiblings != 1 {
		t.Fatalf("backend counters %+v", s)
	}
	// The fake clock does not move during a request: latencies are 0.
	if s.GetP99Ms != 0 || s.PutP99Ms != 0 {
		t.Fatalf("latencies %+v with a frozen clock", s)
	}
}

// ---- health ---------------------------------------------------------------

func TestHealthHysteresis(t *testing.T) {
	const base = 10 * time.Second
	h := &health{after: 2, base: base, nodes: map[string]*nodeHealth{}}
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	h.record("a", false, at(0))
	if h.suspect("a", at(0)) {
		t.Fatal("suspect after 1 failure with SuspectAfter=2")
	}
	h.record("a", false, at(0))
	if !h.suspect("a", at(0)) || !h.suspect("a", at(base-1)) || h.suspect("a", at(base)) {
		t.Fatal("2 failures: want suspect for exactly the base period")
	}
	// Failures during the suspicion period do not extend it.
	h.record("a", false, at(5*time.Second))
	if h.suspect("a", at(base)) {
		t.Fatal("a failure while suspect extended the period")
	}
	// Each failed probe after a period doubles it, up to 8x.
	now := base
	for _, period := range []time.Duration{2 * base, 4 * base, 8 * base, 8 * base, 8 * base} {
		h.record("a", false, at(now))
		if !h.suspect("a", at(now+period-1)) || h.suspect("a", at(now+period)) {
			t.Fatalf("probe failed at %v: want suspect for %v", now, period)
		}
		now += period
	}
	if got := h.suspects(at(now - 1)); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("suspects = %v", got)
	}
	// One success forgets everything.
	h.record("a", true, at(now))
	if h.suspect("a", at(now)) || len(h.nodes) != 0 {
		t.Fatal("a success did not clear the node")
	}
	h.record("a", false, at(now))
	if h.suspect("a", at(now)) {
		t.Fatal("one failure after a success made the node suspect")
	}
	h.record("a", false, at(now))
	if !h.suspect("a", at(now+base-1)) || h.suspect("a", at(now+base)) {
		t.Fatal("after a success the period restarts at the base")
	}
	// A success for an unknown node is a no-op; nodes are independent.
	h.record("b", true, at(now))
	if h.suspect("b", at(now)) || len(h.suspects(at(now))) != 1 {
		t.Fatalf("suspects = %v", h.suspects(at(now)))
	}
}

func TestSuspectsRoutedAround(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord(func(c *Config) { c.SuspectAfter = 1; c.SuspectFor = 10 * time.Second })
	key := "flaky"
	prim := e.primaries(key)
	mustPut(t, co, key, "", "v", Options{})
	if s := co.Suspects(); len(s) != 0 {
		t.Fatalf("suspects on a healthy cluster: %v", s)
	}
	e.down(prim[0], true)
	e.down(prim[2], true)
	mustGet(t, co, key, Options{R: 1})
	want := []string{prim[0], prim[2]}
	sort.Strings(want)
	if got := co.Suspects(); !slices.Equal(got, want) {
		t.Fatalf("Suspects = %v, want %v (sorted)", got, want)
	}
	// While suspect, requests go to fallbacks instead: no request reaches them.
	e.faults.ResetCounts()
	before0, before2 := e.store.Counts(e.loc(prim[0])), e.store.Counts(e.loc(prim[2]))
	if g := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("get around suspects = %v", liveValues(g.Siblings))
	}
	if e.faults.Injected() != 0 {
		t.Fatalf("%d requests went to suspect nodes", e.faults.Injected())
	}
	if e.store.Counts(e.loc(prim[0])) != before0 || e.store.Counts(e.loc(prim[2])) != before2 {
		t.Fatal("suspect nodes were contacted")
	}
	// After the period they are tried again; the recovered one is cleared.
	e.clock.Advance(10 * time.Second)
	if got := co.Suspects(); len(got) != 0 {
		t.Fatalf("Suspects after the period = %v", got)
	}
	e.down(prim[0], false)
	mustGet(t, co, key, Options{R: 3})
	if got := co.Suspects(); !slices.Equal(got, []string{prim[2]}) {
		t.Fatalf("Suspects after a probe = %v, want only the still-down %s", got, prim[2])
	}
	// Its second period is twice as long.
	e.clock.Advance(19 * time.Second)
	if got := co.Suspects(); !slices.Equal(got, []string{prim[2]}) {
		t.Fatalf("second period ended early: %v", got)
	}
	e.clock.Advance(time.Second)
	if got := co.Suspects(); len(got) != 0 {
		t.Fatalf("second period did not end: %v", got)
	}
}

// ---- cluster views ---------------------------------------------------------

func TestViewTTLAndEpochChange(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord(func(c *Config) { c.ClusterTTL = 10 * time.Second })
	ctx := context.Background()
	cluster := func() kv.Cluster {
		t.Helper()
		c, err := co.Cluster(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := cluster(); c.Epoch != 1 || e.members.loads.Load() != 1 {
		t.Fatalf("first Cluster: epoch %d after %d loads", c.Epoch, e.members.loads.Load())
	}
	first := co.views.cur
	e.clock.Advance(5 * time.Second)
	cluster()
	e.setState("n1", kv.StateDown) // epoch 2
	e.clock.Advance(4 * time.Second)
	if c := cluster(); c.Epoch != 1 || e.members.loads.Load() != 1 {
		t.Fatalf("within the TTL: epoch %d after %d loads, want the cached epoch 1 and no reload", c.Epoch, e.members.loads.Load())
	}
	e.clock.Advance(time.Second)
	c := cluster()
	if n, _ := c.Node("n1"); c.Epoch != 2 || n.State != kv.StateDown || e.members.loads.Load() != 2 {
		t.Fatalf("after the TTL: epoch %d, n1 %s, %d loads", c.Epoch, n.State, e.members.loads.Load())
	}
	second := co.views.cur
	if second == first {
		t.Fatal("a new epoch did not build a new view")
	}
	// Same epoch after the TTL: the view is kept and its age reset.
	e.clock.Advance(10 * time.Second)
	cluster()
	if co.views.cur != second || e.members.loads.Load() != 3 {
		t.Fatalf("same epoch: view replaced=%v, %d loads", co.views.cur != second, e.members.loads.Load())
	}
	e.clock.Advance(9 * time.Second)
	cluster()
	if e.members.loads.Load() != 3 {
		t.Fatal("a refreshed view was reloaded before its TTL")
	}
	// Invalidate forces a reload within the TTL.
	co.Invalidate()
	cluster()
	if e.members.loads.Load() != 4 || co.views.cur == second {
		t.Fatalf("after Invalidate: %d loads, view replaced=%v", e.members.loads.Load(), co.views.cur != second)
	}
	// With membership unreachable the last known view keeps serving for
	// MaxStale past its TTL...
	e.members.Membership.(*kvmem.Membership).SetDown(true)
	e.clock.Advance(co.cfg.ClusterTTL + co.cfg.MaxStale - time.Second)
	if c := cluster(); c.Epoch != 2 {
		t.Fatalf("stale view while membership is down: epoch %d", c.Epoch)
	}
	if _, err := co.Put(ctx, "k", "", val("v"), Options{}); err != nil {
		t.Fatalf("put with membership down and a cached view: %v", err)
	}
	co.Wait()
	// ...and no longer: a commit may have replaced the owners it routes to.
	e.clock.Advance(2 * time.Second)
	if _, err := co.Put(ctx, "k", "", val("v"), Options{}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("put with a view older than MaxStale = %v", err)
	}
	// With no view at all, requests fail too.
	co.Invalidate()
	if _, err := co.Cluster(ctx); !errors.Is(err, kvmem.ErrDown) || !strings.Contains(err.Error(), "load membership") {
		t.Fatalf("Cluster with nothing cached and membership down = %v", err)
	}
	if _, err := co.Get(ctx, "k", Options{}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("Get = %v", err)
	}
	if _, err := co.Put(ctx, "k", "", val("v"), Options{}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("Put = %v", err)
	}
	if err := co.DeliverHint(ctx, kv.Hint{Key: "k", Intended: "n1", Fallback: "n2"}); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("DeliverHint = %v", err)
	}
}

func TestViewNoCluster(t *testing.T) {
	e := newEnv(t, 3)
	d := e.deps()
	d.Members = kvmem.NewMembership() // nothing saved
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.Get(context.Background(), "k", Options{}); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get with no cluster saved = %v, want ErrNotFound", err)
	}
}

func TestViewRejectsInvalidCluster(t *testing.T) {
	for name, edit := range map[string]func(*kv.Cluster){
		"bad params":    func(c *kv.Cluster) { c.Params.R = 9 },
		"unknown owner": func(c *kv.Cluster) { c.Owners[3] = "ghost" },
		"short owners":  func(c *kv.Cluster) { c.Owners = c.Owners[:10] },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 3)
			co := e.coord()
			mustPut(t, co, "k", "", "v", Options{})
			bad := e.cluster
			bad.Owners = slices.Clone(bad.Owners)
			bad.Epoch++
			edit(&bad)
			e.save(bad)
			if _, err := co.Get(context.Background(), "k", Options{}); err == nil {
				t.Fatal("Get served an invalid cluster")
			}
			if _, err := co.Cluster(context.Background()); err == nil {
				t.Fatal("Cluster returned an invalid cluster")
			}
		})
	}
}

// ---- requests: argument and limit errors ------------------------------------

func TestDeleteWithBadKey(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	for _, tok := range []string{"", "x"} {
		if _, err := co.Delete(context.Background(), "", tok, Options{}); !errors.Is(err, kv.ErrBadKey) {
			t.Fatalf("Delete of an empty key (token %q) = %v, want ErrBadKey", tok, err)
		}
	}
	if _, err := co.Delete(context.Background(), "k", "", Options{R: 7}); !errors.Is(err, kv.ErrBadRequest) {
		t.Fatalf("Delete with R=7 = %v, want ErrBadRequest", err)
	}
	if e.faults.Counts().Total() != 0 {
		t.Fatal("rejected requests reached the store")
	}
}

// A put whose replica object would exceed MaxObjectBytes is rejected before
// anything is written; resolving the siblings is still possible.
func TestTooLargeObjectRejected(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord(func(c *Config) { c.Limits.MaxValueBytes = 100; c.Limits.MaxObjectBytes = 150 })
	big := strings.Repeat("a", 80)
	mustPut(t, co, "k", "", big, Options{})
	data := func() []string {
		var out []string
		for _, id := range e.primaries("k") {
			b, _ := e.store.Get(context.Background(), e.loc(id), kv.DataName("k"))
			out = append(out, string(b.Data))
		}
		return out
	}
	before := data()
	_, err := co.Put(context.Background(), "k", "", val(strings.Repeat("b", 80)), Options{})
	if !errors.Is(err, kv.ErrTooManySiblings) || !strings.Contains(err.Error(), "bytes, over the limit of 150") {
		t.Fatalf("second blind put = %v, want ErrTooManySiblings for size", err)
	}
	co.Wait()
	if got := co.Stats().SiblingRejects.Load(); got != 1 {
		t.Fatalf("SiblingRejects = %d", got)
	}
	if !slices.Equal(data(), before) {
		t.Fatal("a rejected put changed a replica")
	}
	// The rejection is the client's fault, not the node's.
	if s := co.Suspects(); len(s) != 0 {
		t.Fatalf("a rejected put made nodes suspect: %v", s)
	}
	g := mustGet(t, co, "k", Options{})
	mustPut(t, co, "k", g.Context, strings.Repeat("c", 80), Options{})
	if got := mustGet(t, co, "k", Options{R: 3}); !slices.Equal(liveValues(got.Siblings), []string{strings.Repeat("c", 80)}) {
		t.Fatalf("after resolving: %v", liveValues(got.Siblings))
	}
}

func TestManySiblingsWarning(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord(func(c *Config) { c.Limits.WarnSiblings = 1 })
	mustPut(t, co, "k", "", "a", Options{})
	mustGet(t, co, "k", Options{})
	if e.logs.has("many siblings") {
		t.Fatal("warned about a single version")
	}
	mustPut(t, co, "k", "", "b", Options{})
	g := mustGet(t, co, "k", Options{})
	if len(g.Siblings) != 2 || !e.logs.has("many siblings") {
		t.Fatalf("%d siblings, warned=%v", len(g.Siblings), e.logs.has("many siblings"))
	}
	if got := co.Stats().MaxSiblings.Load(); got != 2 {
		t.Fatalf("MaxSiblings = %d", got)
	}
}

// With a prune policy, client writes prune old clock entries (never those of
// actors with live versions); without one, the clock keeps every entry.
func TestPruneOption(t *testing.T) {
	for _, prune := range []bool{false, true} {
		t.Run(fmt.Sprint("prune=", prune), func(t *testing.T) {
			e := newEnv(t, 3)
			co := e.coord(func(c *Config) {
				if prune {
					c.Prune = &vclock.PrunePolicy{Small: 1, Big: 1, Young: 0, Old: 0}
				}
			})
			key := "pruned"
			// History: five old actors, one of which still has a live version.
			old := vclock.Object{Key: key}
			for i := 1; i <= 5; i++ {
				old.Clock = append(old.Clock, vclock.Entry{Actor: vclock.Actor(fmt.Sprintf("old%d.1.x", i)), Counter: 1, Time: int64(i)})
			}
			old.Siblings = []vclock.Sibling{{Dot: vclock.Dot{Actor: "old1.1.x", Counter: 1}, Time: 1, Value: []byte("ancient")}}
			if err := old.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, id := range e.primaries(key) {
				if _, err := e.store.Put(context.Background(), e.loc(id), kv.DataName(key), vclock.Encode(old), "old1.1.x", ""); err != nil {
					t.Fatal(err)
				}
			}
			mustPut(t, co, key, "", "new", Options{}) // blind: a sibling of "ancient"
			for _, id := range e.primaries(key) {
				o, _ := e.object(id, kv.DataName(key), key)
				if got := liveValues(o.Live()); !slices.Equal(got, []string{"ancient", "new"}) {
					t.Fatalf("%s holds %v", id, got)
				}
			}
			// The version is committed (and pruned) at the coordinating
			// replica, the first primary.
			o, _ := e.object(e.primaries(key)[0], kv.DataName(key), key)
			if prune && (len(o.Clock) != 2 || o.Clock.Counter("old1.1.x") != 1) {
				t.Fatalf("pruned clock has %d entries (%v), want the 2 actors with live versions", len(o.Clock), o.Clock)
			}
			if !prune && len(o.Clock) != 6 {
				t.Fatalf("unpruned clock has %d entries (%v), want 6", len(o.Clock), o.Clock)
			}
		})
	}
}

// ---- replica failures ------------------------------------------------------

// hookOn fails or alters requests of one kind to one node's location.
func (e *env) hookOn(id string, op kvmem.Op, f func(ctx context.Context, name string) error) {
	loc := e.loc(id)
	e.store.SetHook(func(ctx context.Context, o kvmem.Op, l kv.Location, name string) error {
		if o == op && l == loc {
			return f(ctx, name)
		}
		return nil
	})
}

// Losing every conditional write at one replica exhausts CASRetries there: at
// the coordinating replica (the next primary coordinates) or at a replica
// being sent the version (a merge); either way a fallback stands in for it.
func TestCASRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		contended int  // index of the contended primary
		othersGet bool // the other primaries must hold the value
	}{
		{"commit", 0, true},
		{"merge", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 5)
			co := e.coord(func(c *Config) { c.CASRetries = 3 })
			key := "contended"
			prim := e.primaries(key)
			var puts atomic.Int64
			e.hookOn(prim[tc.contended], kvmem.OpPut, func(context.Context, string) error {
				puts.Add(1)
				return fmt.Errorf("lost race: %w", kv.ErrPrecondition)
			})
			if _, err := co.Put(context.Background(), key, "", val("v"), Options{W: 3}); err != nil {
				t.Fatalf("put with one contended replica: %v", err)
			}
			co.Wait()
			if puts.Load() != 3 || co.Stats().CASRetries.Load() != 3 {
				t.Fatalf("%d PUTs to %s, %d CAS retries; want 3 and 3", puts.Load(), prim[tc.contended], co.Stats().CASRetries.Load())
			}
			if tc.othersGet {
				for _, id := range prim[1:] {
					if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
						t.Fatalf("%s holds %v", id, got)
					}
				}
			}
			assertHintedFor(t, e, key, prim[tc.contended], "v")
		})
	}
}

// assertHintedFor checks that exactly one hint was queued, for intended, and
// that its fallback holds the hinted replica with the given value.
func assertHintedFor(t *testing.T, e *env, key, intended, value string) {
	t.Helper()
	hints := e.takeHints()
	if len(hints) != 1 || hints[0].Intended != intended || hints[0].Key != key {
		t.Fatalf("hints = %+v, want one for %s", hints, intended)
	}
	o, ok := e.object(hints[0].Fallback, kv.HintName(intended, key), key)
	if !ok || !slices.Equal(liveValues(o.Live()), []string{value}) {
		t.Fatalf("fallback %s holds no hinted replica of %q for %s", hints[0].Fallback, value, intended)
	}
}

// A replica whose PUT fails outright is skipped as coordinator.
func TestCommitWriteErrorTriesNextReplica(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "burning"
	prim := e.primaries(key)
	e.hookOn(prim[0], kvmem.OpPut, func(context.Context, string) error { return errors.New("disk on fire") })
	mustPut(t, co, key, "", "v", Options{})
	if got := e.values(prim[0], key); got != nil {
		t.Fatalf("failing replica holds %v", got)
	}
	for _, id := range prim[1:] {
		if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
			t.Fatalf("%s holds %v", id, got)
		}
	}
	// Every replica failing makes a quorum error listing the failures.
	e.store.SetHook(func(context.Context, kvmem.Op, kv.Location, string) error { return errors.New("disk on fire") })
	_, err := co.Put(context.Background(), key, "", val("w"), Options{})
	var qe *kv.QuorumError
	if !errors.As(err, &qe) || qe.Got != 0 || len(qe.Errs) != 3 || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("put with every replica failing = %v", err)
	}
}

// A failed hint enqueue fails that fallback write; the put still succeeds if
// W other replicas acknowledge, and otherwise reports the enqueue failure.
func TestHintEnqueueFailure(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "unhinted"
	prim := e.primaries(key)
	e.setState(prim[2], kv.StateDown)
	e.hints.SetDown(true)
	mustPut(t, co, key, "", "v1", Options{W: 2})
	if co.Stats().HintsQueued.Load() != 0 {
		t.Fatal("a hint was counted while the queue is down")
	}
	_, err := co.Put(context.Background(), key, "", val("v2"), Options{W: 3})
	co.Wait()
	if !errors.Is(err, kv.ErrQuorum) || !strings.Contains(err.Error(), "enqueue hint") {
		t.Fatalf("W=3 with the queue down = %v, want a quorum error naming the enqueue", err)
	}
}

// A stored object holding another key is treated as corrupt and repaired.
func TestReplicaWithWrongKeyIsCorrupt(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	key := "mine"
	mustPut(t, co, key, "", "v", Options{})
	prim := e.primaries(key)
	other, _ := vclock.Update(vclock.Object{Key: "theirs"}, nil, "x.1.1", vclock.Sibling{Value: []byte("alien")}, 1)
	loc := e.loc(prim[1])
	b, err := e.store.Get(context.Background(), loc, kv.DataName(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Put(context.Background(), loc, kv.DataName(key), vclock.Encode(other), "x.1.1", b.ETag); err != nil {
		t.Fatal(err)
	}
	g := mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v"}) || co.Stats().CorruptReplicas.Load() == 0 {
		t.Fatalf("get = %v, corrupt counted %d", liveValues(g.Siblings), co.Stats().CorruptReplicas.Load())
	}
	if got := e.values(prim[1], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("not repaired: %v", got)
	}
}

// A failing read repair is logged and not counted; the read still succeeds.
func TestReadRepairFailure(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	key := "unrepairable"
	prim := e.primaries(key)
	p := mustPut(t, co, key, "", "v1", Options{})
	e.down(prim[2], true)
	mustPut(t, co, key, p.Context, "v2", Options{W: 2})
	e.down(prim[2], false)
	e.hookOn(prim[2], kvmem.OpPut, func(context.Context, string) error { return errors.New("read-only") })
	g := mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v2"}) {
		t.Fatalf("get = %v", liveValues(g.Siblings))
	}
	if co.Stats().ReadRepairs.Load() != 0 || !e.logs.has("read repair failed") {
		t.Fatalf("repairs %d, logged=%v", co.Stats().ReadRepairs.Load(), e.logs.has("read repair failed"))
	}
	if got := e.values(prim[2], key); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("%s holds %v", prim[2], got)
	}
}

// Reads of hinted replicas: a fallback that cannot list or read is replaced
// by the next one in the walk.
func TestHintedReadFailures(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "hinted-read"
	prim := e.primaries(key)
	walk := e.walk(key)
	e.setState(prim[0], kv.StateDown)
	mustPut(t, co, key, "", "v", Options{W: 3})
	if _, ok := e.object(walk[3], kv.HintName(prim[0], key), key); !ok {
		t.Fatalf("setup: %s holds no hinted replica", walk[3])
	}
	// Listing fails on the first fallback: the second one is read instead.
	e.down(walk[3], true)
	g := mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("get = %v", liveValues(g.Siblings))
	}
	if c := e.store.Counts(e.loc(walk[4])); c.List != 1 {
		t.Fatalf("second fallback %s: %+v, want one LIST", walk[4], c)
	}
	e.down(walk[3], false)
	// The listing works but reading the hinted object fails.
	e.hookOn(walk[3], kvmem.OpGet, func(_ context.Context, name string) error {
		if strings.HasPrefix(name, kv.HintPrefix) {
			return errors.New("unreadable")
		}
		return nil
	})
	e.store.ResetCounts()
	g = mustGet(t, co, key, Options{R: 3})
	if !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("get = %v", liveValues(g.Siblings))
	}
	if c := e.store.Counts(e.loc(walk[4])); c.List != 1 {
		t.Fatalf("second fallback %s: %+v, want one LIST", walk[4], c)
	}
}

// ---- cancellation ----------------------------------------------------------

// blocker is a store hook that blocks matching requests until their context
// ends, announcing each one.
type blocker struct {
	match   func(op kvmem.Op, loc kv.Location) bool
	entered chan struct{}
	exited  chan struct{}
}

func newBlocker(match func(kvmem.Op, kv.Location) bool) *blocker {
	return &blocker{match: match, entered: make(chan struct{}, 64), exited: make(chan struct{}, 64)}
}

func (b *blocker) hook(ctx context.Context, op kvmem.Op, loc kv.Location, _ string) error {
	if !b.match(op, loc) {
		return nil
	}
	b.entered <- struct{}{}
	<-ctx.Done()
	b.exited <- struct{}{}
	return ctx.Err()
}

func TestGetCancelled(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	mustPut(t, co, "k", "", "v", Options{})
	b := newBlocker(func(op kvmem.Op, _ kv.Location) bool { return op == kvmem.OpGet })
	e.store.SetHook(b.hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Get(ctx, "k", Options{})
		done <- err
	}()
	for i := 0; i < 3; i++ { // every replica read is in flight
		<-b.entered
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `get "k"`) {
		t.Fatalf("cancelled Get = %v", err)
	}
	for i := 0; i < 3; i++ { // and every one of them is released
		<-b.exited
	}
	co.Wait()
	e.store.SetHook(nil)
	if g := mustGet(t, co, "k", Options{R: 3}); !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("after a cancelled get: %v", liveValues(g.Siblings))
	}
}

// Cancelled while committing at the coordinating replica: nothing is written.
func TestPutCancelledWhileCommitting(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	b := newBlocker(func(op kvmem.Op, _ kv.Location) bool { return op == kvmem.OpGet })
	e.store.SetHook(b.hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Put(ctx, "k", "", val("v"), Options{})
		done <- err
	}()
	<-b.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `put "k"`) {
		t.Fatalf("cancelled Put = %v", err)
	}
	<-b.exited
	co.Wait()
	if n := e.store.TotalCounts().Put; n != 0 {
		t.Fatalf("%d PUTs after cancelling before the commit", n)
	}
}

// Cancelled while replicating: the caller gets the context's error at once;
// the committed version still reaches the replicas in the background.
func TestPutCancelledWhileReplicating(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	key := "k"
	prim := e.primaries(key)
	coordLoc := e.loc(prim[0])
	b := newBlocker(func(op kvmem.Op, loc kv.Location) bool { return op == kvmem.OpPut && loc != coordLoc })
	e.store.SetHook(b.hook)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Put(ctx, key, "", val("v"), Options{})
		done <- err
	}()
	<-b.entered
	<-b.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put = %v", err)
	}
	co.Wait()
	// The commit happened; the replica writes ended with the request.
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("coordinating replica holds %v", got)
	}
	e.store.SetHook(nil)
	if g := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(g.Siblings), []string{"v"}) {
		t.Fatalf("the committed version is not readable: %v", liveValues(g.Siblings))
	}
}

func TestDeleteCancelled(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	mustPut(t, co, "k", "", "v", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := co.Delete(ctx, "k", "", Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete with a cancelled context = %v", err)
	}
	co.Wait()
	if g := mustGet(t, co, "k", Options{R: 3}); !g.Found() {
		t.Fatal("a cancelled delete deleted")
	}
}

// ---- sloppy quorum: a fallback as coordinator -------------------------------

// With every primary down the put is coordinated by a fallback. Every hinted
// replica, including the coordinating fallback's, must be handed off, or the
// acknowledged write never reaches the primaries.
func TestFallbackCoordinatesWhenAllPrimariesDown(t *testing.T) {
	e := newEnv(t, 4) // three primaries and one fallback per key
	co := e.coord()
	key := "orphan"
	prim := e.primaries(key)
	fb := e.walk(key)[3]
	for _, id := range prim {
		e.setState(id, kv.StateDown)
	}
	p, err := co.Put(context.Background(), key, "", val("v"), Options{W: 1})
	if err != nil {
		t.Fatalf("W=1 put with every primary down: %v", err)
	}
	co.Wait()
	if p.Context == "" {
		t.Fatal("no context")
	}
	if _, ok := e.object(fb, kv.HintName(prim[0], key), key); !ok {
		t.Fatalf("the fallback %s did not store a hinted replica for %s", fb, prim[0])
	}
	if got := mustGet(t, co, key, Options{R: 1}); !slices.Equal(liveValues(got.Siblings), []string{"v"}) {
		t.Fatalf("read while primaries are down = %v", liveValues(got.Siblings))
	}
	// The primaries come back and the hints are delivered.
	for _, id := range prim {
		e.setState(id, kv.StateActive)
	}
	res, err := co.DrainHints(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 1 || res.Failed != 0 {
		t.Fatalf("drain = %+v, want the coordinating fallback's hint delivered", res)
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("after handoff %s holds %v", prim[0], got)
	}
	// W=1 and R=3 overlap: the write is visible, and the read repairs the
	// other primaries.
	if got := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(got.Siblings), []string{"v"}) {
		t.Fatalf("the acknowledged write is lost after recovery: %v", liveValues(got.Siblings))
	}
	for _, id := range prim {
		if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
			t.Fatalf("after read repair %s holds %v", id, got)
		}
	}
}

// The same with two fallbacks: both hinted replicas are handed off.
func TestFallbacksCoordinateAndReplicate(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "two-fallbacks"
	prim := e.primaries(key)
	for _, id := range prim {
		e.setState(id, kv.StateDown)
	}
	mustPut(t, co, key, "", "v", Options{W: 2})
	if got := co.Stats().HintsQueued.Load(); got != 2 {
		t.Fatalf("HintsQueued = %d, want one per fallback holding a hinted replica (2)", got)
	}
	for _, id := range prim {
		e.setState(id, kv.StateActive)
	}
	if _, err := co.DrainHints(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, id := range prim {
		if slices.Equal(e.values(id, key), []string{"v"}) {
			held++
		}
	}
	if held != 2 {
		t.Fatalf("%d primaries hold the value after handoff, want 2", held)
	}
}

// A coordinating fallback whose hint cannot be queued does not count; with no
// stand-in left the put fails, naming the enqueue.
func TestFallbackCoordinatorHintEnqueueFails(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "nowhere"
	for _, id := range e.primaries(key) {
		e.setState(id, kv.StateDown)
	}
	e.hints.SetDown(true)
	_, err := co.Put(context.Background(), key, "", val("v"), Options{W: 1})
	co.Wait()
	var qe *kv.QuorumError
	if !errors.As(err, &qe) || qe.Got != 0 || !strings.Contains(err.Error(), "enqueue hint") {
		t.Fatalf("put = %v, want a quorum error naming the failed enqueue", err)
	}
}

// ---- hinted handoff ----------------------------------------------------------

// hinted makes a hinted replica of key for intended (marked down during the
// put) and returns its hint; intended is active again afterwards.
func (e *env) hinted(co *Coordinator, key, intended, value string) kv.Hint {
	e.t.Helper()
	e.setState(intended, kv.StateDown)
	mustPut(e.t, co, key, "", value, Options{})
	e.setState(intended, kv.StateActive)
	hints := e.takeHints()
	if len(hints) != 1 || hints[0].Intended != intended || hints[0].Key != key {
		e.t.Fatalf("setup: hints %+v, want one for %s", hints, intended)
	}
	if _, ok := e.object(hints[0].Fallback, kv.HintName(intended, key), key); !ok {
		e.t.Fatalf("setup: no hinted replica on %s", hints[0].Fallback)
	}
	return hints[0]
}

func TestDeliverHint(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "handoff"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[1], "v")
	if got := e.values(prim[1], key); got != nil {
		t.Fatalf("setup: %s already holds %v", prim[1], got)
	}
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if got := e.values(prim[1], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("after delivery %s holds %v", prim[1], got)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); ok {
		t.Fatal("the hinted replica was not removed")
	}
	if co.Stats().HintsDelivered.Load() != 1 {
		t.Fatalf("HintsDelivered = %d", co.Stats().HintsDelivered.Load())
	}
	// At-least-once: delivering it again is a no-op.
	e.faults.ResetCounts()
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	if c := e.faults.Counts(); c.Put != 0 || c.Delete != 0 || co.Stats().HintsDelivered.Load() != 1 {
		t.Fatalf("second delivery did %+v, delivered count %d", c, co.Stats().HintsDelivered.Load())
	}
}

// Delivery merges, never overwrites: a newer version at the intended node
// stays, and a concurrent one becomes a sibling.
func TestDeliverHintMerges(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "merge"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[2], "hinted")
	// A concurrent blind write reaches every primary, prim[2] included.
	mustPut(t, co, key, "", "concurrent", Options{W: 3})
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if got := e.values(prim[2], key); !slices.Equal(got, []string{"concurrent", "hinted"}) {
		t.Fatalf("%s holds %v, want both versions", prim[2], got)
	}
}

func TestDeliverHintIntendedDown(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "wait"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	e.setState(prim[0], kv.StateDown)
	if err := co.DeliverHint(context.Background(), h); !errors.Is(err, ErrNotReady) {
		t.Fatalf("delivery to a down node = %v, want ErrNotReady", err)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok {
		t.Fatal("the hinted replica was removed without delivery")
	}
	if e.values(prim[0], key) != nil {
		t.Fatal("delivered to a down node")
	}
}

// A node this coordinator merely suspects is tried: the delivery is the probe,
// and its success clears the suspicion.
func TestDeliverHintProbesSuspect(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord(func(c *Config) { c.SuspectAfter = 1; c.SuspectFor = time.Minute })
	key := "probe"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	co.health.record(prim[0], false, e.clock.Now())
	if !slices.Equal(co.Suspects(), []string{prim[0]}) {
		t.Fatalf("setup: suspects %v", co.Suspects())
	}
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatalf("delivery to a suspect node: %v", err)
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("%s holds %v", prim[0], got)
	}
	if s := co.Suspects(); len(s) != 0 {
		t.Fatalf("a successful delivery left suspects %v", s)
	}
}

// The intended node left the cluster: the replica goes to the key's current
// primaries instead.
func TestDeliverHintIntendedDeparted(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "departed"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	e.removeNode(prim[0])
	now := e.primaries(key)
	if slices.Contains(now, prim[0]) {
		t.Fatal("setup: removed node still a primary")
	}
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	for _, id := range now {
		if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
			t.Fatalf("current primary %s holds %v", id, got)
		}
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); ok {
		t.Fatal("the hinted replica was not removed")
	}
}

func TestDeliverHintIntendedDepartedNoPrimaryUp(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "departed-down"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	e.removeNode(prim[0])
	for _, id := range e.primaries(key) {
		e.setState(id, kv.StateDown)
	}
	err := co.DeliverHint(context.Background(), h)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "departed") {
		t.Fatalf("delivery with every current primary down = %v, want ErrNotReady", err)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok {
		t.Fatal("the hinted replica was removed without delivery")
	}
}

// The fallback left the cluster: its replica cannot be reached; the hint is
// dropped (acknowledged) with a warning.
func TestDeliverHintFallbackGone(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	if err := co.DeliverHint(context.Background(), kv.Hint{Key: "k", Intended: "n1", Fallback: "ghost"}); err != nil {
		t.Fatalf("hint from a departed fallback = %v, want nil", err)
	}
	if !e.logs.has("hint from a node no longer in the cluster") {
		t.Fatal("no warning logged")
	}
	if e.faults.Counts().Total() != 0 {
		t.Fatal("a hint from a departed fallback touched the store")
	}
}

func TestDeliverHintErrors(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "errors"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	ctx := context.Background()

	if err := co.DeliverHint(ctx, kv.Hint{Key: "", Intended: "n1", Fallback: "n2"}); !errors.Is(err, kv.ErrBadKey) {
		t.Fatalf("empty key = %v, want ErrBadKey", err)
	}
	// The fallback cannot be read.
	e.down(h.Fallback, true)
	if err := co.DeliverHint(ctx, h); err == nil || !errors.Is(err, faults.ErrInjected) {
		t.Fatalf("unreadable fallback = %v", err)
	}
	e.down(h.Fallback, false)
	// The intended node cannot be written: its failure is recorded.
	co2 := e.coord(func(c *Config) { c.SuspectAfter = 1; c.SuspectFor = time.Minute })
	e.down(prim[0], true)
	if err := co2.DeliverHint(ctx, h); err == nil || !strings.Contains(err.Error(), "deliver hint to "+prim[0]) {
		t.Fatalf("unwritable intended node = %v", err)
	}
	if !slices.Equal(co2.Suspects(), []string{prim[0]}) {
		t.Fatalf("failed delivery not recorded: suspects %v", co2.Suspects())
	}
	e.down(prim[0], false)
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok {
		t.Fatal("a failed delivery removed the hinted replica")
	}
	// Delivered but the hinted replica cannot be removed: an error, and the
	// next attempt completes it.
	e.hookOn(h.Fallback, kvmem.OpDelete, func(context.Context, string) error { return errors.New("delete refused") })
	if err := co.DeliverHint(ctx, h); err == nil || !strings.Contains(err.Error(), "remove delivered hint") {
		t.Fatalf("undeletable hinted replica = %v", err)
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("not delivered before the failed removal: %v", got)
	}
	e.store.SetHook(nil)
	if err := co.DeliverHint(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); ok {
		t.Fatal("the hinted replica was not removed on retry")
	}
}

// A corrupt hinted replica is reported, not delivered, and not removed.
func TestDeliverHintCorrupt(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "rotten"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v")
	loc := e.loc(h.Fallback)
	name := kv.HintName(h.Intended, key)
	b, err := e.store.Get(context.Background(), loc, name)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), b.Data...)
	bad[len(bad)/2] ^= 0x10
	if _, err := e.store.Put(context.Background(), loc, name, bad, b.Actor, b.ETag); err != nil {
		t.Fatal(err)
	}
	if err := co.DeliverHint(context.Background(), h); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt hinted replica = %v", err)
	}
	if e.values(prim[0], key) != nil {
		t.Fatal("a corrupt replica was delivered")
	}
	if b2, err := e.store.Get(context.Background(), loc, name); err != nil || string(b2.Data) != string(bad) {
		t.Fatal("the corrupt replica was removed or changed")
	}
}

// A newer write reaching the fallback between the read and the removal wins
// the conditional delete: the newer hinted replica stays for its own hint.
func TestDeliverHintNewerWriteKeepsReplica(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "race"
	prim := e.primaries(key)
	h := e.hinted(co, key, prim[0], "v1")
	loc := e.loc(h.Fallback)
	name := kv.HintName(h.Intended, key)
	newer, _ := vclock.Update(vclock.Object{Key: key}, nil, "x.1.1", vclock.Sibling{Value: []byte("v2")}, 5)
	var once sync.Once
	e.hookOn(h.Fallback, kvmem.OpDelete, func(ctx context.Context, _ string) error {
		once.Do(func() {
			b, err := e.store.Get(ctx, loc, name)
			if err == nil {
				_, err = e.store.Put(ctx, loc, name, vclock.Encode(vclock.MergeObjects(newer, mustDecode(t, b.Data))), b.Actor, b.ETag)
			}
			if err != nil {
				t.Error(err)
			}
		})
		return nil
	})
	if err := co.DeliverHint(context.Background(), h); err != nil {
		t.Fatalf("delivery racing a newer write = %v, want nil", err)
	}
	o, ok := e.object(h.Fallback, name, key)
	if !ok || !slices.Equal(liveValues(o.Live()), []string{"v1", "v2"}) {
		t.Fatalf("the newer hinted replica was removed: %v %v", ok, liveValues(o.Live()))
	}
	if got := e.values(prim[0], key); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("%s holds %v", prim[0], got)
	}
	if co.Stats().HintsDelivered.Load() != 1 {
		t.Fatal("the delivery was not counted")
	}
}

func mustDecode(t *testing.T, data []byte) vclock.Object {
	t.Helper()
	o, err := vclock.Decode(data, vclock.DecodeLimits())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// ---- draining the hint queue -------------------------------------------------

func TestDrainHintsWithPoison(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	ctx := context.Background()
	// Three hinted keys; the third one's intended node is not the others'.
	keys := []string{"a", "b"}
	for i := 0; len(keys) < 3; i++ {
		k := fmt.Sprint("c", i)
		if p := e.primaries(k)[0]; p != e.primaries("a")[0] && p != e.primaries("b")[0] {
			keys = append(keys, k)
		}
	}
	var hints []kv.Hint
	for _, key := range keys {
		hints = append(hints, e.hinted(co, key, e.primaries(key)[0], "v-"+key))
	}
	for _, h := range hints {
		if err := e.hints.Enqueue(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.hints.EnqueueRaw(ctx, []byte("this is not a hint")); err != nil {
		t.Fatal(err)
	}
	// The third hint cannot be delivered yet.
	e.setState(hints[2].Intended, kv.StateDown)
	res, err := co.DrainHints(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res != (DrainResult{Delivered: 2, Failed: 1, Poison: 1}) {
		t.Fatalf("drain = %+v", res)
	}
	if !e.logs.has("poison hint message") || !e.logs.has("hint not delivered") {
		t.Fatal("poison and failed messages not logged")
	}
	// Delivered hints are acknowledged; the poison and the failed one are not.
	st, err := e.hints.Stats(ctx)
	if err != nil || st != (kv.QueueStats{InFlight: 2}) {
		t.Fatalf("queue after drain = %+v, %v; want the 2 unacknowledged in flight", st, err)
	}
	for i, h := range hints[:2] {
		key := keys[i]
		if got := e.values(h.Intended, key); !slices.Equal(got, []string{"v-" + key}) {
			t.Fatalf("%s holds %v", h.Intended, got)
		}
	}
}

func TestDrainHintsEmptyQueue(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	res, err := co.DrainHints(context.Background(), 0)
	if err != nil || res != (DrainResult{}) {
		t.Fatalf("drain of an empty queue = %+v, %v", res, err)
	}
}

func TestDrainHintsQueueDown(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	e.hints.SetDown(true)
	if _, err := co.DrainHints(context.Background(), 0); !errors.Is(err, kvmem.ErrDown) || !strings.Contains(err.Error(), "drain hints") {
		t.Fatalf("drain with the queue down = %v", err)
	}
}

func TestDrainHintsCancelled(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "k"
	e.hinted(co, key, e.primaries(key)[0], "v")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := co.DrainHints(ctx, 0)
	if !errors.Is(err, context.Canceled) || res != (DrainResult{}) {
		t.Fatalf("drain with a cancelled context = %+v, %v", res, err)
	}
}

// ackFailing is a hint queue whose Ack fails.
type ackFailing struct{ kv.HintQueue }

func (ackFailing) Ack(context.Context, ...string) error { return errors.New("ack refused") }

func TestDrainHintsAckFails(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "k"
	h := e.hinted(co, key, e.primaries(key)[0], "v")
	if err := e.hints.Enqueue(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	d := e.deps()
	d.Hints = ackFailing{e.hints}
	co2, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	res, err := co2.DrainHints(context.Background(), 0)
	if err == nil || !strings.Contains(err.Error(), "ack hints") || res.Delivered != 1 {
		t.Fatalf("drain with failing acks = %+v, %v", res, err)
	}
}

// lostAnswer is a replica store whose first PUT to one location lands but
// reports a lost condition, as when an SDK retry sees its own write.
type lostAnswer struct {
	kv.ReplicaStore
	loc  kv.Location
	once sync.Once
}

func (s *lostAnswer) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	etag, err := s.ReplicaStore.Put(ctx, loc, name, data, actor, ifMatch)
	lost := false
	if err == nil && loc == s.loc {
		s.once.Do(func() { lost = true })
	}
	if lost {
		return "", fmt.Errorf("retried put: %w", kv.ErrPrecondition)
	}
	return etag, err
}

// A commit whose write landed but whose answer was lost is recognised on the
// re-read: the version is not committed a second time with a new dot.
func TestCommitLostAnswer(t *testing.T) {
	e := newEnv(t, 3)
	key := "lost-answer"
	prim := e.primaries(key)
	d := e.deps()
	d.Store = &lostAnswer{ReplicaStore: e.faults, loc: e.loc(prim[0])}
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := co.Put(context.Background(), key, "", val("once"), Options{W: 3})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if co.Stats().CASRetries.Load() != 1 {
		t.Fatalf("CASRetries = %d, want 1", co.Stats().CASRetries.Load())
	}
	var first []byte
	for _, id := range prim {
		o, ok := e.object(id, kv.DataName(key), key)
		if !ok || len(o.Siblings) != 1 || string(o.Siblings[0].Value) != "once" || len(o.Clock) != 1 || o.Clock[0].Counter != 1 {
			t.Fatalf("%s holds %+v, want the one version with one dot", id, o)
		}
		b, _ := e.store.Get(context.Background(), e.loc(id), kv.DataName(key))
		if first == nil {
			first = b.Data
		} else if string(first) != string(b.Data) {
			t.Fatalf("%s holds different bytes", id)
		}
	}
	// The returned context covers the version: a put with it replaces it.
	mustPut(t, co, key, p.Context, "twice", Options{W: 3})
	if got := mustGet(t, co, key, Options{R: 3}); !slices.Equal(liveValues(got.Siblings), []string{"twice"}) {
		t.Fatalf("after a put with the context: %v", liveValues(got.Siblings))
	}
}

// failingEnqueue is a hint queue that refuses hints held by one fallback.
type failingEnqueue struct {
	kv.HintQueue
	fallback string
}

func (q failingEnqueue) Enqueue(ctx context.Context, h kv.Hint) error {
	if h.Fallback == q.fallback {
		return errors.New("queue refused")
	}
	return q.HintQueue.Enqueue(ctx, h)
}

// A coordinating fallback whose hint cannot be queued is replaced by the next
// fallback, which receives the version and a hint in its place.
func TestFallbackCoordinatorReplacedWhenHintFails(t *testing.T) {
	e := newEnv(t, 7)
	key := "replaced"
	prim := e.primaries(key)
	walk := e.walk(key)
	e.setState(prim[0], kv.StateDown)
	e.setState(prim[1], kv.StateDown)
	e.down(prim[2], true) // fails as coordinator: a fallback coordinates
	d := e.deps()
	d.Hints = failingEnqueue{HintQueue: e.hints, fallback: walk[3]}
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.Put(context.Background(), key, "", val("v"), Options{W: 3}); err != nil {
		t.Fatalf("put: %v", err)
	}
	co.Wait()
	hints := e.takeHints()
	got := map[string]string{} // fallback -> intended
	for _, h := range hints {
		got[h.Fallback] = h.Intended
	}
	if len(hints) != 3 || got[walk[3]] != "" {
		t.Fatalf("hints %+v: want 3, none from %s whose enqueue fails", hints, walk[3])
	}
	if got[walk[4]] != prim[1] {
		t.Fatalf("hints %+v: want %s holding %s's replica", hints, walk[4], prim[1])
	}
	// prim[0]'s replica (from the refused coordinator) and prim[2]'s (failed
	// as coordinator) both found stand-ins among the remaining nodes.
	var intended []string
	for _, h := range hints {
		intended = append(intended, h.Intended)
		if o, ok := e.object(h.Fallback, kv.HintName(h.Intended, key), key); !ok || !slices.Equal(liveValues(o.Live()), []string{"v"}) {
			t.Fatalf("%s holds no hinted replica for %s", h.Fallback, h.Intended)
		}
	}
	sort.Strings(intended)
	want := slices.Clone(prim)
	sort.Strings(want)
	if !slices.Equal(intended, want) {
		t.Fatalf("hints stand in for %v, want every primary %v", intended, want)
	}
}
