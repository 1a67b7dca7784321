package wire

import (
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/nodestats"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/infra/recent"
)

// Ports are the three stores an App runs on: S3, SQS and DynamoDB adapters
// (Build), or the durable embedded store of the local server
// (infra/localstore).
type Ports struct {
	Store   kv.ReplicaStore
	Hints   kv.HintQueue
	Members kv.Membership
}

// BuildWith builds the coordinator on the given ports, with fault injection
// when c.Faults. It does no I/O. c's AWS and queue settings are not used
// (App.AWS stays zero) but must still be valid.
func BuildWith(c Config, p Ports, log *slog.Logger) (*App, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if p.Store == nil || p.Hints == nil || p.Members == nil {
		return nil, errors.New("wire: store, hints and membership are all required")
	}
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	app := &App{Config: c, Store: p.Store, Hints: p.Hints, Members: p.Members, Log: log}
	replicas := p.Store
	if c.Faults {
		rng := mrand.New(mrand.NewPCG(seed(), seed()))
		app.Faults = faults.New(p.Store, rng.Float64, nil)
		replicas = app.Faults
	}
	repairStore := replicas // the repair job's requests are not the coordinator's
	// Per-node request counts above fault injection: injected failures count.
	app.NodeStats = nodestats.New(replicas, time.Now)
	ports := Ports{Store: app.NodeStats, Hints: p.Hints, Members: p.Members}
	if c.Wrap != nil {
		ports = c.Wrap(ports)
		repairStore = ports.Store
	}
	app.Recent = recent.New(time.Now)
	deps := coordinator.Deps{
		Store: ports.Store, Hints: ports.Hints, Members: ports.Members,
		Now: time.Now, Rand: seed, Log: log, Observer: app.Recent,
	}
	if app.Faults != nil {
		deps.OnView = app.ApplyFaults
	}
	var err error
	cc := c.Coordinator
	if cc.Region == "" { // the coordinator runs where the stack does
		cc.Region = c.AWS.Region
	}
	if cc.DefaultRegion == "" { // a node without a region is in the stack's
		cc.DefaultRegion = c.AWS.Region
	}
	app.Coord, err = coordinator.New(cc, deps)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	app.Repair, err = repair.New(c.Repair, repair.Deps{
		Store: repairStore, Members: ports.Members, Handoff: app.Coord, Now: time.Now, Rand: seed, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("wire: repair: %w", err)
	}
	return app, nil
}
