package modeltest_test

import (
	"testing"

	"github.com/cartwheel/cartwheel/internal/coordtest"
	"github.com/cartwheel/cartwheel/internal/modeltest"
)

// TestContractAgainstModelTTL: TTLs under a manual clock, with reaping and
// hint delivery at random points, fault-free and with faults (nodes down,
// hints). Reads never return an expired version nor miss a live one, and
// nothing reaped comes back. CARTWHEEL_MODEL_SCALE scales the histories.
func TestContractAgainstModelTTL(t *testing.T) {
	for _, faults := range []bool{false, true} {
		cfg := modeltest.DefaultConfig()
		cfg.TTL, cfg.Faults = true, faults
		cfg.Seed, cfg.Histories = 3_000_000, modeltest.Scale(t, 150)
		if faults {
			cfg.Ops, cfg.Histories = 60, modeltest.Scale(t, 50)
		}
		tot := modeltest.Run(t, coordtest.MemEnv, cfg)
		if tot.Expiring == 0 || tot.Reaped == 0 {
			t.Fatalf("no TTL or no reaping exercised: %v", tot)
		}
		t.Logf("TTL, faults %v: %v", faults, tot)
	}
}
