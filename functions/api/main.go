// Command api is the Lambda function behind the HTTP API: it wires the
// coordinator from the environment (see infra/wire.FromEnv) and serves
// API Gateway v2 events with functions/httpapi. Logs are JSON lines carrying
// the request id; each request also writes one CloudWatch Embedded Metric
// Format record (functions/metrics), all on stdout. An internal extension
// (functions/lambdaext) keeps the environment from being frozen until each
// request's background work is done or handed to hinted handoff.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/functions/jobs"
	"github.com/cartwheel/cartwheel/functions/lambdaext"
	"github.com/cartwheel/cartwheel/functions/metrics"
)

func main() {
	app, repairer := jobs.Boot()
	ext := lambdaext.Start(app, os.Getenv) // before lambda.Start: registration ends with Init
	deps := jobs.HTTPDeps(app, repairer)
	deps.RequireIAMForAdmin = true // admin and dashboard: only through their IAM routes
	h := httpapi.New(deps)
	lambda.Start(lambdaext.Wrap(ext, metrics.New(os.Stdout, app.Coord.Stats().Snapshot).Wrap(h.Serve)))
}
