package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cartwheel/cartwheel/infra/localstore"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// Hint queue settings of the embedded store, as sqshints.Ensure gives the
// local SQS queue: a received hint comes back after 30 s unless delivered,
// and moves to the dead-letter list after 20 receives.
const (
	localHintVisibility  = 30 * time.Second
	localHintMaxReceives = 20
)

// buildApp wires the application: on the durable embedded store under
// o.dataDir when o.endpoint is empty, else on the AWS endpoint (creating the
// bucket, table and queues there). The returned func closes the store; call
// it after the coordinator's background work is done.
func buildApp(ctx context.Context, o serveOptions, cfg wire.Config, log *slog.Logger, out io.Writer) (*wire.App, func(), error) {
	if o.endpoint != "" {
		cfg.AWS.Endpoint = o.endpoint
		if err := cfg.Validate(); err != nil {
			return nil, nil, err
		}
		cfg, err := wire.Provision(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		app, err := wire.Build(ctx, cfg, log)
		return app, func() {}, err
	}
	dir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("data dir: %w", err)
	}
	db, err := localstore.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() {
		if err := db.Close(); err != nil {
			log.Error("closing the embedded store", "err", err)
		}
	}
	app, err := wire.BuildWith(cfg, wire.Ports{
		Store:   db.Store(),
		Hints:   db.HintQueue(localHintVisibility, localHintMaxReceives),
		Members: db.Membership(),
	}, log)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	fmt.Fprintf(out, "embedded durable store (bbolt, fsync before every acknowledgement) in %s\n", dir)
	return app, closeDB, nil
}
