package coordtest

import (
	"time"

	"github.com/cartwheel/cartwheel/core/repair"
)

// Repairer returns a repair job over the cluster's stores (through its fault
// injector) as the generated models run it: no settle period before a
// commit, no periodic reap scan, no time reserve, the environment's hint
// wait. edit, if not nil, changes that configuration further. handoff
// delivers hints (usually one of the cluster's coordinators); now is the
// job's clock.
func (c *Cluster) Repairer(handoff repair.Handoff, now func() time.Time, edit func(*repair.Config)) (*repair.Repairer, error) {
	cfg := repair.DefaultConfig()
	cfg.PlanSettle, cfg.ReapScanEvery, cfg.Reserve, cfg.HintWait = 0, -1, 0, c.Env.HintWait
	if edit != nil {
		edit(&cfg)
	}
	return repair.New(cfg, repair.Deps{Store: c.Faults, Members: c.Env.Members, Handoff: handoff, Now: now, Rand: c.Uint64})
}
