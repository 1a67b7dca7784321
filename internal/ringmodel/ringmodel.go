// Package ringmodel checks ring changes with a generated model, the way
// internal/modeltest checks the client contract: seeded random histories
// interleave client operations (put, blind put, delete, get), storage
// faults, membership changes (plan add, remove, re-add of an old id,
// re-plans, plan clear, node state, node forget), repair runs (transfers,
// commits and clean-ups, whole, interrupted by a request budget, or without
// the commit), reaping, and hint delivery (early, late, duplicated, after
// the fallback left). Every step runs in a fresh process: a new coordinator
// and a new repairer built over the same in-memory stores and membership
// record, with nothing carried in memory.
//
// After every step the model checks that every object stored anywhere is
// on a current or pending owner of its partition, or recorded in a durable
// clean-up (hinted replicas: on a member or on a departed node with a
// pending clean-up), and that the membership record stays under DynamoDB's
// item limit. After every history it heals every fault, runs repair to a
// fixed point (commits, clean-ups, hints, anti-entropy, a reap and repair
// again), and checks every key: no acknowledged write is lost unless a later
// write covered it, no value an acknowledged write covered (a deleted and
// reaped key's, say) comes back, nothing is invented, and nothing is left
// outside the current owners.
package ringmodel

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// Config sizes a run.
type Config struct {
	// Seed is the first history's seed; history i uses Seed+i.
	Seed int64
	// Histories is how many random histories to run.
	Histories int
	// Steps is the number of steps per history.
	Steps int
	// Keys per history.
	Keys int
	// Swarm leaves out about half the step kinds in each history (see swarm).
	Swarm bool
}

// DefaultConfig returns the make-test run: 100 histories of 60 steps over 4
// keys (a cluster of 5 nodes, ids n6 and n7 for additions, Q=16, N=3).
func DefaultConfig() Config {
	return Config{Seed: 1, Histories: 100, Steps: 60, Keys: 4}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Histories < 0 || c.Steps < 1 || c.Keys < 1 {
		return fmt.Errorf("ringmodel: Histories=%d must be >= 0, Steps=%d and Keys=%d >= 1", c.Histories, c.Steps, c.Keys)
	}
	return nil
}

// Totals count what a run did.
type Totals struct {
	Histories, Steps int
	// Ops counts each kind of step.
	Ops map[string]int
	// Acked counts acknowledged writes checked at the end; Reaped the keys
	// reaped during histories.
	Acked, Reaped int
}

func (t *Totals) add(o Totals) {
	t.Histories += o.Histories
	t.Steps += o.Steps
	t.Acked += o.Acked
	t.Reaped += o.Reaped
	if t.Ops == nil {
		t.Ops = map[string]int{}
	}
	for k, v := range o.Ops {
		t.Ops[k] += v
	}
}

// String summarizes the totals.
func (t Totals) String() string {
	return fmt.Sprintf("%d histories, %d steps, %d acknowledged writes checked, %d keys reaped; steps by kind %v",
		t.Histories, t.Steps, t.Acked, t.Reaped, t.Ops)
}

// Run runs cfg.Histories histories, each on a fresh in-memory environment,
// and fails t at the first violation, naming the seed that reproduces it.
func Run(t *testing.T, cfg Config) Totals {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var total Totals
	for i := 0; i < cfg.Histories; i++ {
		seed := cfg.Seed + int64(i)
		tot, err := History(t, seed, cfg)
		total.add(tot)
		if err != nil {
			t.Fatalf("seed %d: %v\nreproduce: add %d to the regression seeds (CARTWHEEL_MODEL_TRACE=1 logs every step)", seed, err, seed)
		}
	}
	return total
}

// Settle is the repairer's plan settling period in the model.
const Settle = time.Minute

// History runs one seeded history and returns the first violation.
func History(t *testing.T, seed int64, cfg Config) (Totals, error) {
	env := coordtest.MemEnv(t)
	p := kv.DefaultParams()
	p.Q = 16
	h := &history{
		t: t, cfg: cfg, rnd: rand.New(rand.NewSource(seed)), env: env,
		cl:   coordtest.NewCluster(t, env, coordtest.Options{Nodes: 5, Params: p}),
		vals: map[string]*ledger{}, gone1: map[string]bool{},
		locs:  map[kv.Location]string{},
		down:  map[kv.Location]bool{},
		gone:  map[kv.Location]bool{},
		tot:   Totals{Histories: 1, Ops: map[string]int{}},
		trace: func(string, ...any) {},
	}
	if os.Getenv("CARTWHEEL_MODEL_TRACE") != "" {
		h.trace = t.Logf
	}
	for i := 0; i < cfg.Keys; i++ {
		k := fmt.Sprintf("k%d-%d", seed, i)
		h.keys = append(h.keys, k)
		h.vals[k] = newLedger()
	}
	h.remember(h.cl.Cluster)
	if h.cfg.Swarm {
		h.swarm()
	} else {
		h.kinds = steps
	}
	for s := 0; s < cfg.Steps; s++ {
		name, err := h.step()
		h.tot.Steps++
		h.tot.Ops[name]++
		h.trace("seed %d step %d: %s (epoch %d, down %d, held %d, offset %v) %s", seed, s, name, h.members().Epoch, len(h.down), len(h.held), h.offset, h.lastOp)
		if k := os.Getenv("CARTWHEEL_MODEL_TRACE_KEY"); k != "" {
			h.trace("   %s", h.copies(k))
		}
		h.lastOp = ""
		if err != nil {
			return h.tot, fmt.Errorf("step %d (%s): %w", s, name, err)
		}
		if err := h.placement(false); err != nil {
			return h.tot, fmt.Errorf("after step %d (%s): %w", s, name, err)
		}
	}
	if err := h.fixedPoint(); err != nil {
		return h.tot, fmt.Errorf("healing: %w", err)
	}
	return h.tot, h.finalCheck()
}

// history is one run's state: the stores (through coordtest's cluster) and
// the model's ledger. Nothing of the system under test lives here between
// steps: each step builds its processes anew.
type history struct {
	t      *testing.T
	cfg    Config
	rnd    *rand.Rand
	env    coordtest.Env
	cl     *coordtest.Cluster
	keys   []string
	vals   map[string]*ledger
	locs   map[kv.Location]string // every location ever used -> its node id
	down   map[kv.Location]bool   // storage unreachable
	gone   map[kv.Location]bool   // storage forgotten (node forget): gone for good
	held   []kv.Hint              // hint messages taken from the queue, delivered late
	offset time.Duration          // the model clock's lead over the wall clock
	next   int
	kinds  []step          // the step kinds this history uses (swarm)
	gone1  map[string]bool // keys whose last acknowledged write was a delete
	// failedFirst: the next removal picks an unreachable member.
	failedFirst bool
	lastOp      string // what the last step did, for the trace
	tot         Totals
	trace       func(format string, a ...any)
}

// now is the repairers' and membership changes' clock; coordinators use the
// wall clock, which it never trails.
func (h *history) now() time.Time { return time.Now().Add(h.offset) }

func (h *history) members() kv.Cluster {
	c, err := h.env.Members.Load(context.Background())
	if err != nil {
		h.t.Fatalf("ringmodel: load membership: %v", err)
	}
	return c
}

func (h *history) remember(c kv.Cluster) {
	for _, n := range c.Nodes {
		h.locs[n.Location] = n.ID
	}
	for _, cl := range c.Cleanups {
		h.locs[cl.Node.Location] = cl.Node.ID
	}
}

// coord is a fresh coordinator (a new Lambda container).
func (h *history) coord() *coordinator.Coordinator { return h.cl.Coordinator() }

// repairer is a fresh repair process.
func (h *history) repairer(edit func(*repair.Config)) (*repair.Repairer, error) {
	cfg := repair.DefaultConfig()
	cfg.PlanSettle = Settle
	cfg.ReapScanEvery = -1
	cfg.Reserve = 0
	if edit != nil {
		edit(&cfg)
	}
	return repair.New(cfg, repair.Deps{Store: h.cl.Faults, Members: h.env.Members, Handoff: h.coord(), Now: h.now, Rand: h.cl.Uint64})
}

// recordLimit is DynamoDB's item limit, which the membership record (one
// item, compressed above 32 KB) must stay under.
const recordLimit = 400 * 1024

func recordSize(c kv.Cluster) int {
	b, err := json.Marshal(c)
	if err != nil {
		return recordLimit + 1
	}
	return len(b)
}
