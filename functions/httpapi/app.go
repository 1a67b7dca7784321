package httpapi

import (
	"time"

	"github.com/cartwheel/cartwheel/functions/jobs"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// FromApp returns the handler's dependencies from a wired application. The
// repair routes use repairer (nil: POST /admin/repair only drains hints), which
// the caller shares with its repair schedule so both see the same transfer
// progress.
func FromApp(app *wire.App, hintWait time.Duration, repairer *jobs.Repairer) Deps {
	d := Deps{
		Coord: app.Coord, Members: app.Members, Hints: app.Hints, Faults: app.Faults,
		HintWait: hintWait, Log: app.Log, Limits: app.Config.Coordinator.Limits, NodeStats: app.NodeStats,
	}
	if repairer != nil {
		d.Jobs = repairer
	}
	return d
}
