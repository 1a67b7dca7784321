package setcheck

import (
	"context"
	"sync/atomic"
	"time"
)

// RegionCut is the "region" nemesis: while the clients (spread over
// coordinators in every region, Config.Coordinators) keep writing, it cuts one
// region's storage endpoint off at At after the workload starts, and heals it
// For later (or when the workload ends, whichever is first). The settle phase
// then repairs and reads every set with R=N. Cut and Heal do the I/O (stop a
// proxy, a server, a network path); the check only times them.
type RegionCut struct {
	// Name names the region cut off (for the report).
	Name string
	// Cut and Heal cut the region off and bring it back.
	Cut, Heal func(ctx context.Context) error
	// At and For place the cut in the workload.
	At, For time.Duration
	// Nodes, if known, are the nodes the cut takes down through the admin
	// fault API. While the cut lasts, the random nemesis (Config.Nemesis)
	// leaves them alone and counts them as down: it takes another node down
	// only while the total stays within its limit (N-W, or one more when N
	// nodes stay up), and heals its own downs first when the cut pushed the
	// total over it. Without Nodes the two run independently.
	Nodes []string
}

// RegionReport is what the region nemesis did.
type RegionReport struct {
	Name string `json:"name"`
	// Coordinators is how many coordinators the clients used.
	Coordinators int `json:"coordinators"`
	// CutAt and HealedAt are seconds after the workload started (-1: never).
	CutAt    float64 `json:"cutAt"`
	HealedAt float64 `json:"healedAt"`
	// Error is the first Cut or Heal error ("" if none).
	Error string `json:"error,omitempty"`
	// DuringCut is each coordinator's read-modify-writes while the cut was
	// on: acknowledged, and failed (a read or a put answered an error).
	DuringCut []CoordinatorCount `json:"duringCut,omitempty"`
}

// CoordinatorCount is one coordinator's read-modify-writes during a cut.
type CoordinatorCount struct {
	URL          string `json:"url"`
	Acknowledged int64  `json:"acknowledged"`
	Failed       int64  `json:"failed"`
}

// run cuts at At, heals at At+For or at stop; it always heals what it cut.
// on is true while the cut is on (the clients count their writes then).
func (c *RegionCut) run(ctx context.Context, rep *RegionReport, stop <-chan struct{}, on *atomic.Bool) {
	start := time.Now()
	rep.CutAt, rep.HealedAt = -1, -1
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-stop:
		case <-ctx.Done():
		}
		return false
	}
	if !wait(c.At) {
		return
	}
	if err := c.Cut(ctx); err != nil {
		rep.Error = "cut: " + err.Error()
		return
	}
	rep.CutAt = time.Since(start).Seconds()
	on.Store(true)
	wait(c.For)
	on.Store(false)
	if err := c.Heal(context.WithoutCancel(ctx)); err != nil && rep.Error == "" {
		rep.Error = "heal: " + err.Error()
	}
	rep.HealedAt = time.Since(start).Seconds()
}
