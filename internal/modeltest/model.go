// Package modeltest checks the client contract of the coordinator against a
// naive reference model, in the style of etcd-io/raft's quick checks: random
// histories drive the real coordinators and the model with the same
// operations, and they must agree.
//
// The model is Dynamo's contract and nothing else: each key holds a set of
// versions (values, and tombstones); a put with context C removes exactly the
// versions C covers and adds one; a delete does the same with a tombstone; a
// get returns the live versions and a context covering every version it saw.
// A put's context covers C plus its own new version. The model knows nothing
// of clocks, replicas or quorums.
//
// Clients keep every context they were given, by gets and by puts, and
// sometimes reuse an old one; they also write blind, delete, write
// create-only (If-None-Match) and compare-and-set (If-Match), and ask for the
// body of a put (returnbody). Each operation goes to one of several
// coordinators, each with its own cached view of the cluster, over one store.
//
// In the fault mode, nodes go down and come back between operations (sloppy
// quorum, hints); the model then cannot know which versions a read missed, so
// reads are only checked not to invent values, and conditional operations
// are left out. At the end every node is healed, hints are delivered and
// anti-entropy runs, and every key's live values must equal the model's.
package modeltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// Config sizes a run.
type Config struct {
	// Seed is the first history's seed; history i uses Seed+i.
	Seed int64
	// Histories is how many random histories to run.
	Histories int
	// Ops is the number of operations per history.
	Ops int
	// Keys, Clients and Coordinators per history.
	Keys, Clients, Coordinators int
	// Nodes in the cluster (three zones, N=3, R=2, W=2).
	Nodes int
	// Faults turns on the fault mode (see the package doc).
	Faults bool
	// Local puts zone zK in region rK and coordinator i in region r(i%3+1),
	// and makes about half the operations ask for the local quorum (r and w
	// "local"): they may answer before other regions have the write, so the
	// model checks them after the coordinators' background work, as always.
	Local bool
	// TTL gives about half the puts a time to live under a manual clock,
	// and runs the reaper and hint delivery at random points (ttl.go).
	TTL bool
	// Races adds racing puts with one shared context (race.go); fault-free
	// only.
	Races bool
	// Hedged turns on the coordinators' hedged reads and writes after a
	// microsecond (HedgeDelay): replies slower than that (goroutine
	// scheduling, injected faults) make gets ask the other replicas and
	// puts write hinted replicas beside primaries still writing.
	Hedged bool
	// MaxDown is how many nodes the fault mode may take down at once (0:
	// two). Three (with Nodes >= 6) can take every primary of a key down, so
	// fallbacks coordinate writes and mint dots in hinted replicas.
	MaxDown int
}

// maxDown is MaxDown with its default.
func (c Config) maxDown() int {
	if c.MaxDown == 0 {
		return 2
	}
	return c.MaxDown
}

// DefaultConfig returns a fault-free run of 1,500 histories of 30 operations.
func DefaultConfig() Config {
	return Config{Seed: 1, Histories: 1500, Ops: 30, Keys: 3, Clients: 3, Coordinators: 3, Nodes: 5}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Histories < 0 || c.Ops < 1:
		return fmt.Errorf("modeltest: Histories=%d must be >= 0 and Ops=%d >= 1", c.Histories, c.Ops)
	case c.Keys < 1 || c.Clients < 1 || c.Coordinators < 1:
		return fmt.Errorf("modeltest: Keys, Clients and Coordinators must be >= 1")
	case c.MaxDown < 0 || c.Nodes < c.maxDown()+3:
		return fmt.Errorf("modeltest: Nodes=%d must be >= MaxDown+3 = %d (W=2 needs two nodes up, and N=3 distinct zones)", c.Nodes, c.maxDown()+3)
	}
	return nil
}

// Totals count what a run checked.
type Totals struct {
	Histories, Ops, Gets, Puts, Deletes, Conditional, Rejected412, Faults int
	// Unsure counts operations that failed with a quorum error in the fault
	// mode: whether they took effect is unknown, so their key is then only
	// checked not to invent values.
	Unsure int
	// MergedTombstones counts If-Match puts that succeeded because two
	// identical concurrent tombstones had merged into one (see conditional).
	MergedTombstones int
	// Local counts operations that asked for the local quorum (Local mode).
	Local int
	// Expiring counts puts with a TTL; ReapRuns the reaper's runs and
	// Reaped the keys it removed (TTL mode).
	Expiring, ReapRuns, Reaped int
	// Handoffs counts hint deliveries and repair sweeps run mid-history
	// (fault mode): hinted replicas delivered, stubbed and created again.
	Handoffs int
	// Races counts racing steps (race.go), RacePuts their puts, and
	// RaceRetries the conditional writes they lost and retried (a
	// coordinating replica's fast path that lost to another racer).
	Races, RacePuts, RaceRetries int
	// OneRoundRaces counts racing steps whose racers held a context (so
	// they raced in one round).
	OneRoundRaces int
	// Dots counts the distinct dots the ledger checked (DotLedger), and
	// FallbackDots those minted by fallbacks, in hinted replicas.
	Dots, FallbackDots int
	// HedgedReads and HedgedWrites count the coordinators' hedges (Hedged
	// mode).
	HedgedReads, HedgedWrites int64
	// OneRoundPuts counts puts that went in one round (coordinator-minted
	// dots); Recycled the coordinators replaced by new processes mid-history.
	OneRoundPuts int64
	Recycled     int
}

func (t *Totals) add(o Totals) {
	t.Histories += o.Histories
	t.Ops += o.Ops
	t.Local += o.Local
	t.Gets += o.Gets
	t.Puts += o.Puts
	t.Deletes += o.Deletes
	t.Conditional += o.Conditional
	t.Rejected412 += o.Rejected412
	t.Faults += o.Faults
	t.Unsure += o.Unsure
	t.MergedTombstones += o.MergedTombstones
	t.Expiring += o.Expiring
	t.ReapRuns += o.ReapRuns
	t.Reaped += o.Reaped
	t.Handoffs += o.Handoffs
	t.Dots += o.Dots
	t.Races += o.Races
	t.RacePuts += o.RacePuts
	t.RaceRetries += o.RaceRetries
	t.OneRoundRaces += o.OneRoundRaces
	t.FallbackDots += o.FallbackDots
	t.HedgedReads += o.HedgedReads
	t.HedgedWrites += o.HedgedWrites
	t.OneRoundPuts += o.OneRoundPuts
	t.Recycled += o.Recycled
}

// String summarizes the totals.
func (t Totals) String() string {
	return fmt.Sprintf("%d histories, %d operations (%d gets, %d puts, %d in one round, %d deletes; %d conditional, %d answered 412, %d over merged tombstones; %d local quorum; %d with a TTL), %d faults, %d handoffs, %d unsure, %d coordinators recycled; %d keys reaped in %d reaper runs; %d dots (%d minted by fallbacks), none shared",
		t.Histories, t.Ops, t.Gets, t.Puts, t.OneRoundPuts, t.Deletes, t.Conditional, t.Rejected412, t.MergedTombstones, t.Local, t.Expiring, t.Faults, t.Handoffs, t.Unsure, t.Recycled, t.Reaped, t.ReapRuns, t.Dots, t.FallbackDots)
}

// Run runs cfg.Histories histories, each on a fresh environment, and fails
// t at the first divergence, naming the seed that reproduces it.
func Run(t *testing.T, newEnv func(t *testing.T) coordtest.Env, cfg Config) Totals {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var total Totals
	for i := 0; i < cfg.Histories; i++ {
		seed := cfg.Seed + int64(i)
		tot, err := History(t, newEnv(t), seed, cfg)
		total.add(tot)
		if err != nil {
			t.Fatalf("seed %d (%s): %v\nreproduce: add %d to the regression seeds", seed, mode(cfg), err, seed)
		}
	}
	return total
}

func mode(cfg Config) string {
	if cfg.Faults {
		return "fault mode"
	}
	return "fault-free mode"
}

// held is a context a client keeps, with the model versions it covers.
type held struct {
	token  string
	covers map[string]bool
}

// history is one run's state: the real cluster and the model.
type history struct {
	cfg      Config
	rnd      *rand.Rand
	cl       *coordtest.Cluster
	coords   []*coordinator.Coordinator
	keys     []string
	versions map[string]map[string]bool // key -> model versions (values and "~tombstone" ids)
	ever     map[string]map[string]bool // key -> every value ever written
	unsure   map[string]bool            // keys whose model is uncertain (fault mode)
	clients  []map[string][]held        // per client, per key: contexts, oldest first
	down     map[string]bool
	dots     *DotLedger
	next     int
	tot      Totals
	trace    func(format string, a ...any) // CARTWHEEL_MODEL_TRACE=1 logs every operation
	ttl      *ttlModel                     // the TTL mode's clock and expiries; nil otherwise
}

// History runs one seeded history on env and returns the first divergence.
func History(t *testing.T, env coordtest.Env, seed int64, cfg Config) (Totals, error) {
	h := &history{
		cfg: cfg, rnd: rand.New(rand.NewSource(seed)),
		cl:       coordtest.NewCluster(t, env, coordtest.Options{Nodes: cfg.Nodes, Regions: cfg.Local}),
		versions: map[string]map[string]bool{}, ever: map[string]map[string]bool{},
		unsure: map[string]bool{}, down: map[string]bool{}, dots: NewDotLedger(),
	}
	if cfg.TTL {
		h.ttl = newTTLModel()
		h.cl.Now = h.ttl.clock.Now
	}
	h.dots.Primaries = h.cl.Primaries
	for i := 0; i < cfg.Coordinators; i++ {
		h.skewClock(i)
		h.coords = append(h.coords, h.coordinator(i))
	}
	for i := 0; i < cfg.Keys; i++ {
		k := fmt.Sprintf("key-%d-%d", seed, i)
		h.keys = append(h.keys, k)
		h.versions[k], h.ever[k] = map[string]bool{}, map[string]bool{}
	}
	for i := 0; i < cfg.Clients; i++ {
		h.clients = append(h.clients, map[string][]held{})
	}
	h.tot.Histories = 1
	h.trace = func(string, ...any) {}
	if os.Getenv("CARTWHEEL_MODEL_TRACE") != "" {
		h.trace = t.Logf
	}
	for op := 0; op < cfg.Ops; op++ {
		if cfg.Faults {
			h.nemesis()
			if err := h.handoff(); err != nil {
				return h.tot, fmt.Errorf("op %d: %w", op, err)
			}
		}
		if err := h.tick(); err != nil {
			return h.tot, fmt.Errorf("op %d: %w", op, err)
		}
		if err := h.step(); err != nil {
			return h.tot, fmt.Errorf("op %d: %w", op, err)
		}
		h.trace("   model: %v", h.versions)
		h.tot.Ops++
		for _, co := range h.coords {
			co.Wait()
		}
		if err := h.checkDots(); err != nil {
			return h.tot, fmt.Errorf("op %d: %w", op, err)
		}
		h.recycle()
	}
	if cfg.Faults {
		if err := h.heal(); err != nil {
			return h.tot, err
		}
		if err := h.checkDots(); err != nil {
			return h.tot, fmt.Errorf("after healing: %w", err)
		}
	}
	h.tot.Dots, h.tot.FallbackDots = h.dots.Len(), h.dots.Fallback
	for _, co := range h.coords {
		h.collect(co)
	}
	return h.tot, h.finalCheck()
}

// coordinator makes coordinator i (a process with its own caches and, for
// one-round puts, its own actors).
func (h *history) coordinator(i int) *coordinator.Coordinator {
	cfg := h.cfg
	return h.cl.Coordinator(func(c *coordinator.Config) {
		c.ClusterTTL = time.Hour // its own cached view
		c.ReplicaTimeout = 5 * time.Second
		if cfg.maxDown() >= 3 {
			// Fallback churn: a node that failed once is suspect (its
			// fallbacks stand in, and coordinate when every primary
			// is) until a request to it, a hint delivery say, succeeds.
			c.SuspectAfter, c.SuspectFor = 1, time.Hour
		}
		if cfg.Local {
			c.Region = fmt.Sprintf("r%d", i%3+1)
		}
		if cfg.Hedged {
			c.HedgeDelay = time.Microsecond
		}
	})
}

// recycle replaces, now and then, a coordinator with a new process (a Lambda
// container recycled between two requests): its caches, and the actors of
// its one-round puts, are gone with it.
func (h *history) recycle() {
	if h.rnd.Intn(16) != 0 {
		return
	}
	i := h.rnd.Intn(len(h.coords))
	h.collect(h.coords[i])
	if h.ttl != nil { // the new process runs on coordinator i's clock, as the old one did
		clock, d := h.ttl.clock, h.ttl.skew[i]
		h.cl.Now = func() time.Time { return clock.Now().Add(-d) }
		defer func() { h.cl.Now = clock.Now }()
	}
	h.coords[i] = h.coordinator(i)
	h.tot.Recycled++
}

// collect adds a coordinator's counters to the totals.
func (h *history) collect(co *coordinator.Coordinator) {
	h.tot.HedgedReads += co.Stats().HedgedReads.Load()
	h.tot.HedgedWrites += co.Stats().HedgedWrites.Load()
	h.tot.OneRoundPuts += co.Stats().OneRoundPuts.Load()
}

// nemesis takes a node down or brings one back, keeping at most MaxDown down.
func (h *history) nemesis() {
	if h.rnd.Intn(100) >= 15 {
		return
	}
	id := fmt.Sprintf("n%d", 1+h.rnd.Intn(h.cfg.Nodes))
	switch {
	case h.down[id]:
		delete(h.down, id)
	case len(h.down) < h.cfg.maxDown():
		h.down[id] = true
	default:
		return
	}
	h.cl.Down(id, h.down[id])
	h.tot.Faults++
}

// heal brings every node back, delivers hints and runs anti-entropy.
func (h *history) heal() error {
	for id := range h.down {
		h.cl.Down(id, false)
	}
	h.down = map[string]bool{}
	ctx := context.Background()
	r, err := h.cl.Repairer(h.coords[0], h.clockFunc(), nil)
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if _, err := r.Run(ctx); err != nil {
			return fmt.Errorf("repair: %w", err)
		}
	}
	return nil
}

func (h *history) value(kind string) string {
	h.next++
	return fmt.Sprintf("%s%d", kind, h.next)
}

// pick chooses a context for a write: the newest the client holds, an older
// one, or none (blind).
func (h *history) pick(c int, key string) held {
	hs := h.clients[c][key]
	switch n := h.rnd.Intn(10); {
	case len(hs) == 0 || n == 0:
		return held{covers: map[string]bool{}}
	case n == 1:
		return hs[h.rnd.Intn(len(hs))]
	default:
		return hs[len(hs)-1]
	}
}

func (h *history) keep(c int, key string, x held) {
	if x.token != "" {
		h.clients[c][key] = append(h.clients[c][key], x)
	}
}

// live returns the model's live values of key, sorted.
func (h *history) live(key string) []string {
	var out []string
	for v := range h.versions[key] {
		if !strings.HasPrefix(v, "~") && !h.expired(key, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func values(sibs []string) []string { sort.Strings(sibs); return sibs }

func liveOf(g coordinator.GetResult) []string {
	var out []string
	for _, s := range g.Siblings {
		out = append(out, string(s.Value))
	}
	return values(out)
}

// apply is the model's write: remove what the context covers, add v.
func (h *history) apply(key string, covers map[string]bool, v string) {
	for x := range covers {
		delete(h.versions[key], x)
	}
	h.versions[key][v] = true
}

func copySet(m map[string]bool, add ...string) map[string]bool {
	out := make(map[string]bool, len(m)+len(add))
	for k := range m {
		out[k] = true
	}
	for _, k := range add {
		out[k] = true
	}
	return out
}

// opts returns o, with the local quorum for about half the operations in
// the Local mode.
func (h *history) opts(o coordinator.Options) coordinator.Options {
	if h.cfg.Local && h.rnd.Intn(2) == 0 {
		o.R, o.W = coordinator.QuorumLocal, coordinator.QuorumLocal
		h.tot.Local++
	}
	return o
}

// step runs one random operation on the real cluster and the model.
func (h *history) step() error {
	ctx := context.Background()
	c := h.rnd.Intn(len(h.clients))
	key := h.keys[h.rnd.Intn(len(h.keys))]
	co := h.coords[h.rnd.Intn(len(h.coords))]
	h.serving(co)
	if h.cfg.Races && !h.cfg.Faults && h.rnd.Intn(8) == 0 {
		return h.race()
	}
	switch op := h.rnd.Intn(20); {
	case op < 6: // get
		h.tot.Gets++
		g, err := co.Get(ctx, key, h.opts(coordinator.Options{}))
		if err != nil {
			return h.failed("get", key, err)
		}
		got := liveOf(g)
		h.trace("client %d: get %s -> %v", c, key, got)
		if err := h.checkRead(key, got); err != nil {
			return fmt.Errorf("get %s: %w", key, err)
		}
		if err := h.checkExpiries(key, g); err != nil {
			return fmt.Errorf("get %s: %w", key, err)
		}
		covers := copySet(nil, got...)
		if !h.cfg.Faults {
			covers = copySet(h.versions[key]) // a get's context covers every version it saw, tombstones too
		}
		h.keep(c, key, held{token: g.Context, covers: covers})
	case op < 15: // put, with the newest, an older or no context; sometimes returnbody
		h.tot.Puts++
		x := h.pick(c, key)
		v := h.value("v")
		body := h.rnd.Intn(4) == 0
		p, err := co.Put(ctx, key, x.token, coordinator.Value{Data: []byte(v), ContentType: "text/plain"}, h.withTTL(h.opts(coordinator.Options{ReturnBody: body}), key, v))
		h.trace("client %d: put %s=%s with %v %s -> %v returned %s%s", c, key, v, x.covers, h.clockOf(key, x.token), err, h.clockOf(key, p.Context), h.dump(key))
		h.ever[key][v] = true
		if err != nil {
			return h.failed("put", key, err)
		}
		h.apply(key, x.covers, v)
		h.keep(c, key, held{token: p.Context, covers: copySet(x.covers, v)})
		if body && p.Body != nil && !h.cfg.Faults {
			got := liveOf(*p.Body)
			if want := h.live(key); !slices.Equal(got, want) {
				return fmt.Errorf("put %s returnbody: %v, model %v", key, got, want)
			}
			h.keep(c, key, held{token: p.Body.Context, covers: copySet(h.versions[key])})
		}
	case op < 17: // delete with a context (or, fault-free, without one)
		h.tot.Deletes++
		x := h.pick(c, key)
		if x.token == "" && h.cfg.Faults {
			return nil
		}
		if x.token == "" && len(h.live(key)) == 0 { // a blind delete of an absent key writes nothing
			if _, err := co.Delete(ctx, key, "", h.opts(coordinator.Options{})); err != nil {
				return h.failed("delete", key, err)
			}
			return nil
		}
		if x.token == "" {
			x.covers = copySet(h.versions[key]) // it deletes what a quorum read sees: everything
		}
		t := h.value("~")
		p, err := co.Delete(ctx, key, x.token, h.opts(coordinator.Options{}))
		h.trace("client %d: delete %s (%s) with %v %s -> %v returned %s%s", c, key, t, x.covers, h.clockOf(key, x.token), err, h.clockOf(key, p.Context), h.dump(key))
		if err != nil {
			return h.failed("delete", key, err)
		}
		h.apply(key, x.covers, t)
		h.keep(c, key, held{token: p.Context, covers: copySet(x.covers, t)})
	default: // conditional: create-only or compare-and-set (fault-free only)
		if h.cfg.Faults {
			return nil
		}
		h.tot.Conditional++
		return h.conditional(ctx, co, c, key)
	}
	return nil
}

// conditional runs an If-None-Match or If-Match put. The model: create-only
// succeeds iff no live version exists; compare-and-set succeeds iff the
// context covers every version (tombstones too).
func (h *history) conditional(ctx context.Context, co *coordinator.Coordinator, c int, key string) error {
	v := h.value("v")
	val := coordinator.Value{Data: []byte(v), ContentType: "text/plain"}
	if h.rnd.Intn(2) == 0 {
		p, err := co.Put(ctx, key, "", val, h.withTTL(h.opts(coordinator.Options{IfNoneMatch: true}), key, v))
		h.trace("client %d: put %s=%s if-none-match -> %v", c, key, v, err)
		want := len(h.live(key)) == 0
		if err := h.checkCondition("If-None-Match", key, want, err); err != nil || !want {
			return err
		}
		h.ever[key][v] = true
		covers := copySet(h.versions[key]) // the tombstones it read
		h.apply(key, covers, v)
		h.keep(c, key, held{token: p.Context, covers: copySet(covers, v)})
		return nil
	}
	x := h.pick(c, key)
	if x.token == "" {
		return nil
	}
	p, err := co.Put(ctx, key, "", val, h.withTTL(h.opts(coordinator.Options{IfMatch: x.token}), key, v))
	h.trace("client %d: put %s=%s if-match %v -> %v", c, key, v, x.covers, err)
	want, onlyTombstones := true, true
	for ver := range h.versions[key] {
		if !x.covers[ver] && !h.expired(key, ver) { // an expired version counts as absent
			want, onlyTombstones = false, onlyTombstones && strings.HasPrefix(ver, "~")
		}
	}
	if !want && onlyTombstones && err == nil {
		// Two deletes with the same context at the same replica in the same
		// millisecond make byte-identical tombstones with one dot: the store
		// keeps one version, which both deletes' contexts cover. Values are
		// unique here, so only tombstones can merge this way.
		h.tot.MergedTombstones++
		want = true
	}
	if err := h.checkCondition("If-Match", key, want, err); err != nil || !want {
		return err
	}
	h.ever[key][v] = true
	h.apply(key, x.covers, v)
	h.keep(c, key, held{token: p.Context, covers: copySet(x.covers, v)})
	return nil
}

func (h *history) checkCondition(what, key string, want bool, err error) error {
	switch {
	case want && err != nil:
		return fmt.Errorf("%s put %s failed: %v (model: it holds)", what, key, err)
	case !want && !errors.Is(err, coordinator.ErrConditionFailed):
		return fmt.Errorf("%s put %s answered %v, want ErrConditionFailed (model versions %v)%s", what, key, err, h.versions[key], h.dump(key))
	case !want:
		h.tot.Rejected412++
	}
	return nil
}

// failed handles an operation's error: in the fault mode a quorum error
// leaves the key uncertain; anything else is a divergence.
func (h *history) failed(op, key string, err error) error {
	if h.cfg.Faults && errors.Is(err, kv.ErrQuorum) {
		h.unsure[key] = true
		h.tot.Unsure++
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// checkRead compares a read's live values with the model: equal when
// fault-free; in the fault mode, never a value that was not written, and
// never a superseded one for keys the model is sure of... except that a
// stale replica may still show one until repair, so only invention is
// checked.
func (h *history) checkRead(key string, got []string) error {
	if !h.cfg.Faults {
		if want := h.live(key); !slices.Equal(got, want) {
			return fmt.Errorf("live %v, model %v", got, want)
		}
		return nil
	}
	for _, v := range got {
		if !h.ever[key][v] {
			return fmt.Errorf("read %q, which was never written", v)
		}
	}
	return nil
}

// finalCheck reads every key from all N replicas with a fresh coordinator.
func (h *history) finalCheck() error {
	co := h.cl.Coordinator()
	h.serving(co)
	for _, key := range h.keys {
		g, err := co.Get(context.Background(), key, coordinator.Options{R: coordinator.QuorumAll})
		if err != nil {
			return fmt.Errorf("final get %s: %w", key, err)
		}
		got := liveOf(g)
		if h.unsure[key] {
			for _, v := range got {
				if !h.ever[key][v] {
					return fmt.Errorf("final %s: %q was never written", key, v)
				}
			}
			continue
		}
		if want := h.live(key); !slices.Equal(got, want) {
			return fmt.Errorf("final %s: live %v, model %v", key, got, want)
		}
	}
	return nil
}

// dump describes key's replicas, for a failure message.
func (h *history) dump(key string) string {
	var b strings.Builder
	for _, id := range h.cl.Primaries(key) {
		o, _, ok := h.cl.Replica(id, key)
		if !ok {
			fmt.Fprintf(&b, "\n  %s: absent", id)
			continue
		}
		fmt.Fprintf(&b, "\n  %s: clock %s siblings", id, o.Clock)
		for _, s := range o.Siblings {
			fmt.Fprintf(&b, " %s=%q", s.Dot, s.Value)
		}
	}
	return b.String()
}

func (h *history) clockOf(key, token string) string {
	cl, err := h.cl.Env.Members.Load(context.Background())
	if err != nil {
		return err.Error()
	}
	c, err := kv.DecodeContext(*cl.ContextKeys, key, token, kv.DefaultLimits(), time.Now())
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s seen %v", c.Clock, c.Seen)
}
