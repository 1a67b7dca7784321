package perf

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Requests counts backend requests by type. The zero value is ready to use
// and safe for concurrent use.
type requests struct {
	get, put, list, del atomic.Int64 // S3 (DELETE includes the HEAD that verifies it)
	sqs                 atomic.Int64 // SQS requests (one per Enqueue, Receive, Ack, Stats)
	ddb                 atomic.Int64 // DynamoDB requests (membership Load and Save)
	ddbUnits            atomic.Int64 // read request units of the membership loads
}

// RequestCounts is a snapshot of requests.
type RequestCounts struct {
	Get    int64 `json:"get"`
	Put    int64 `json:"put"`
	List   int64 `json:"list"`
	Delete int64 `json:"delete"`
	SQS    int64 `json:"sqs"`
	Dynamo int64 `json:"dynamodb"`
	// DynamoReadUnits are the read request units of the strongly consistent
	// membership loads (one per 4 KB of item).
	DynamoReadUnits int64 `json:"dynamodbReadUnits"`
}

func (r *requests) snapshot() RequestCounts {
	return RequestCounts{
		Get: r.get.Load(), Put: r.put.Load(), List: r.list.Load(), Delete: r.del.Load(),
		SQS: r.sqs.Load(), Dynamo: r.ddb.Load(), DynamoReadUnits: r.ddbUnits.Load(),
	}
}

// ctxKey carries the *requests an operation's backend calls are charged to.
type ctxKey struct{}

// chargeTo returns ctx whose backend requests count in r. The coordinator
// passes its request context (values kept, cancellation detached) to the
// background work it starts, so read repair and the writes that finish after
// the quorum are charged to the operation that caused them.
func chargeTo(ctx context.Context, r *requests) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// counter returns the requests ctx is charged to, or other.
func counter(ctx context.Context, other *requests) *requests {
	if r, ok := ctx.Value(ctxKey{}).(*requests); ok {
		return r
	}
	return other
}

// countStore is a kv.ReplicaStore that counts requests per operation.
type countStore struct {
	inner kv.ReplicaStore
	other *requests // requests of no operation (loading)
}

func (s *countStore) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	counter(ctx, s.other).get.Add(1)
	return s.inner.Get(ctx, loc, name)
}

func (s *countStore) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	counter(ctx, s.other).put.Add(1)
	return s.inner.Put(ctx, loc, name, data, actor, ifMatch)
}

func (s *countStore) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	counter(ctx, s.other).del.Add(1)
	return s.inner.Delete(ctx, loc, name, ifMatch)
}

func (s *countStore) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	counter(ctx, s.other).list.Add(1)
	return s.inner.List(ctx, loc, prefix, startAfter, limit)
}

// countHints is a kv.HintQueue that counts SQS requests per operation.
type countHints struct {
	inner kv.HintQueue
	other *requests
}

func (q *countHints) Enqueue(ctx context.Context, h kv.Hint) error {
	counter(ctx, q.other).sqs.Add(1)
	return q.inner.Enqueue(ctx, h)
}

func (q *countHints) Receive(ctx context.Context, max int, wait time.Duration) ([]kv.ReceivedHint, error) {
	counter(ctx, q.other).sqs.Add(1)
	return q.inner.Receive(ctx, max, wait)
}

func (q *countHints) Ack(ctx context.Context, receipts ...string) error {
	counter(ctx, q.other).sqs.Add(int64((len(receipts) + 9) / 10)) // batches of 10
	return q.inner.Ack(ctx, receipts...)
}

func (q *countHints) Stats(ctx context.Context) (kv.QueueStats, error) {
	counter(ctx, q.other).sqs.Add(2) // the queue and its dead-letter queue
	return q.inner.Stats(ctx)
}

// countMembers is a kv.Membership that counts DynamoDB requests per operation.
type countMembers struct {
	inner kv.Membership
	other *requests
	// units is the read request units of one load (the item's size in 4 KB
	// units, strongly consistent), set once the cluster is saved.
	units int64
}

func (m *countMembers) Load(ctx context.Context) (kv.Cluster, error) {
	r := counter(ctx, m.other)
	r.ddb.Add(1)
	r.ddbUnits.Add(m.units)
	return m.inner.Load(ctx)
}

func (m *countMembers) Save(ctx context.Context, c kv.Cluster, prev uint64) error {
	counter(ctx, m.other).ddb.Add(1)
	return m.inner.Save(ctx, c, prev)
}
