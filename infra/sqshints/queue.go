// Package sqshints implements kv.HintQueue over an Amazon SQS standard queue
// with a dead-letter queue, and the operator helpers around it: Ensure creates
// both queues with a redrive policy, and Queue.Redrive replays dead-lettered
// hints.
//
// Each message body is the JSON encoding of one kv.Hint. SQS delivers at least
// once and in no fixed order; hints are idempotent, so that is enough.
package sqshints

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/cartwheel/cartwheel/core/kv"
)

// SQS limits.
const (
	// MaxBatch is the most messages one Receive (or batch request) handles.
	MaxBatch = 10
	// MaxWait is the longest long-poll SQS allows.
	MaxWait = 20 * time.Second
	// retention is how long both queues keep a message: SQS's maximum, so a
	// stuck hint is visible for two weeks rather than silently dropped after
	// the default four days.
	retention = 14 * 24 * time.Hour
)

// Queue is a kv.HintQueue over an SQS standard queue and, optionally, its
// dead-letter queue. It is safe for concurrent use.
type Queue struct {
	client *sqs.Client
	url    string
	dlq    string
}

var _ kv.HintQueue = (*Queue)(nil)

// New returns a Queue on queueURL. dlqURL is the dead-letter queue, counted by
// Stats and drained by Redrive; empty means none (Stats.Dead is then 0).
// Requests go to the client's endpoint whatever host the URLs name.
func New(client *sqs.Client, queueURL, dlqURL string) (*Queue, error) {
	if client == nil {
		return nil, errors.New("sqshints: nil client")
	}
	if queueURL == "" {
		return nil, errors.New("sqshints: empty queue url")
	}
	return &Queue{client: client, url: queueURL, dlq: dlqURL}, nil
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// DeadLetterURL returns the dead-letter queue's URL ("" if none).
func (q *Queue) DeadLetterURL() string { return q.dlq }

// Enqueue implements kv.HintQueue. A hint without Key, Intended or Fallback is
// rejected before sending.
func (q *Queue) Enqueue(ctx context.Context, h kv.Hint) error {
	body, err := kv.EncodeHint(h)
	if err != nil {
		return fmt.Errorf("sqs enqueue: %w", err)
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("sqs enqueue %q: %w", h.Key, mapError(err))
	}
	return nil
}

// waitSeconds converts wait to SQS's whole seconds (rounded down, within
// [0, 20]), shortened so the long poll ends about a second before ctx's
// deadline.
func waitSeconds(ctx context.Context, wait time.Duration) int32 {
	wait = min(max(wait, 0), MaxWait)
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d)-time.Second)
	}
	return int32(max(wait, 0) / time.Second)
}

// Receive implements kv.HintQueue with one ReceiveMessage request. max is
// clamped to [1, MaxBatch]; wait is rounded down to whole seconds within
// [0, MaxWait] (0 is a short poll, which on SQS may miss messages). Receives
// is SQS's ApproximateReceiveCount (0 if the endpoint omits it). A body that
// does not decode gives a ReceivedHint with Err set and a zero Hint.
func (q *Queue) Receive(ctx context.Context, limit int, wait time.Duration) ([]kv.ReceivedHint, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.url,
		MaxNumberOfMessages:         int32(min(max(limit, 1), MaxBatch)),
		WaitTimeSeconds:             waitSeconds(ctx, wait),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("sqs receive: %w", mapError(err))
	}
	res := make([]kv.ReceivedHint, 0, len(out.Messages))
	for _, m := range out.Messages {
		r := kv.ReceivedHint{Receipt: aws.ToString(m.ReceiptHandle)}
		r.Receives, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		r.Hint, r.Err = kv.DecodeHint([]byte(aws.ToString(m.Body)))
		if r.Err != nil {
			r.Err = fmt.Errorf("sqs message %s: %w", aws.ToString(m.MessageId), r.Err)
		}
		res = append(res, r)
	}
	return res, nil
}

// Ack implements kv.HintQueue with DeleteMessageBatch requests of up to 10
// receipts. It tries every batch and reports how many receipts failed, with
// the first failure's code. Deleting an already deleted message succeeds on
// SQS and moto but fails with ReceiptHandleIsInvalid on kumo.
func (q *Queue) Ack(ctx context.Context, receipts ...string) error {
	return deleteBatch(ctx, q.client, q.url, receipts)
}

func deleteBatch(ctx context.Context, client *sqs.Client, url string, receipts []string) error {
	var firstErr error
	failed := 0
	for start := 0; start < len(receipts); start += MaxBatch {
		batch := receipts[start:min(start+MaxBatch, len(receipts))]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
		for i, r := range batch {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r)}
		}
		out, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: entries})
		if err != nil {
			failed += len(batch)
			if firstErr == nil {
				firstErr = mapError(err)
			}
			continue
		}
		for _, f := range out.Failed {
			failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("sqs ack: %d of %d receipts not deleted: %w", failed, len(receipts), firstErr)
	}
	return nil
}

// Stats implements kv.HintQueue from GetQueueAttributes: Visible and InFlight
// are the queue's ApproximateNumberOfMessages and
// ApproximateNumberOfMessagesNotVisible; Dead is the sum of both on the
// dead-letter queue.
func (q *Queue) Stats(ctx context.Context) (kv.QueueStats, error) {
	vis, inflight, err := depth(ctx, q.client, q.url)
	if err != nil {
		return kv.QueueStats{}, err
	}
	s := kv.QueueStats{Visible: vis, InFlight: inflight}
	if q.dlq != "" {
		dv, dinf, err := depth(ctx, q.client, q.dlq)
		if err != nil {
			return kv.QueueStats{}, err
		}
		s.Dead = dv + dinf
	}
	return s, nil
}

func depth(ctx context.Context, client *sqs.Client, url string) (visible, inFlight int, err error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sqs stats %s: %w", url, mapError(err))
	}
	if visible, err = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]); err != nil {
		return 0, 0, fmt.Errorf("sqs stats %s: ApproximateNumberOfMessages: %w", url, err)
	}
	if inFlight, err = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)]); err != nil {
		return 0, 0, fmt.Errorf("sqs stats %s: ApproximateNumberOfMessagesNotVisible: %w", url, err)
	}
	return visible, inFlight, nil
}

// Redrive moves up to limit messages from the dead-letter queue back to the
// queue (receive from the DLQ, send to the queue, delete from the DLQ) and
// returns how many it moved. limit <= 0 means the DLQ's depth when Redrive
// starts, so messages that die again meanwhile are not cycled forever. It
// stops early when a one-second long poll of the DLQ finds nothing. Moved
// messages are new messages: their receive count starts again at 1, and their
// bodies are copied unchanged (poison messages included). A message whose send
// fails stays in the DLQ and reappears after its visibility timeout.
func (q *Queue) Redrive(ctx context.Context, limit int) (int, error) {
	if q.dlq == "" {
		return 0, errors.New("sqs redrive: queue has no dead-letter queue")
	}
	if limit <= 0 {
		v, inf, err := depth(ctx, q.client, q.dlq)
		if err != nil {
			return 0, fmt.Errorf("sqs redrive: %w", err)
		}
		limit = v + inf
	}
	moved := 0
	for moved < limit {
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            &q.dlq,
			MaxNumberOfMessages: int32(min(limit-moved, MaxBatch)),
			WaitTimeSeconds:     1,
		})
		if err != nil {
			return moved, fmt.Errorf("sqs redrive: receive from %s: %w", q.dlq, mapError(err))
		}
		if len(out.Messages) == 0 {
			break
		}
		entries := make([]types.SendMessageBatchRequestEntry, len(out.Messages))
		for i, m := range out.Messages {
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body}
		}
		sent, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return moved, fmt.Errorf("sqs redrive: send to %s: %w", q.url, mapError(err))
		}
		var receipts []string
		for _, s := range sent.Successful {
			i, err := strconv.Atoi(aws.ToString(s.Id))
			if err != nil || i < 0 || i >= len(out.Messages) {
				return moved, fmt.Errorf("sqs redrive: unexpected batch entry id %q", aws.ToString(s.Id))
			}
			receipts = append(receipts, aws.ToString(out.Messages[i].ReceiptHandle))
		}
		if err := deleteBatch(ctx, q.client, q.dlq, receipts); err != nil {
			// Sent but not deleted: the hint will be delivered twice, which is harmless.
			return moved + len(receipts), fmt.Errorf("sqs redrive: delete from %s: %w", q.dlq, err)
		}
		moved += len(receipts)
		if len(sent.Failed) > 0 {
			f := sent.Failed[0]
			return moved, fmt.Errorf("sqs redrive: %d messages not sent to %s: %s: %s", len(sent.Failed), q.url, aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return moved, nil
}

var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// Ensure creates the dead-letter queue dlqName and the queue queueName if they
// do not exist, and (re)sets their attributes: the queue's visibility timeout,
// its redrive policy to the DLQ after maxReceives receives, and a 14-day
// retention on both. It is idempotent and returns both URLs.
func Ensure(ctx context.Context, client *sqs.Client, queueName, dlqName string, maxReceives int, visibility time.Duration) (queueURL, dlqURL string, err error) {
	switch {
	case !validQueueName(queueName):
		return "", "", fmt.Errorf("sqs ensure: invalid queue name %q (1-80 of [A-Za-z0-9_-])", queueName)
	case !validQueueName(dlqName):
		return "", "", fmt.Errorf("sqs ensure: invalid dead-letter queue name %q (1-80 of [A-Za-z0-9_-])", dlqName)
	case queueName == dlqName:
		return "", "", fmt.Errorf("sqs ensure: queue and dead-letter queue are both %q", queueName)
	case maxReceives < 1 || maxReceives > 1000:
		return "", "", fmt.Errorf("sqs ensure: max receives %d must be in [1, 1000]", maxReceives)
	case visibility < 0 || visibility > 12*time.Hour || visibility%time.Second != 0:
		return "", "", fmt.Errorf("sqs ensure: visibility %v must be whole seconds in [0, 12h]", visibility)
	}
	keep := strconv.Itoa(int(retention / time.Second))
	dlqURL, err = ensureQueue(ctx, client, dlqName, map[string]string{"MessageRetentionPeriod": keep})
	if err != nil {
		return "", "", err
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &dlqURL,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("sqs ensure %s: arn: %w", dlqName, mapError(err))
	}
	arn := attrs.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", "", fmt.Errorf("sqs ensure %s: no QueueArn attribute", dlqName)
	}
	policy, err := json.Marshal(map[string]string{"deadLetterTargetArn": arn, "maxReceiveCount": strconv.Itoa(maxReceives)})
	if err != nil {
		return "", "", fmt.Errorf("sqs ensure %s: %w", queueName, err)
	}
	queueURL, err = ensureQueue(ctx, client, queueName, map[string]string{
		"MessageRetentionPeriod": keep,
		"VisibilityTimeout":      strconv.Itoa(int(visibility / time.Second)),
		"RedrivePolicy":          string(policy),
	})
	if err != nil {
		return "", "", err
	}
	return queueURL, dlqURL, nil
}

func validQueueName(s string) bool { return queueName.MatchString(s) }

// ensureQueue returns the URL of queue name, creating it with attrs, or
// setting attrs on it if it exists. (CreateQueue on an existing queue with
// different attributes fails on SQS and moto but not on kumo, so the existing
// case is handled explicitly.)
func ensureQueue(ctx context.Context, client *sqs.Client, name string, attrs map[string]string) (string, error) {
	url, err := queueURLOf(ctx, client, name)
	if errors.Is(err, kv.ErrNotFound) {
		out, cerr := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name, Attributes: attrs})
		if cerr == nil {
			return aws.ToString(out.QueueUrl), nil
		}
		if !isCode(cerr, "QueueAlreadyExists", "QueueNameExists") {
			return "", fmt.Errorf("sqs create queue %s: %w", name, mapError(cerr))
		}
		url, err = queueURLOf(ctx, client, name) // lost a race with another creator
	}
	if err != nil {
		return "", err
	}
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &url, Attributes: attrs}); err != nil {
		return "", fmt.Errorf("sqs set attributes %s: %w", name, mapError(err))
	}
	return url, nil
}

// QueueURL returns the URL of the queue called name, or an error wrapping
// kv.ErrNotFound if there is none.
func QueueURL(ctx context.Context, client *sqs.Client, name string) (string, error) {
	return queueURLOf(ctx, client, name)
}

func queueURLOf(ctx context.Context, client *sqs.Client, name string) (string, error) {
	out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
	if err != nil {
		return "", fmt.Errorf("sqs queue url %s: %w", name, mapError(err))
	}
	return aws.ToString(out.QueueUrl), nil
}

func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// mapError wraps a missing-queue error with kv.ErrNotFound. SQS's JSON
// protocol answers QueueDoesNotExist, the query-compatible code (kumo, moto)
// is AWS.SimpleQueueService.NonExistentQueue; both are matched.
func mapError(err error) error {
	var missing *types.QueueDoesNotExist
	if errors.As(err, &missing) || isCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist") {
		return fmt.Errorf("%w: %w", kv.ErrNotFound, err)
	}
	return err
}
