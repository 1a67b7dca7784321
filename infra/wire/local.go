package wire

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/cartwheel/cartwheel/infra/localstore"
)

// BuildLocal builds the application on the durable embedded store in dir
// (created if missing), its hint queue set as c.HintQueue says. The returned
// func closes the store; call it after the coordinator's background work is
// done.
func BuildLocal(c Config, dir string, log *slog.Logger) (*App, func(), error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("wire: data dir: %w", err)
	}
	db, err := localstore.Open(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("wire: %w", err)
	}
	closeDB := func() {
		if err := db.Close(); err != nil && log != nil {
			log.Error("closing the embedded store", "err", err)
		}
	}
	app, err := BuildWith(c, Ports{
		Store:   db.Store(),
		Hints:   db.HintQueue(c.HintQueue.Visibility, c.HintQueue.MaxReceives),
		Members: db.Membership(),
	}, log)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	return app, closeDB, nil
}

// Endpoint builds the application on the AWS services at c.AWS.Endpoint
// (a local emulator), creating the bucket, table and queues there first.
func Endpoint(ctx context.Context, c Config, log *slog.Logger) (*App, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c, err := Provision(ctx, c)
	if err != nil {
		return nil, err
	}
	return Build(ctx, c, log)
}
