package wire_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// TestHintQueueSettingsAgree: the queue Provision creates (for `cartwheel
// serve --endpoint` and localstack/setup alike) has Config.HintQueue's
// visibility timeout and redrive limit, and the embedded store's queue
// (BuildLocal) dead-letters a hint after the same number of receives.
func TestHintQueueSettingsAgree(t *testing.T) {
	want := wire.DefaultConfig().HintQueue
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		cfg := wire.DefaultConfig()
		cfg.AWS = b.Config()
		cfg.Bucket, cfg.Table = b.NewBucket(t), b.NewTable(t)
		cfg.QueueName, cfg.DLQName = awstest.UniqueName(t), awstest.UniqueName(t)
		cfg, err := wire.Provision(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		out, err := b.SQS(t).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &cfg.QueueURL,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameRedrivePolicy}})
		if err != nil {
			t.Fatal(err)
		}
		var policy struct {
			MaxReceiveCount json.Number `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &policy); err != nil {
			t.Fatalf("redrive policy %q: %v", out.Attributes["RedrivePolicy"], err)
		}
		if out.Attributes["VisibilityTimeout"] != strconv.Itoa(int(want.Visibility/time.Second)) || policy.MaxReceiveCount.String() != strconv.Itoa(want.MaxReceives) {
			t.Fatalf("provisioned queue: visibility %s, max receives %s; want %v, %d", out.Attributes["VisibilityTimeout"], policy.MaxReceiveCount, want.Visibility, want.MaxReceives)
		}
	})

	cfg := wire.DefaultConfig()
	cfg.QueueURL = "unused"
	cfg.HintQueue.Visibility = 10 * time.Millisecond // the same limit, received faster
	app, closeDB, err := wire.BuildLocal(cfg, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	ctx := context.Background()
	if err := app.Hints.Enqueue(ctx, kv.Hint{Key: "k", Intended: "n1", Fallback: "n2"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= want.MaxReceives; i++ {
		got, err := app.Hints.Receive(ctx, 1, 2*time.Second)
		if err != nil || len(got) != 1 || got[0].Receives != i {
			t.Fatalf("receive %d: %+v %v", i, got, err)
		}
	}
	if got, err := app.Hints.Receive(ctx, 1, 2*time.Second); err != nil || len(got) != 0 {
		t.Fatalf("receive %d: %+v %v (want none: dead-lettered)", want.MaxReceives+1, got, err)
	}
	if s, err := app.Hints.Stats(ctx); err != nil || s.Dead != 1 {
		t.Fatalf("stats %+v %v", s, err)
	}
}
