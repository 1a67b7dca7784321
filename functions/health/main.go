// Command health is the scheduled Lambda function that probes every storage
// node and records its state in membership.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

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
	lambda.Start(func(ctx context.Context, ev events.EventBridgeEvent) (jobs.HealthResult, error) {
		return jobs.Health(ctx, app.Members, app.Store, 3*time.Second, time.Second)
	})
}
