// Hedged reads (Tail at Scale): a get asks the R replicas it expects to be
// fastest, and the others only if those have not all answered after a delay
// derived from the replica read latencies this coordinator observed (or at
// once when one of them fails). Until enough latencies are observed, and
// when hedging is off, a get asks every replica at once.

package coordinator

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// nodeWindow is how many recent latencies of each node the hedge delay is
// computed from, and nodeMinSamples how many a node needs to count;
// hedgeMinSamples must be observed in all before a request hedges.
const (
	nodeWindow      = 128
	nodeMinSamples  = 16
	hedgeMinSamples = 64
	hedgeRecompute  = 64 // the delay is recomputed every this many samples
)

// hedger keeps recent replica latencies per node. The hedge delay is the
// configured quantile of a typical node's latencies: each node's quantile
// over its own recent samples, and the lower median of those. A single
// slow node then does not drag the delay up to its own latency (a quantile
// over all samples would follow it once its share of the samples passed
// 1 - quantile), so requests waiting on it hedge as they should.
type hedger struct {
	quantile float64       // 0: no hedging at an observed quantile
	fixed    time.Duration // > 0: hedge after this delay instead

	mu      sync.Mutex
	n       int // samples recorded
	delay   time.Duration
	windows map[string]*latencyWindow
	perNode map[string]time.Duration // an exponentially weighted mean per node
}

// latencyWindow is one node's last nodeWindow latencies.
type latencyWindow struct {
	ring [nodeWindow]time.Duration
	n    int
}

func (w *latencyWindow) quantile(q float64) time.Duration {
	k := min(w.n, nodeWindow)
	s := slices.Clone(w.ring[:k])
	slices.Sort(s)
	return s[min(k-1, int(q*float64(k)))]
}

func newHedger(quantile float64, fixed time.Duration) *hedger {
	return &hedger{quantile: quantile, fixed: fixed, windows: map[string]*latencyWindow{}, perNode: map[string]time.Duration{}}
}

// on reports whether hedging is on.
func (h *hedger) on() bool { return h.quantile > 0 || h.fixed > 0 }

// observe records one successful replica request's latency.
func (h *hedger) observe(node string, d time.Duration) {
	if !h.on() || d < 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.windows[node]
	if w == nil {
		w = &latencyWindow{}
		h.windows[node] = w
	}
	w.ring[w.n%nodeWindow] = d
	w.n++
	h.n++
	if old, ok := h.perNode[node]; ok {
		h.perNode[node] = old + (d-old)/8
	} else {
		h.perNode[node] = d
	}
	if h.quantile > 0 && h.n >= hedgeMinSamples && h.n%hedgeRecompute == 0 {
		h.delay = h.typicalQuantile()
	}
}

// typicalQuantile is the lower median over nodes with nodeMinSamples
// samples of each one's quantile (every node's, when none has that many).
func (h *hedger) typicalQuantile() time.Duration {
	var qs, all []time.Duration
	for _, w := range h.windows {
		q := w.quantile(h.quantile)
		all = append(all, q)
		if w.n >= nodeMinSamples {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 {
		qs = all
	}
	slices.Sort(qs)
	return qs[(len(qs)-1)/2]
}

// current returns the hedge delay (0: do not hedge, ask everyone at once).
func (h *hedger) current() time.Duration {
	if h.fixed > 0 {
		return h.fixed
	}
	if h.quantile <= 0 {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n < hedgeMinSamples {
		return 0
	}
	return h.delay
}

// compareNodes orders two nodes by their mean observed latency, the
// faster first (unknown nodes count as 0: first, so they are measured).
func (h *hedger) compareNodes(a, b string) int {
	return cmp.Compare(h.nodeLatency(a), h.nodeLatency(b))
}

// nodeLatency returns a node's mean observed read latency (0 when unknown,
// so a node not read lately is tried first and measured).
func (h *hedger) nodeLatency(node string) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.perNode[node]
}

// splitHedge returns the targets a read asks first and those it asks after
// the hedge delay: the need counted targets with the lowest observed
// latency first (ties in preference-list order). It does not hedge (rest is
// empty) when delay is 0, when a local quorum restricts the coordinating
// region, or when primaries are required beyond what the first ones give.
func (c *Coordinator) splitHedge(p *plan, targets []target, q quorumSpec) (first, rest []target, delay time.Duration) {
	delay = c.hedge.current()
	if delay <= 0 || p.prefer != nil || len(targets) <= q.need || q.primaries > 0 {
		return targets, nil, 0
	}
	order := make([]int, len(targets))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ca, cb := q.counted(targets[a]), q.counted(targets[b])
		if ca != cb {
			if ca {
				return -1
			}
			return 1
		}
		return c.hedge.compareNodes(targets[a].node.ID, targets[b].node.ID)
	})
	for i, j := range order {
		if i < q.need {
			first = append(first, targets[j])
		} else {
			rest = append(rest, targets[j])
		}
	}
	return first, rest, delay
}

// coordinatorQueue is the order in which a put tries coordinating replicas:
// coordinatorOrder's, and with hedging on, among equally ranked candidates
// the one with the lowest observed read latency first, so one slow replica
// does not set the tail of the puts it would have coordinated.
func (c *Coordinator) coordinatorQueue(targets []target, kctx kv.Context) []target {
	out := coordinatorOrder(targets, kctx, c.local)
	if !c.hedge.on() {
		return out
	}
	slices.SortStableFunc(out, func(a, b target) int {
		if d := coordinatorRank(a, kctx, c.local) - coordinatorRank(b, kctx, c.local); d != 0 {
			return d
		}
		return c.hedge.compareNodes(a.node.ID, b.node.ID)
	})
	return out
}

// after returns a channel that receives once d has passed (Deps.After).
func (c *Coordinator) after(d time.Duration) <-chan time.Time {
	if c.deps.After != nil {
		return c.deps.After(d)
	}
	return time.After(d)
}

// Hedged writes: a put whose replication round is still undecided once the
// observed quantile of replica write latencies (or HedgeDelay) has passed writes the
// version, as a hinted replica, to the next fallback of every primary still
// writing, as if that primary had failed; the primary's own write goes on.
// One slow replica then does not set the put's tail. The hinted replica is
// delivered like any other (a no-op merge where the primary's write
// landed). Off unless HedgeQuantile or HedgeDelay is set, and never under a
// local quorum.

// writeHedgeTimer returns the channel that fires a round's hedge, or nil
// when writes are not hedged (hedging off, too few latencies observed, or a
// local quorum).
func (c *Coordinator) writeHedgeTimer(p *plan, round *writeRound) <-chan time.Time {
	d := c.writeHedge.current()
	if d <= 0 || p.prefer != nil || round.decided() {
		return nil
	}
	return c.after(d)
}

// hedgeWrites returns the stand-ins to write beside the primaries still in
// flight (in node order, while fallbacks last), none once the round was
// decided (or once the caller answered: decided). The caller holds the
// round's lock.
func (c *Coordinator) hedgeWrites(p *plan, round *writeRound, inFlight map[string]target, decided bool) []target {
	if decided || round.decided() {
		return nil
	}
	slow := make([]target, 0, len(inFlight))
	for _, t := range inFlight {
		slow = append(slow, t)
	}
	slices.SortFunc(slow, func(a, b target) int { return strings.Compare(a.node.ID, b.node.ID) })
	var out []target
	for _, t := range slow {
		fb, ok := p.fallback(t.owner())
		if !ok {
			break
		}
		round.hedged(fb)
		out = append(out, fb)
		c.stats.add(&c.stats.HedgedWrites, 1)
	}
	return out
}
