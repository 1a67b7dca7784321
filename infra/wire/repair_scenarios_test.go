package wire_test

import (
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
// fresh process) over the real AWS adapters on every backend.
func TestRingChangeScenarios(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		repairtest.RunRingChanges(t, func(t *testing.T) coordtest.Env { return awsEnv(t, b) })
	})
}
