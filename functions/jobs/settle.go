package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// deadlineMargin is kept free before the invocation's deadline: the job's
// answer still has to reach Lambda.
const deadlineMargin = 200 * time.Millisecond

// Settled returns h that, before it returns, waits for the coordinator's
// background work (coordinator.Quiesce within the invocation's context): on
// Lambda the process is frozen once the handler returns, so a job must not
// leave work running. The jobs' own steps are synchronous; this covers
// anything the coordinator they drive leaves behind. Work still running when
// ctx ends (early enough for the hand-off to be done before the invocation's
// deadline too, coordinator.FitHandOff) is handed to hinted handoff and the
// invocation fails with that error (joined with h's), so the event is
// retried.
func Settled[E, R any](coord *coordinator.Coordinator, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		res, err := h(ctx, ev)
		qctx := ctx
		if dl, ok := ctx.Deadline(); ok {
			// The hand-off of what is left must be done before the
			// invocation's deadline too, not a ReplicaTimeout after it.
			var cancel context.CancelFunc
			qctx, cancel = coordinator.FitHandOff(ctx, dl.Add(-deadlineMargin))
			defer cancel()
		}
		if qerr := coord.Quiesce(qctx); qerr != nil {
			err = errors.Join(err, qerr)
		}
		return res, err
	}
}
