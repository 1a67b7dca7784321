// The replica selection of one request: the preference list, fallbacks
// found at run time (sloppy quorum), the owners a pending ring change adds,
// the order replicas are tried as coordinator, and quorum sizes.

package coordinator

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
)

// target is one replica location for a key: a node's own data object, or a
// hinted replica it holds for another node.
type target struct {
	node     kv.Node
	intended string // for a fallback, the primary it stands in for; "" for a primary
	name     string
}

func (t target) primary() bool { return t.intended == "" }

// owner is the node whose replica this target holds.
func (t target) owner() string {
	if t.intended != "" {
		return t.intended
	}
	return t.node.ID
}

// plan is the replica selection of one request: the preference list, and the
// rest of the ring walk for fallbacks found at run time (sloppy quorum).
type plan struct {
	c    *Coordinator
	v    *view
	key  string
	n    int
	now  time.Time
	mu   sync.Mutex
	used map[string]bool
	walk []string // lazily computed
	// prefer, if set, marks the nodes a failed replica's stand-in is
	// looked for first when that replica was preferred too (the local
	// quorum's region).
	prefer func(kv.Node) bool
}

func (c *Coordinator) up(v *view, now time.Time) func(string) bool {
	return func(id string) bool {
		n, ok := v.nodes[id]
		return ok && n.State != kv.StateDown && !c.health.suspect(id, now)
	}
}

func (c *Coordinator) newPlan(v *view, key string, now time.Time) (*plan, []target) {
	p := &plan{c: c, v: v, key: key, n: v.cluster.Params.N, now: now, used: map[string]bool{}}
	var ts []target
	for _, r := range v.ring.PreferenceList(key, p.n, c.up(v, now)) {
		p.used[r.Node] = true
		ts = append(ts, p.target(r.Node, r.StandsInFor))
	}
	return p, ts
}

func (p *plan) target(node, intended string) target {
	t := target{node: p.v.nodes[node], intended: intended}
	if intended == "" {
		t.name = kv.DataName(p.key)
	} else {
		t.name = kv.HintName(intended, p.key)
	}
	return t
}

// fallback returns the next unused, up node of the ring walk after the
// primaries, to hold intended's replica; false when none is left.
func (p *plan) fallback(intended string) (target, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.walk == nil {
		p.walk = p.v.ring.Walk(p.key)
	}
	up := p.c.up(p.v, p.c.deps.Now())
	pass := 1
	if p.prefer != nil && p.prefer(p.v.nodes[intended]) {
		pass = 0 // first a preferred node, then any
	}
	for ; pass < 2; pass++ {
		for i := min(p.n, len(p.walk)); i < len(p.walk); i++ {
			id := p.walk[i]
			if p.used[id] || !up(id) || (pass == 0 && !p.prefer(p.v.nodes[id])) {
				continue
			}
			p.used[id] = true
			return p.target(id, intended), true
		}
	}
	return target{}, false
}

// quorumSize resolves a requested quorum size (0: def) against the cluster's N.
func (c *Coordinator) quorumSize(v *view, override, def int, what string) (int, error) {
	n := v.cluster.Params.N
	switch override {
	case 0:
		return def, nil
	case QuorumOne:
		return 1, nil
	case QuorumMajority:
		return n/2 + 1, nil
	case QuorumAll:
		return n, nil
	case QuorumLocal:
		return 0, fmt.Errorf("%w: %s=local is not supported (only r and w)", kv.ErrBadRequest, what)
	}
	if override < 1 || override > n {
		lo := 1 // pr and pw also take 0 (no primary required)
		if what == "pr" || what == "pw" {
			lo = 0
		}
		return 0, fmt.Errorf("%w: %s=%d must be in [%d, n=%d]", kv.ErrBadRequest, what, override, lo, n)
	}
	return override, nil
}

// pending returns the targets a pending ring change (kv.Cluster.Next) adds
// to the key: its primaries under Next that are not primaries now. They are
// marked used, so no fallback duplicates them.
func (p *plan) pending() []target {
	if p.v.next == nil {
		return nil
	}
	now := p.v.ring.Primaries(p.key, p.n)
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []target
	for _, id := range p.v.next.Primaries(p.key, p.n) {
		if !slices.Contains(now, id) {
			p.used[id] = true
			out = append(out, p.target(id, ""))
		}
	}
	return out
}

// coordinatorOrder lists the replicas in the order they are tried as
// coordinator: primaries before fallbacks, local ones (in the coordinator's
// region) before others, and, within each group, one the context has seen
// (its fast path saves a read) before the rest; otherwise preference-list
// order.
func coordinatorOrder(targets []target, kctx kv.Context, local func(kv.Node) bool) []target {
	out := slices.Clone(targets)
	slices.SortStableFunc(out, func(a, b target) int { return coordinatorRank(a, kctx, local) - coordinatorRank(b, kctx, local) })
	return out
}

// coordinatorRank orders coordinating-replica candidates: primaries before
// fallbacks, this region's before others, those the context saw first.
func coordinatorRank(t target, kctx kv.Context, local func(kv.Node) bool) int {
	r := 0
	if !t.primary() {
		r += 4
	}
	if !local(t.node) {
		r += 2
	}
	if _, ok := contextSeen(kctx, t); !ok {
		r++
	}
	return r
}

// contextSeen returns what the context saw of primary t's replica, if it
// saw it and the replica's minting identity may still mint on t: then t can
// be written with one conditional PUT on the ETag seen, without a read.
func contextSeen(kctx kv.Context, t target) (kv.Seen, bool) {
	s, ok := kctx.SeenFor(t.node.ID)
	if !ok || !t.primary() || !replica.ActorValid(s.Actor, t.node) {
		return kv.Seen{}, false
	}
	return s, true
}
