package vclock

import (
	"fmt"
	"math"
)

// A version written with a time to live carries its absolute expiry
// (Sibling.Expires, the writing coordinator's Unix ms plus the TTL). Expiry
// changes what a read shows, never what replicas remember: an expired
// version's dot stays in the clock like any other, so a replica that missed
// the expiry cannot bring the version back, a put whose context covers it
// replaces it, and a concurrent version without a TTL is a sibling that
// outlives it. All functions here take the time as an argument.

// Expired reports whether s is expired at now (Unix ms): from the first
// millisecond after Expires.
func (s Sibling) Expired(now int64) bool { return s.Expires != 0 && now > s.Expires }

// Visible returns the siblings a read at now shows: neither tombstones nor
// expired. A key with none is absent.
func (o Object) Visible(now int64) []Sibling {
	var out []Sibling
	for _, s := range o.Siblings {
		if !s.Tombstone && !s.Expired(now) {
			out = append(out, s)
		}
	}
	return out
}

// Gone reports whether o has versions and every one is a tombstone or
// expired at now: the key is deleted or has expired, and once nothing older
// can come back it may be reaped like a deleted key.
func (o Object) Gone(now int64) bool {
	return len(o.Siblings) > 0 && len(o.Visible(now)) == 0
}

// LastEvent is the newest time (Unix ms) any version of o was written or
// expired at: a reaper's grace period counts from it.
func (o Object) LastEvent() int64 {
	var t int64
	for _, s := range o.Siblings {
		t = max(t, s.Time, s.Expires)
	}
	return t
}

// DropExpired removes the siblings that expired before the time before
// (Expires < before), keeping the clock: the dropped versions stay seen, so
// a merge with a replica that still holds them drops them there too, as if
// a write had superseded them. A read at any time from before on shows the
// same versions either way. o is not modified.
func DropExpired(o Object, before int64) Object {
	keep := 0
	for _, s := range o.Siblings {
		if s.Expires == 0 || s.Expires >= before {
			keep++
		}
	}
	if keep == len(o.Siblings) {
		return o
	}
	sibs := make([]Sibling, 0, keep)
	for _, s := range o.Siblings {
		if s.Expires == 0 || s.Expires >= before {
			sibs = append(sibs, s)
		}
	}
	o.Siblings = sibs
	return o
}

func (s Sibling) validExpiry() error {
	switch {
	case s.Expires < 0:
		return fmt.Errorf("vclock: sibling %s expires at negative time %d", s.Dot, s.Expires)
	case s.Tombstone && s.Expires != 0:
		return fmt.Errorf("vclock: tombstone %s carries an expiry", s.Dot)
	}
	return nil
}

// expires reads a sibling's expiry (present only when non-zero).
func (r *reader) expires() int64 {
	v := r.uvarint()
	if r.err == nil && (v == 0 || v > math.MaxInt64) {
		r.fail("expiry out of range")
		return 0
	}
	return int64(v)
}
