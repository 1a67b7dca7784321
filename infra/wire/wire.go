// Package wire builds a ready Cartwheel application (coordinator, stores,
// queue, membership, optional fault injection) from configuration. Every entry
// point — the four Lambda functions, the local server, the benchmark and
// localstack/setup — calls it, so they cannot drift apart.
//
// config.go is the configuration (defaults, environment, validation);
// wire.go the App and Build on AWS; ports.go BuildWith on any ports;
// local.go the embedded store and an emulator endpoint; bootstrap.go the
// resources (Provision) and the first cluster (Bootstrap).
package wire

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/nodestats"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
	"github.com/cartwheel/cartwheel/infra/recent"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/sqshints"
)

// App is a wired Cartwheel.
type App struct {
	Config  Config
	Coord   *coordinator.Coordinator
	Store   kv.ReplicaStore // the raw store, S3 or local (below fault injection)
	Faults  *faults.Store   // nil unless Config.Faults
	Hints   kv.HintQueue    // SQS, or the local store's queue
	Members kv.Membership   // DynamoDB, or the local store's membership
	Log     *slog.Logger
	AWS     aws.Config // zero when built by BuildWith on local ports

	// NodeStats counts each node's replica requests, failures and latency in
	// this process (the coordinator's requests go through it).
	NodeStats *nodestats.Store
	// Repair is the repair job over the same ports as Coord (hints are
	// delivered through Coord).
	Repair *repair.Repairer
	// Recent is this process's recent activity, fed by Coord (its
	// Observer) and shown by the dashboard.
	Recent *recent.Series
}

// Build connects to the services and builds the coordinator. It does no I/O
// beyond loading credentials; call Provision (local only) and Bootstrap as
// needed.
func Build(ctx context.Context, c Config, log *slog.Logger) (*App, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.QueueURL == "" {
		return nil, errors.New("wire: queue URL unknown; call Provision first")
	}
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	awsCfg, err := awsconf.Load(ctx, c.AWS)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	scfg := s3store.DefaultConfig()
	scfg.VerifyDelete = true
	store, err := s3store.New(awsCfg, scfg)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	hints, err := sqshints.New(awsconf.SQS(awsCfg, c.AWS.Endpoint), c.QueueURL, c.DLQURL)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	members, err := ddbmembership.New(awsconf.DynamoDB(awsCfg, c.AWS.Endpoint), c.Table)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	app, err := BuildWith(c, Ports{Store: store, Hints: hints, Members: members}, log)
	if err != nil {
		return nil, err
	}
	app.AWS = awsCfg
	return app, nil
}

// seed returns a cryptographically random 64-bit number (actor nonces must not
// repeat across Lambda containers started at the same instant).
func seed() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("wire: crypto/rand: %v", err)) // never happens on Linux
	}
	return binary.LittleEndian.Uint64(b[:])
}

// Lambda is the start-up of every Lambda function: configuration from the
// environment, clients, and the cluster bootstrapped on first start.
func Lambda(ctx context.Context, getenv func(string) string, log *slog.Logger) (*App, error) {
	cfg, err := FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	app, err := Build(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if _, err := app.Bootstrap(ctx); err != nil {
		return nil, err
	}
	return app, nil
}

// AllowedEndpoints are the node endpoints the admin API accepts besides
// the S3 endpoints of the stack's partition: Config.AllowedEndpoints and the
// services' own endpoint (moto, LocalStack), if one is configured.
func (a *App) AllowedEndpoints() []string {
	out := append([]string(nil), a.Config.AllowedEndpoints...)
	if e := a.Config.AWS.Endpoint; e != "" {
		out = append(out, e)
	}
	return out
}

// ApplyFaults makes the fault injector apply exactly the faults the cluster
// names (the admin API stores them in membership, so every process — every
// Lambda container — applies the same ones within the membership cache
// period). A no-op when fault injection is disabled.
func (a *App) ApplyFaults(c kv.Cluster) {
	if a.Faults == nil {
		return
	}
	modes := make(map[kv.Location]faults.Mode, len(c.Faults))
	for _, n := range c.Nodes {
		if m, ok := c.Faults[n.ID]; ok {
			modes[n.Location] = m
		}
	}
	if err := a.Faults.Replace(modes); err != nil {
		a.Log.Error("invalid fault in membership", "err", err)
	}
}
