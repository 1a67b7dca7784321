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
//
// While the region nemesis has nodes cut off (cutOff .. healCut), the nemesis
// leaves them alone and counts them as down: it takes no node down that
// would put more than its limit down in all, and it heals its own downs
// first when the cut alone pushed the count over that limit.
type nemesis struct {
	rng        *rand.Rand
	nodes      []string
	n, w       int
	baseDown   int
	sloppyP    float64
	maxLatency time.Duration
	maxFaulted int

	// act is held across one action (decide, apply, record) and across a
	// region cut or heal, so the two never interleave on a node.
	act sync.Mutex

	mu      sync.Mutex
	cut     map[string]bool // nodes the region nemesis has cut off
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
		modes: map[string]FaultMode{}, actions: map[string]int{}, cut: map[string]bool{},
	}
}

// downs counts the nodes down: the nemesis's and the region cut's.
func (m *nemesis) downs() int {
	d := len(m.cut)
	for _, f := range m.modes {
		if f.Kind == "down" {
			d++
		}
	}
	return d
}

// downLimit is the most nodes the nemesis ever lets be down at once: its
// base, plus one (the sloppy quorum) when at least N nodes stay up.
func (m *nemesis) downLimit() int {
	if m.sloppyP > 0 && len(m.nodes)-(m.baseDown+1) >= m.n {
		return m.baseDown + 1
	}
	return m.baseDown
}

// cutOff runs cut (the region nemesis taking nodes down) between two
// nemesis actions. From then on, until healCut, the nemesis leaves nodes
// alone and counts them as down. The cut's faults replace any the nemesis had
// set on those nodes (and the cut's heal clears them), so the nemesis forgets
// its own.
func (m *nemesis) cutOff(nodes []string, cut func() error) error {
	m.act.Lock()
	defer m.act.Unlock()
	err := cut()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range nodes {
		delete(m.modes, id)
		if err == nil {
			m.cut[id] = true
		}
	}
	return err
}

// healCut runs heal (the region nemesis bringing its nodes back) between two
// nemesis actions; the nemesis may then act on those nodes again.
func (m *nemesis) healCut(heal func() error) error {
	m.act.Lock()
	defer m.act.Unlock()
	err := heal()
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.cut)
	return err
}

// next picks the next action from the current state; an action without a
// node (every node is cut off) does nothing.
func (m *nemesis) next() action {
	m.mu.Lock()
	defer m.mu.Unlock()
	var faulted, healthy []string
	for _, id := range m.nodes {
		if m.cut[id] {
			continue
		}
		if _, ok := m.modes[id]; ok {
			faulted = append(faulted, id)
		} else {
			healthy = append(healthy, id)
		}
	}
	sort.Strings(faulted)
	first, second := m.steps == 0, m.steps == 1
	m.steps++
	if len(faulted) == 0 && len(healthy) == 0 {
		return action{}
	}
	if len(m.cut) > 0 && m.downs() > m.downLimit() {
		// The cut pushed the count over the limit: heal one of ours.
		for _, id := range faulted {
			if m.modes[id].Kind == "down" {
				return action{node: id, heal: true}
			}
		}
	}
	if len(healthy) == 0 || len(faulted)+len(m.cut) >= m.maxFaulted || (!first && !second && len(faulted) > 0 && m.rng.Float64() < 0.35) {
		if len(faulted) == 0 {
			return action{} // the cut alone faults as many nodes as the nemesis may
		}
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
