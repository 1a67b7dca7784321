package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
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

// object reads node id's object name directly; ok is false when absent or a
// delivered hinted replica's stub (no state, only a minting identity).
func (e *env) object(id, name, key string) (vclock.Object, bool) {
	e.t.Helper()
	b, err := e.store.Get(context.Background(), e.loc(id), name)
	if errors.Is(err, kv.ErrNotFound) {
		return vclock.Object{}, false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if kv.IsStub(b.Data) {
		return vclock.Object{}, false
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
