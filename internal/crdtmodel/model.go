// Package crdtmodel checks the data types end to end against their
// specification: random operations on a counter, a set and a cart (a map of
// item -> counter, plus a checkout flag) go through three coordinators, each
// with its own cached view, over one store; in the fault mode nodes go down
// and come back (sloppy quorum, hints), and at the end every node is
// healed, hints are delivered and anti-entropy runs.
//
// The specification, from the issue: a counter equals the sum of the
// acknowledged increments (an increment that failed with a quorum error may
// or may not count); a set holds every acknowledged add not removed by a
// remove that observed it; the same for map fields. Operations run one at a
// time, so "observed" is decided by order: a remove's context comes from a
// read made at some step, and an add made after that read was not observed
// (the add wins). Clients often remove with an old read, so adds and
// removes are concurrent in the causal sense. Most elements are added once,
// so a read that shows an element observed its only add; that makes the
// resurrection check exact even in the fault mode, where a read may miss an
// acknowledged add.
package crdtmodel

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/crdt"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// Config sizes a run.
type Config struct {
	Seed      int64 // history i uses Seed+i
	Histories int
	Ops       int // operations per history
	Faults    bool
}

// Totals count what a run checked.
type Totals struct {
	Histories, Ops, Reads, Adds, Removes, Increments, Rejected412, Unsure, Faults int
	// Present and Absent count the final checks that an element or field
	// must be there (an add no remove observed) or gone (every add observed
	// by an acknowledged remove).
	Present, Absent int
}

func (t *Totals) add(o Totals) {
	t.Histories += o.Histories
	t.Ops += o.Ops
	t.Reads += o.Reads
	t.Adds += o.Adds
	t.Removes += o.Removes
	t.Increments += o.Increments
	t.Rejected412 += o.Rejected412
	t.Unsure += o.Unsure
	t.Faults += o.Faults
	t.Present += o.Present
	t.Absent += o.Absent
}

// String summarizes the totals.
func (t Totals) String() string {
	return fmt.Sprintf("%d histories, %d operations (%d reads, %d adds, %d removes, %d increments; %d answered 412), %d unsure, %d faults; final checks: %d present, %d absent",
		t.Histories, t.Ops, t.Reads, t.Adds, t.Removes, t.Increments, t.Rejected412, t.Unsure, t.Faults, t.Present, t.Absent)
}

// Run runs cfg.Histories histories on fresh environments and fails t at
// the first divergence, naming its seed.
func Run(t *testing.T, newEnv func(t *testing.T) coordtest.Env, cfg Config) Totals {
	t.Helper()
	var total Totals
	for i := 0; i < cfg.Histories; i++ {
		seed := cfg.Seed + int64(i)
		tot, err := History(t, newEnv(t), seed, cfg)
		total.add(tot)
		if err != nil {
			t.Fatalf("seed %d (faults %v): %v", seed, cfg.Faults, err)
		}
	}
	return total
}

// addRec is one add of an element (or one update of a map field).
type addRec struct {
	step  int
	acked bool
}

// rmRec is one remove: the step of the read whose context it carried,
// whether that read showed the element, and whether it was acknowledged.
type rmRec struct {
	readStep int
	sawIt    bool
	acked    bool
}

// elemSpec is what the specification knows of one element or field.
type elemSpec struct {
	adds []addRec
	rms  []rmRec
}

// read is a client's read of a typed key.
type read struct {
	step  int
	value any
	ctx   string
}

type history struct {
	cfg    Config
	rnd    *rand.Rand
	cl     *coordtest.Cluster
	coords []*coordinator.Coordinator
	keys   map[crdt.Type]string
	reads  map[crdt.Type][]read
	set    map[string]*elemSpec // elements of the set
	cart   map[string]*elemSpec // items of the cart
	count  struct{ acked, unsureNeg, unsurePos int64 }
	items  map[string]struct{ acked, unsureNeg, unsurePos int64 } // item counters never removed
	down   map[string]bool
	step   int
	next   int
	tot    Totals
}

// History runs one seeded history and returns the first divergence.
func History(t *testing.T, env coordtest.Env, seed int64, cfg Config) (Totals, error) {
	h := &history{
		cfg: cfg, rnd: rand.New(rand.NewSource(seed)),
		cl:    coordtest.NewCluster(t, env, coordtest.Options{Nodes: 5}),
		keys:  map[crdt.Type]string{},
		reads: map[crdt.Type][]read{},
		set:   map[string]*elemSpec{}, cart: map[string]*elemSpec{},
		items: map[string]struct{ acked, unsureNeg, unsurePos int64 }{},
		down:  map[string]bool{},
	}
	for i := 0; i < 3; i++ {
		h.coords = append(h.coords, h.cl.Coordinator(func(c *coordinator.Config) {
			c.ClusterTTL = time.Hour
			c.ReplicaTimeout = 5 * time.Second
		}))
	}
	for _, typ := range []crdt.Type{crdt.Counter, crdt.Set, crdt.Map} {
		h.keys[typ] = fmt.Sprintf("%s-%d", typ, seed)
	}
	h.tot.Histories = 1
	for h.step = 0; h.step < cfg.Ops; h.step++ {
		if cfg.Faults {
			h.nemesis()
		}
		if err := h.op(); err != nil {
			return h.tot, fmt.Errorf("step %d: %w", h.step, err)
		}
		h.tot.Ops++
		for _, co := range h.coords {
			co.Wait()
		}
	}
	if cfg.Faults {
		if err := h.heal(); err != nil {
			return h.tot, err
		}
	}
	return h.tot, h.final()
}

func (h *history) nemesis() {
	if h.rnd.Intn(100) >= 15 {
		return
	}
	id := fmt.Sprintf("n%d", 1+h.rnd.Intn(5))
	switch {
	case h.down[id]:
		delete(h.down, id)
	case len(h.down) < 2:
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
	r, err := h.cl.Repairer(h.coords[0], time.Now, nil)
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if _, err := r.Run(context.Background()); err != nil {
			return fmt.Errorf("repair: %w", err)
		}
	}
	return nil
}

func (h *history) coord() *coordinator.Coordinator { return h.coords[h.rnd.Intn(len(h.coords))] }

// outcome sorts an operation's error: nil (acknowledged), unsure (a quorum
// error or timeout in the fault mode: it may have taken effect), or a
// divergence.
func (h *history) outcome(err error) (acked bool, failure error) {
	var qe *kv.QuorumError
	switch {
	case err == nil:
		return true, nil
	case h.cfg.Faults && (errors.As(err, &qe) || errors.Is(err, context.DeadlineExceeded)):
		h.tot.Unsure++
		return false, nil
	}
	return false, err
}

// readKey reads a typed key through a random coordinator and keeps the read.
func (h *history) readKey(typ crdt.Type) (read, bool, error) {
	res, err := h.coord().GetTyped(context.Background(), h.keys[typ], coordinator.Options{})
	if _, ferr := h.outcome(err); ferr != nil || err != nil {
		return read{}, false, ferr
	}
	h.tot.Reads++
	r := read{step: h.step, ctx: res.Context}
	if res.Found {
		r.value = res.State.Value()
	}
	if err := h.noInvention(typ, r.value); err != nil {
		return read{}, false, err
	}
	h.reads[typ] = append(h.reads[typ], r)
	return r, true, nil
}

// oldRead picks a read for a remove: usually the newest, sometimes an older
// one (its remove is then concurrent with the adds since).
func (h *history) oldRead(typ crdt.Type) (read, bool) {
	rs := h.reads[typ]
	if len(rs) == 0 {
		return read{}, false
	}
	if h.rnd.Intn(3) == 0 {
		return rs[h.rnd.Intn(len(rs))], true
	}
	return rs[len(rs)-1], true
}

func (h *history) name(prefix string, spec map[string]*elemSpec) string {
	if len(spec) > 0 && h.rnd.Intn(5) == 0 { // sometimes re-add an old one
		names := make([]string, 0, len(spec))
		for n := range spec {
			names = append(names, n)
		}
		slices.Sort(names)
		return names[h.rnd.Intn(len(names))]
	}
	h.next++
	return fmt.Sprintf("%s%d", prefix, h.next)
}

func (h *history) update(typ crdt.Type, op crdt.Op) (bool, error) {
	_, err := h.coord().Update(context.Background(), h.keys[typ], op, coordinator.Options{})
	if errors.Is(err, crdt.ErrNotSeen) {
		return false, fmt.Errorf("412 for a remove whose context saw it: %v", err)
	}
	return h.outcome(err)
}
