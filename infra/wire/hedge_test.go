package wire

import (
	"strings"
	"testing"
	"time"
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

// CARTWHEEL_HEDGE_DELAY hedges after a fixed delay instead; setting it with
// a quantile too is refused by Validate, naming both.
func TestHedgeDelayFromEnv(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	c, err := FromEnv(env(map[string]string{"CARTWHEEL_HEDGE_DELAY": "40ms"}))
	if err != nil || c.Coordinator.HedgeDelay != 40*time.Millisecond {
		t.Fatalf("40ms: %v %v", c.Coordinator.HedgeDelay, err)
	}
	if _, err := FromEnv(env(map[string]string{"CARTWHEEL_HEDGE_DELAY": "soon"})); err == nil || !strings.Contains(err.Error(), "CARTWHEEL_HEDGE_DELAY") {
		t.Errorf("soon: %v", err)
	}
	c, err = FromEnv(env(map[string]string{"CARTWHEEL_HEDGE_DELAY": "40ms", "CARTWHEEL_HEDGE_QUANTILE": "0.9"}))
	if err == nil {
		err = c.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), "HedgeDelay") || !strings.Contains(err.Error(), "HedgeQuantile") {
		t.Errorf("both set: %v", err)
	}
}
