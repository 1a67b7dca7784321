// Command api is the Lambda function behind the HTTP API: it wires the
// coordinator from the environment (see infra/wire.FromEnv) and serves
// API Gateway v2 events with functions/httpapi.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/infra/wire"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	app, err := wire.Lambda(context.Background(), os.Getenv, log)
	if err != nil {
		log.Error("startup failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(httpapi.New(httpapi.FromApp(app, 0)).Handle)
}
