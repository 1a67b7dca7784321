package jobs

import (
	"context"
	"errors"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// Settled returns h that, before it returns, waits for the coordinator's
// background work (coordinator.Quiesce within the invocation's context): on
// Lambda the process is frozen once the handler returns, so a job must not
// leave work running. The jobs' own steps are synchronous; this covers
// anything the coordinator they drive leaves behind. Work still running when
// ctx ends is handed to hinted handoff and the invocation fails with that
// error (joined with h's), so the event is retried.
func Settled[E, R any](coord *coordinator.Coordinator, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		res, err := h(ctx, ev)
		if qerr := coord.Quiesce(ctx); qerr != nil {
			err = errors.Join(err, qerr)
		}
		return res, err
	}
}
