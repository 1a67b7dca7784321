package storetest_test

import (
	"context"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/infra/storetest"
)

// The in-memory implementations must pass the same suites as the AWS adapters.

func TestKVMemReplicaStore(t *testing.T) {
	storetest.ReplicaStore(t, func(t *testing.T) (kv.ReplicaStore, kv.Location) {
		return kvmem.NewStore(), kv.Location{Bucket: "bucket", Prefix: "node-1/"}
	})
}

func TestKVMemHintQueue(t *testing.T) {
	storetest.HintQueue(t, func(t *testing.T, opts storetest.QueueOptions) storetest.HintFixture {
		q := kvmem.NewHintQueue(opts.Visibility, opts.MaxReceives)
		return storetest.HintFixture{
			Queue:   q,
			SendRaw: func(ctx context.Context, body string) error { return q.EnqueueRaw(ctx, []byte(body)) },
			Redrive: q.Redrive,
		}
	})
}

func TestKVMemMembership(t *testing.T) {
	storetest.Membership(t, func(t *testing.T) kv.Membership { return kvmem.NewMembership() })
}
