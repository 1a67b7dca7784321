// Time to live: a put's version may carry an absolute expiry (the
// coordinator's clock when the put arrived plus the TTL). Reads hide expired
// versions (vclock.Object.Visible at the reading coordinator's time); their
// dots stay in every clock, so nothing expired comes back and a put whose
// context covers one replaces it. A commit drops versions expired more than
// ExpirySlack ago from the replica it writes (keeping their dots), so a key
// written blind with a TTL does not pile up expired siblings; the repair
// job's reaper removes keys whose versions are all expired or deleted.

package coordinator

import (
	"fmt"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// MaxTTL is the longest time to live a put may ask for: ten years
// (315,360,000 seconds).
const MaxTTL = 3650 * 24 * time.Hour

// ExpirySlack is how long past its expiry a version is still kept in the
// replica objects a commit writes. It is the clock skew between
// coordinators the design tolerates: a coordinator whose clock is behind by
// less than this still finds every version its clock says is live. (The
// reaper waits longer still: its grace, an hour by default, after the
// newest expiry.)
const ExpirySlack = time.Minute

// checkTTL reports a bad time to live (kv.ErrBadRequest): negative or over
// MaxTTL.
func checkTTL(ttl time.Duration, what string) error {
	if ttl < 0 || ttl > MaxTTL {
		return fmt.Errorf("%w: %s %v must be between 0 (none) and %v", kv.ErrBadRequest, what, ttl, MaxTTL)
	}
	return nil
}

// expires is the absolute expiry (Unix ms, 0 for none) of a version put at
// now: the put's TTL, else the cluster default, else none.
func (c *Coordinator) expires(opt Options, now time.Time) (int64, error) {
	if err := checkTTL(opt.TTL, "ttl"); err != nil {
		return 0, err
	}
	ttl := opt.TTL
	if ttl == 0 {
		ttl = c.cfg.DefaultTTL
	}
	if ttl == 0 {
		return 0, nil
	}
	return now.Add(ttl).UnixMilli(), nil
}
