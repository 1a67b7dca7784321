package wire_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/sqshints"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// TestPoisonHintDeadLettered: a hint message that does not decode is reported
// as poison on every receive, never acknowledged, and after the queue's
// redrive limit SQS moves it to the dead-letter queue, where /admin/stats
// reports it and operators find its body unchanged. A good hint queued next to
// it is delivered as usual. Runs over the real adapters on kumo and on moto.
func TestPoisonHintDeadLettered(t *testing.T) {
	const maxReceives = 2
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		cfg := b.AWS(t)
		store, err := s3store.New(cfg, s3store.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		queueURL, dlqURL := b.NewQueueWith(t, maxReceives, time.Second)
		sqsc := awsconf.SQS(cfg, b.Endpoint)
		hints, err := sqshints.New(sqsc, queueURL, dlqURL)
		if err != nil {
			t.Fatal(err)
		}
		members, err := ddbmembership.New(awsconf.DynamoDB(cfg, b.Endpoint), b.NewTable(t))
		if err != nil {
			t.Fatal(err)
		}
		env := coordtest.Env{Store: store, Hints: hints, Members: members, Bucket: b.NewBucket(t), HintWait: time.Second}
		c := coordtest.NewCluster(t, env, coordtest.Options{})
		co := c.Coordinator()

		// A good hint: a put while one primary is down.
		key := "poison-neighbour"
		prim := c.Primaries(key)
		c.Down(prim[2], true)
		if _, err := co.Put(ctx, key, "", coordinator.Value{Data: []byte("fine")}, coordinator.Options{W: 2}); err != nil {
			t.Fatal(err)
		}
		co.Wait()
		c.Down(prim[2], false)
		// The poison: valid JSON, but not a hint.
		const poison = `{"key": 42, "note": "not a hint"}`
		if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(poison)}); err != nil {
			t.Fatal(err)
		}

		// Drain repeatedly (bounded): the poison comes back after each 1 s
		// visibility timeout until SQS dead-letters it.
		var total coordinator.DrainResult
		var st kv.QueueStats
		deadline := time.Now().Add(60 * time.Second)
		for {
			res, err := co.DrainHints(ctx, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			total.Delivered += res.Delivered
			total.Failed += res.Failed
			total.Poison += res.Poison
			if st, err = hints.Stats(ctx); err != nil {
				t.Fatal(err)
			}
			if st == (kv.QueueStats{Dead: 1}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("poison not dead-lettered within 60 s: stats %+v, drained %+v", st, total)
			}
		}
		// The poison is received exactly maxReceives times before SQS moves it.
		// The good hint is delivered at least once: under load its 1 s
		// visibility can lapse before its delete, and the second delivery is
		// then a no-op (hints are at-least-once and idempotent).
		if total.Poison != maxReceives || total.Delivered < 1 || total.Failed != 0 {
			t.Fatalf("drained %+v: want the poison reported on each of its %d receives and the good hint delivered", total, maxReceives)
		}
		co.Wait()
		coordtest.AssertConverged(t, c, key, prim, []string{"fine"})

		// Reported by the admin API: the stats handler includes the queue's stats.
		h := httpapi.New(httpapi.Deps{Coord: co, Members: members, Hints: hints, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		rec := httptest.NewRecorder()
		(&httpapi.Local{H: h}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/stats", nil))
		var stats struct {
			Hints *kv.QueueStats `json:"hints"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &stats) != nil || stats.Hints == nil {
			t.Fatalf("/admin/stats: %d %s", rec.Code, rec.Body.Bytes())
		}
		if *stats.Hints != (kv.QueueStats{Dead: 1}) {
			t.Fatalf("/admin/stats reports hints %+v, want one dead", *stats.Hints)
		}

		// The dead-letter queue holds the message unchanged, for inspection and replay.
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != poison {
			t.Fatalf("dead-letter queue holds %d messages, want the poison body", len(out.Messages))
		}
	})
}
