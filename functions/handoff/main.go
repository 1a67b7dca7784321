// Command handoff is the Lambda function fed by the hint queue: it delivers
// hinted replicas to their intended nodes and reports per-message failures.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cartwheel/cartwheel/functions/jobs"
)

func main() {
	app, _ := jobs.Boot()
	lambda.Start(jobs.Settled(app.Coord, func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return jobs.Handoff(ctx, app.Coord, app.Log, ev)
	}))
}
