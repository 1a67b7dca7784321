package wire

import (
	"strings"
	"testing"
)

// CARTWHEEL_HEDGE_QUANTILE turns hedged reads on with that quantile of the
// observed read latency as the delay; unset or 0 leaves them off; anything
// outside [0, 1) is refused, naming the variable.
func TestHedgeQuantileFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "CARTWHEEL_HEDGE_QUANTILE" {
				return v
			}
			return ""
		}
	}
	for v, want := range map[string]float64{"": 0, "0": 0, "0.95": 0.95} {
		c, err := FromEnv(env(v))
		if err != nil || c.Coordinator.HedgeQuantile != want {
			t.Fatalf("%q: %v %v", v, c.Coordinator.HedgeQuantile, err)
		}
	}
	for _, v := range []string{"1", "-0.1", "p95", "NaN"} {
		if _, err := FromEnv(env(v)); err == nil || !strings.Contains(err.Error(), "CARTWHEEL_HEDGE_QUANTILE") {
			t.Errorf("%q: %v", v, err)
		}
	}
}
