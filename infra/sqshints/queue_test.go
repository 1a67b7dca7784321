package sqshints_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/sqshints"
	"github.com/cartwheel/cartwheel/infra/storetest"
)

func TestConformance(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		storetest.HintQueue(t, func(t *testing.T, opts storetest.QueueOptions) storetest.HintFixture {
			url, dlq := b.NewQueueWith(t, opts.MaxReceives, opts.Visibility)
			c := b.SQS(t)
			q, err := sqshints.New(c, url, dlq)
			if err != nil {
				t.Fatal(err)
			}
			return storetest.HintFixture{
				Queue: q,
				SendRaw: func(ctx context.Context, body string) error {
					_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body})
					return err
				},
				Redrive:                func(ctx context.Context) (int, error) { return q.Redrive(ctx, 0) },
				FailsAckOfDeleted:      b.FailsAckOfDeleted,
				DuplicatesRetriedSends: b.DuplicatesRetriedSends,
			}
		})
	})
}

func attrs(t *testing.T, c *sqs.Client, url string) map[string]string {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes
}

func TestEnsureIdempotentAndUpdates(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		c := b.SQS(t)
		name := awstest.UniqueName(t)
		q1, d1, err := sqshints.Ensure(ctx, c, name, name+"-dlq", 5, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, u := range []string{q1, d1} {
				_, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
			}
		})
		if b.Name == "kumo" && strings.Contains(q1, "localhost:4566") && !strings.Contains(b.Endpoint, ":4566") {
			t.Logf("DEVIATION: kumo's QueueUrl %s names port 4566, not %s; requests still go to the client's endpoint", q1, b.Endpoint)
		}
		q2, d2, err := sqshints.Ensure(ctx, c, name, name+"-dlq", 7, 45*time.Second)
		if err != nil {
			t.Fatalf("second Ensure with new settings: %v", err)
		}
		if q1 != q2 || d1 != d2 {
			t.Fatalf("Ensure returned (%s, %s) then (%s, %s)", q1, d1, q2, d2)
		}
		a := attrs(t, c, q2)
		if a["VisibilityTimeout"] != "45" || !strings.Contains(a["RedrivePolicy"], "7") || !strings.Contains(a["RedrivePolicy"], name+"-dlq") {
			t.Fatalf("attributes not updated: VisibilityTimeout=%s RedrivePolicy=%s", a["VisibilityTimeout"], a["RedrivePolicy"])
		}
		if got, err := sqshints.QueueURL(ctx, c, name); err != nil || got != q1 {
			t.Fatalf("QueueURL = %s, %v; want %s", got, err, q1)
		}
	})
}

func TestEnsureRejectsBadArguments(t *testing.T) {
	b := awstest.Backends(t)[0]
	c := b.SQS(t)
	ctx := context.Background()
	for _, tc := range []struct {
		q, d string
		max  int
		vis  time.Duration
	}{
		{"bad name", "d", 3, time.Second},
		{"q", "", 3, time.Second},
		{"same", "same", 3, time.Second},
		{"q", "d", 0, time.Second},
		{"q", "d", 1001, time.Second},
		{"q", "d", 3, 1500 * time.Millisecond},
		{"q", "d", 3, 13 * time.Hour},
	} {
		if _, _, err := sqshints.Ensure(ctx, c, tc.q, tc.d, tc.max, tc.vis); err == nil {
			t.Errorf("Ensure(%q, %q, %d, %v) succeeded", tc.q, tc.d, tc.max, tc.vis)
		}
	}
}

func TestMissingQueueIsNotFound(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		c := b.SQS(t)
		name := awstest.UniqueName(t)
		if _, err := sqshints.QueueURL(ctx, c, name); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("QueueURL of a missing queue: %v, want ErrNotFound", err)
		}
		url, _ := b.NewQueue(t)
		missing := strings.TrimSuffix(url, "/") + "-gone"
		q, err := sqshints.New(c, missing, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Stats(ctx); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Stats of a missing queue: %v, want ErrNotFound", err)
		}
		if err := q.Enqueue(ctx, kv.Hint{Key: "k", Intended: "a", Fallback: "b"}); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Enqueue to a missing queue: %v, want ErrNotFound", err)
		}
	})
}

func TestRedriveLimitAndNoDLQ(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		c := b.SQS(t)
		url, dlq := b.NewQueue(t)
		for _, body := range []string{"a", "b", "c"} { // put three straight into the DLQ
			if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &dlq, MessageBody: aws.String(body)}); err != nil {
				t.Fatal(err)
			}
		}
		q, err := sqshints.New(c, url, dlq)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := q.Redrive(ctx, 2); err != nil || n != 2 {
			t.Fatalf("Redrive(2) = %d, %v; want 2", n, err)
		}
		if n, err := q.Redrive(ctx, 0); err != nil || n != 1 {
			t.Fatalf("Redrive(0) = %d, %v; want the remaining 1", n, err)
		}
		st, err := q.Stats(ctx)
		if err != nil || st != (kv.QueueStats{Visible: 3}) {
			t.Fatalf("Stats = %+v, %v; want 3 visible", st, err)
		}
		noDLQ, err := sqshints.New(c, url, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := noDLQ.Redrive(ctx, 0); err == nil {
			t.Fatal("Redrive without a DLQ succeeded")
		}
		if st, err := noDLQ.Stats(ctx); err != nil || st.Dead != 0 {
			t.Fatalf("Stats without a DLQ = %+v, %v", st, err)
		}
	})
}

func TestReceiveHonoursContextDeadline(t *testing.T) {
	b := awstest.Backends(t)[0]
	url, dlq := b.NewQueue(t)
	q, err := sqshints.New(b.SQS(t), url, dlq)
	if err != nil {
		t.Fatal(err)
	}
	// A 20 s long poll under a 1.5 s deadline is shortened to a short poll, so
	// it returns normally instead of failing with the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	got, err := q.Receive(ctx, 10, 20*time.Second)
	if err != nil || len(got) != 0 {
		t.Fatalf("Receive = %v, %v; want nothing and no error", got, err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := sqshints.New(nil, "u", ""); err == nil {
		t.Error("New accepted a nil client")
	}
	if _, err := sqshints.New(&sqs.Client{}, "", ""); err == nil {
		t.Error("New accepted an empty URL")
	}
	q, err := sqshints.New(&sqs.Client{}, "u", "d")
	if err != nil || q.URL() != "u" || q.DeadLetterURL() != "d" {
		t.Errorf("New = %v, %v", q, err)
	}
}
