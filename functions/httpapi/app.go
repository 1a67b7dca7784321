package httpapi

import (
	"time"

	"github.com/cartwheel/cartwheel/functions/jobs"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// FromApp returns the handler's dependencies from a wired application. The
// repair routes use the application's shared jobs.Repairer, so the local
// server's schedule and the admin API see the same transfer progress.
func FromApp(app *wire.App, hintWait time.Duration) Deps {
	d := Deps{
		Coord: app.Coord, Members: app.Members, Hints: app.Hints, Faults: app.Faults,
		HintWait: hintWait, Log: app.Log, Limits: app.Config.Coordinator.Limits,
	}
	if r, err := jobs.RepairerFor(app, hintWait); err == nil {
		d.Repair = r
	} else {
		app.Log.Error("repair job unavailable: POST /admin/repair only drains hints", "err", err)
	}
	return d
}
