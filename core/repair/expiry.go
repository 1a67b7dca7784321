package repair

import (
	"time"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// gone reports whether every version of o is a tombstone or expired at now
// (and there is at least one): a key that expired is reaped by the same
// rules as a deleted one (ReapDecision), its grace counted from its newest
// expiry (vclock.Object.LastEvent).
func gone(o vclock.Object, now time.Time) bool { return o.Gone(now.UnixMilli()) }
