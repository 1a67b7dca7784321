package kv

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done (then it returns ctx's error). It is
// the default of the Sleep dependencies in core (the repair job's pauses,
// the fault injector's slow mode); tests pass their own to control time.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
