// Command antientropy is the scheduled Lambda function that makes replicas
// converge: it drains queued hints and runs the anti-entropy exchange.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cartwheel/cartwheel/functions/jobs"
	"github.com/cartwheel/cartwheel/infra/wire"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	app, err := wire.Lambda(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("startup failed", "err", err)
		os.Exit(1)
	}
	repairer, err := jobs.NewRepairerFor(app, 0)
	if err != nil {
		log.Error("startup failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, ev events.EventBridgeEvent) (jobs.RepairResult, error) {
		return repairer.Run(ctx)
	})
}
