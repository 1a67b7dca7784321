package wire_test

import (
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/sqshints"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// TestCoordinatorScenarios runs the coordinator's whole scenario suite over the
// real AWS adapters on every backend (kumo in-process, and moto when
// CARTWHEEL_TEST_ENDPOINT is set): the same guarantees, checked against two
// independent implementations of the S3, SQS and DynamoDB APIs.
func TestCoordinatorScenarios(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		coordtest.Run(t, func(t *testing.T) coordtest.Env { return awsEnv(t, b) })
	})
}

// awsEnv is a fresh scenario environment over the real adapters on backend b:
// its own bucket, hint queue (1 s visibility) and membership table.
// Conditional deletes are verified (VerifyDelete), as in production wiring,
// since kumo ignores If-Match on DeleteObject.
func awsEnv(t *testing.T, b awstest.Backend) coordtest.Env {
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
}
