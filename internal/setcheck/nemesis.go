package setcheck

import (
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// FaultMode is the body of PUT /admin/faults/{node}.
type FaultMode struct {
	Kind      string  `json:"mode"`
	LatencyMs int     `json:"latencyMs,omitempty"`
	Rate      float64 `json:"rate,omitempty"`
}

// action is one nemesis step: set a fault on a node, or heal it.
type action struct {
	node string
	heal bool
	mode FaultMode
}

// nemesis decides fault actions. It keeps at most maxDown nodes down (N-W by
// default, so quorums stay reachable through the primaries), except that with
// probability sloppy it lets one more go down when at least N nodes stay up,
// which forces writes onto fallbacks (the sloppy quorum and hinted handoff).
// At most half the nodes (rounded up) carry a fault at once. The first action
// of a run is always "down" and the second tries another "down" beyond N-W
// (if the sloppy quorum is allowed), so even a short run exercises hinted
// handoff and the sloppy quorum.
type nemesis struct {
	rng        *rand.Rand
	nodes      []string
	n, w       int
	baseDown   int
	sloppyP    float64
	maxLatency time.Duration
	maxFaulted int

	mu      sync.Mutex
	modes   map[string]FaultMode
	actions map[string]int
	heals   int
	maxDown int
	sloppy  int
	errors  int
	steps   int
}

func newNemesis(rng *rand.Rand, nodes []string, n, w, maxDown int, sloppy float64, maxLatency time.Duration) *nemesis {
	if maxDown == 0 {
		maxDown = max(n-w, 1)
	}
	return &nemesis{
		rng: rng, nodes: append([]string(nil), nodes...), n: n, w: w, baseDown: maxDown, sloppyP: sloppy,
		maxLatency: maxLatency, maxFaulted: max((len(nodes)+1)/2, 1),
		modes: map[string]FaultMode{}, actions: map[string]int{},
	}
}

func (m *nemesis) downs() int {
	d := 0
	for _, f := range m.modes {
		if f.Kind == "down" {
			d++
		}
	}
	return d
}

// next picks the next action from the current state.
func (m *nemesis) next() action {
	m.mu.Lock()
	defer m.mu.Unlock()
	var faulted, healthy []string
	for _, id := range m.nodes {
		if _, ok := m.modes[id]; ok {
			faulted = append(faulted, id)
		} else {
			healthy = append(healthy, id)
		}
	}
	sort.Strings(faulted)
	first, second := m.steps == 0, m.steps == 1
	m.steps++
	if len(healthy) == 0 || len(faulted) >= m.maxFaulted || (!first && !second && len(faulted) > 0 && m.rng.Float64() < 0.35) {
		return action{node: faulted[m.rng.IntN(len(faulted))], heal: true}
	}
	node := healthy[m.rng.IntN(len(healthy))]
	kind := "down"
	if !first && !second {
		switch p := m.rng.Float64(); {
		case p < 0.3:
			kind = "slow"
		case p < 0.6:
			kind = "errors"
		}
	}
	if kind == "down" {
		limit := m.baseDown
		if (second || m.rng.Float64() < m.sloppyP) && m.sloppyP > 0 && len(m.nodes)-(m.downs()+1) >= m.n {
			limit++
		}
		if m.downs() >= limit {
			kind = "errors"
		}
	}
	switch kind {
	case "slow":
		lo := min(10*time.Millisecond, m.maxLatency)
		d := lo + time.Duration(m.rng.Int64N(int64(m.maxLatency-lo)+1))
		return action{node: node, mode: FaultMode{Kind: "slow", LatencyMs: max(int(d/time.Millisecond), 1)}}
	case "errors":
		return action{node: node, mode: FaultMode{Kind: "errors", Rate: float64(10+m.rng.IntN(41)) / 100}}
	}
	return action{node: node, mode: FaultMode{Kind: "down"}}
}

// applied records the outcome of an action the server was asked to apply.
func (m *nemesis) applied(a action, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.errors++
		return
	}
	if a.heal {
		delete(m.modes, a.node)
		m.heals++
		return
	}
	m.modes[a.node] = a.mode
	m.actions[a.mode.Kind]++
	if d := m.downs(); a.mode.Kind == "down" {
		m.maxDown = max(m.maxDown, d)
		if d > m.n-m.w {
			m.sloppy++ // some keys now have fewer than W primaries up
		}
	}
}

// faults is the number of faults injected so far.
func (m *nemesis) faults() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := 0
	for _, v := range m.actions {
		t += v
	}
	return t
}
