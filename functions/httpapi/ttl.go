package httpapi

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// ExpiresHeader is the expiry (Unix ms) of the version a single-value get,
// HEAD or ?sibling=<id> answers.
const ExpiresHeader = client.ExpiresHeader

// ttlValue parses a put's ttl parameter: whole seconds, 1..client.MaxTTLSeconds.
func ttlValue(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > client.MaxTTLSeconds || v != strconv.FormatInt(n, 10) {
		return 0, fmt.Errorf("ttl=%q must be a whole number of seconds from 1 to %d", v, client.MaxTTLSeconds)
	}
	return time.Duration(n) * time.Second, nil
}

// expiresHeader adds s's expiry to h, if it has one, and returns h.
func expiresHeader(h map[string]string, s vclock.Sibling) map[string]string {
	if s.Expires != 0 {
		h[ExpiresHeader] = strconv.FormatInt(s.Expires, 10)
	}
	return h
}
