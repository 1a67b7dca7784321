package wire_test

import (
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator/coordtest"
	"github.com/cartwheel/cartwheel/core/repair/repairtest"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/sqshints"
)

// TestRepairScenarios runs the repair job's scenario suite (anti-entropy,
// ring changes with transfers, tombstone reaping) over the real AWS adapters
// on every backend: kumo in-process, and moto when CARTWHEEL_TEST_ENDPOINT is
// set. Conditional deletes are verified (VerifyDelete), as in production
// wiring, since kumo ignores If-Match on DeleteObject.
func TestRepairScenarios(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		repairtest.Run(t, func(t *testing.T) coordtest.Env {
			cfg := b.AWS(t)
			scfg := s3store.DefaultConfig()
			scfg.VerifyDelete = true
			store, err := s3store.New(cfg, scfg)
			if err != nil {
				t.Fatal(err)
			}
			q, dlq := b.NewQueueWith(t, 50, time.Second)
			hints, err := sqshints.New(awsconf.SQS(cfg, b.Endpoint), q, dlq)
			if err != nil {
				t.Fatal(err)
			}
			members, err := ddbmembership.New(awsconf.DynamoDB(cfg, b.Endpoint), b.NewTable(t))
			if err != nil {
				t.Fatal(err)
			}
			return coordtest.Env{Store: store, Hints: hints, Members: members, Bucket: b.NewBucket(t)}
		})
	})
}
