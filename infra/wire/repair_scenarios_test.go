package wire_test

import (
	"os"
	"testing"

	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/internal/coordtest"
	"github.com/cartwheel/cartwheel/internal/repairtest"
)

// TestRepairScenarios runs the repair job's scenario suite (anti-entropy,
// ring changes with transfers, tombstone reaping) over the real AWS adapters
// on every backend: kumo in-process, and moto when CARTWHEEL_TEST_ENDPOINT is
// set.
func TestRepairScenarios(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		repairtest.Run(t, func(t *testing.T) coordtest.Env { return awsEnv(t, b) })
	})
}

// TestRingChangeScenarios runs the ring-change scenarios (every step in a
// fresh process) over the real AWS adapters on kumo (5 s), and on the second
// backend only with CARTWHEEL_RING_SCENARIOS_ALL=1: on moto they take about
// a minute, and core/repair runs them on the in-memory ports anyway.
func TestRingChangeScenarios(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		if b.Name != awstest.Backends(t)[0].Name && os.Getenv("CARTWHEEL_RING_SCENARIOS_ALL") != "1" {
			t.Skip("set CARTWHEEL_RING_SCENARIOS_ALL=1 to run the ring-change scenarios on this backend too (about a minute on moto)")
		}
		repairtest.RunRingChanges(t, func(t *testing.T) coordtest.Env { return awsEnv(t, b) })
	})
}
