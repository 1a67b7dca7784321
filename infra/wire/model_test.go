package wire_test

import (
	"testing"

	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/internal/coordtest"
	"github.com/cartwheel/cartwheel/internal/modeltest"
)

// TestContractAgainstModel runs a few of the model-based contract histories
// (internal/modeltest) over the real adapters: the thousands run on the
// in-memory ports; these check that S3, SQS and DynamoDB semantics change
// nothing.
func TestContractAgainstModel(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		env := func(t *testing.T) coordtest.Env { return awsEnv(t, b) }
		cfg := modeltest.DefaultConfig()
		cfg.Histories, cfg.Seed = 6, 500
		t.Logf("fault-free: %v", modeltest.Run(t, env, cfg))
		cfg.Faults, cfg.Histories, cfg.Seed, cfg.Ops = true, 3, 600, 40
		t.Logf("with faults: %v", modeltest.Run(t, env, cfg))
	})
}
