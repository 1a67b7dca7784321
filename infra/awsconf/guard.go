package awsconf

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cartwheel/cartwheel/core/kv"
)

// writeGuardID names the step in a client's middleware stack.
const writeGuardID = "CartwheelWriteGuard"

// addWriteGuard runs the context's write guard (kv.CheckWrite) right before
// every attempt of a mutating request (any method but GET and HEAD) is signed
// and sent. It sits after the retryer in the finalize step, so it runs again
// after each backoff: a write whose operation was suspended (a Lambda freeze,
// an ended post-response budget) during an earlier attempt or the backoff
// never leaves the process, and neither does the DELETE that follows a
// conditional delete's HEAD.
func addWriteGuard(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc(writeGuardID, guardAttempt), "Retry", middleware.After)
}

func guardAttempt(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if req, ok := in.Request.(*smithyhttp.Request); ok && req.Method != http.MethodGet && req.Method != http.MethodHead {
		if err := kv.CheckWrite(ctx); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, refusedWrite{fmt.Errorf("%s %s refused before it was sent: %w", req.Method, req.URL.Path, err)}
		}
	}
	return next.HandleFinalize(ctx, in)
}

// refusedWrite is a write the guard refused; the retryer must not retry it.
type refusedWrite struct{ err error }

func (e refusedWrite) Error() string { return e.err.Error() }
func (e refusedWrite) Unwrap() error { return e.err }

// RetryableError tells the SDK's retryer not to try again.
func (refusedWrite) RetryableError() bool { return false }
