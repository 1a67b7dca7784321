package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/cartwheel/cartwheel/infra/wire"
)

// buildApp wires the application (infra/wire): on the durable embedded
// store under o.dataDir when o.endpoint is empty, else on the AWS endpoint
// (creating the bucket, table and queues there). The returned func closes
// the store; call it after the coordinator's background work is done.
func buildApp(ctx context.Context, o serveOptions, cfg wire.Config, log *slog.Logger, out io.Writer) (*wire.App, func(), error) {
	if o.endpoint != "" {
		cfg.AWS.Endpoint = o.endpoint
		app, err := wire.Endpoint(ctx, cfg, log)
		return app, func() {}, err
	}
	dir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("data dir: %w", err)
	}
	app, closeDB, err := wire.BuildLocal(cfg, dir, log)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "embedded durable store (bbolt, fsync before every acknowledgement) in %s\n", dir)
	return app, closeDB, nil
}
