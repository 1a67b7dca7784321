package httpapi

import (
	"time"

	"github.com/cartwheel/cartwheel/infra/wire"
)

// FromApp returns the handler's dependencies from a wired application.
func FromApp(app *wire.App, hintWait time.Duration) Deps {
	return Deps{
		Coord: app.Coord, Members: app.Members, Hints: app.Hints, Faults: app.Faults,
		HintWait: hintWait, Log: app.Log, Limits: app.Config.Coordinator.Limits,
	}
}
