// Command health is the scheduled Lambda function that probes every storage
// node and records its state in membership.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cartwheel/cartwheel/functions/jobs"
)

func main() {
	app, _ := jobs.Boot()
	lambda.Start(jobs.Settled(app.Coord, func(ctx context.Context, ev events.EventBridgeEvent) (jobs.HealthResult, error) {
		return jobs.HealthOf(ctx, app)
	}))
}
