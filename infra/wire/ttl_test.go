package wire

import (
	"testing"
	"time"
)

// CARTWHEEL_DEFAULT_TTL (the SAM DefaultTTL parameter) sets the
// coordinator's default time to live; empty means none; a bad or too long
// one is refused.
func TestDefaultTTLFromEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "0": 0, "24h": 24 * time.Hour, "90s": 90 * time.Second} {
		c, err := FromEnv(func(k string) string {
			if k == "CARTWHEEL_DEFAULT_TTL" {
				return v
			}
			return ""
		})
		if err != nil || c.Coordinator.DefaultTTL != want {
			t.Fatalf("%q: %v %v", v, c.Coordinator.DefaultTTL, err)
		}
	}
	for _, v := range []string{"1d", "-1h", "87601h"} {
		if _, err := FromEnv(func(k string) string {
			if k == "CARTWHEEL_DEFAULT_TTL" {
				return v
			}
			return ""
		}); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}
