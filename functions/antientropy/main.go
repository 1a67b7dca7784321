// Command antientropy is the scheduled Lambda function that makes replicas
// converge: ring-change transfers, Merkle anti-entropy and hint delivery
// (functions/jobs.Repairer).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cartwheel/cartwheel/functions/jobs"
)

func main() {
	app, repairer := jobs.Boot()
	lambda.Start(jobs.Settled(app.Coord, func(ctx context.Context, ev events.EventBridgeEvent) (jobs.RepairResult, error) {
		return repairer.Run(ctx)
	}))
}
