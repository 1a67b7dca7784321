// Command sizer is a Lambda function for the contract test's payload-limit
// check: it answers {"bytes": n} with a JSON string of exactly n bytes, so the
// test can find the largest response the emulator accepts.
package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Bytes int `json:"bytes"`
}

func main() {
	lambda.Start(func(_ context.Context, r request) (json.RawMessage, error) {
		return json.RawMessage(`"` + strings.Repeat("a", max(r.Bytes-2, 0)) + `"`), nil
	})
}
