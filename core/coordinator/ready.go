// Readiness, for GET /readyz: membership loaded and fresh, and a quorum of
// every partition's primaries reachable as this process sees them. It makes
// no replica request: it judges from what the process already knows.

package coordinator

import (
	"context"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/ring"
)

// Readiness is this coordinator's view of whether it can serve.
type Readiness struct {
	// Membership is nil when the cluster record is loaded and fresh (read
	// within ClusterTTL), else why not.
	Membership error
	// MembershipAge is how long ago membership was last read.
	MembershipAge time.Duration
	// Partitions is Q; Short counts the partitions with fewer than Need
	// primaries reachable; Need is max(R, W) of the cluster.
	Partitions, Short, Need int
	// Unreachable are the nodes counted out: state down, an injected "down"
	// fault, or suspected after failed requests. Sorted.
	Unreachable []string
}

// Ready reports whether membership is fresh and every partition has a
// quorum of reachable primaries.
func (r Readiness) Ready() bool { return r.Membership == nil && r.Short == 0 && r.Partitions > 0 }

// staleError: membership could not be read within the cache period.
type staleError struct{ age time.Duration }

func (e staleError) Error() string {
	return "membership last read " + e.age.Round(time.Millisecond).String() + " ago (stale)"
}

// Ready loads membership if its cached view expired and judges readiness.
func (c *Coordinator) Ready(ctx context.Context) Readiness {
	now := c.deps.Now()
	v, err := c.views.get(ctx, now)
	if err != nil {
		return Readiness{Membership: err}
	}
	out := Readiness{MembershipAge: now.Sub(c.views.loadedAt())}
	if out.MembershipAge > c.cfg.ClusterTTL {
		out.Membership = staleError{out.MembershipAge}
	}
	cl := v.cluster
	down := map[string]bool{}
	for _, n := range cl.Nodes {
		if n.State == kv.StateDown || cl.Faults[n.ID].Kind == "down" || c.health.suspect(n.ID, now) {
			down[n.ID] = true
			out.Unreachable = append(out.Unreachable, n.ID)
		}
	}
	slices.Sort(out.Unreachable)
	out.Need = max(cl.Params.R, cl.Params.W)
	out.Partitions = v.ring.Q()
	out.Short = shortPartitions(v.ring, cl.Params.N, out.Need, func(id string) bool { return !down[id] })
	return out
}

// shortPartitions counts the partitions with fewer than need of their n
// primaries up.
func shortPartitions(r *ring.Ring, n, need int, up func(string) bool) int {
	short := 0
	for p := range r.Q() {
		got := 0
		for _, id := range r.PrimariesOfPartition(p, n) {
			if up(id) {
				got++
			}
		}
		if got < need {
			short++
		}
	}
	return short
}

// loadedAt is when the cached view was last confirmed by membership.
func (v *views) loadedAt() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur == nil {
		return time.Time{}
	}
	return v.cur.loaded
}
