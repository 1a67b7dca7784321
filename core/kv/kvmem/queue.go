package kvmem

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Receive limits, as on SQS.
const (
	// MaxBatch is the most hints one Receive returns.
	MaxBatch = 10
	// MaxWait is the longest one Receive waits.
	MaxWait = 20 * time.Second
)

const receiptPrefix = "kvmem-"

type message struct {
	body     []byte
	receives int
	hidden   time.Time // invisible until then
	receipt  string    // latest receipt
}

// HintQueue is an in-memory kv.HintQueue with SQS standard-queue semantics in
// real time: a received message is hidden for the visibility timeout and comes
// back (with Receives one higher) unless acknowledged; a message that would be
// received more than maxReceives times moves to the dead-letter list instead.
// Bodies are stored as JSON, so undecodable messages (EnqueueRaw) behave as on
// SQS. Messages are delivered oldest first, which SQS does not promise.
type HintQueue struct {
	mu          sync.Mutex
	visibility  time.Duration
	maxReceives int
	live        []*message
	dead        [][]byte
	byReceipt   map[string]*message
	seq         uint64
	changed     chan struct{} // closed and replaced on every enqueue
	down        bool
}

var _ kv.HintQueue = (*HintQueue)(nil)

// NewHintQueue returns an empty queue whose received messages stay hidden for
// visibility (at least 1 ms) and that dead-letters a message after maxReceives
// receives (0: never).
func NewHintQueue(visibility time.Duration, maxReceives int) *HintQueue {
	if visibility < time.Millisecond {
		visibility = time.Millisecond
	}
	if maxReceives < 0 {
		maxReceives = 0
	}
	return &HintQueue{
		visibility:  visibility,
		maxReceives: maxReceives,
		byReceipt:   make(map[string]*message),
		changed:     make(chan struct{}),
	}
}

// SetDown makes every call fail with an error wrapping ErrDown (down == true),
// or lifts that.
func (q *HintQueue) SetDown(down bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.down = down
}

func (q *HintQueue) check(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kvmem queue %s: %w", op, err)
	}
	if q.down {
		return fmt.Errorf("kvmem queue %s: %w", op, ErrDown)
	}
	return nil
}

// Enqueue implements kv.HintQueue. A hint without Key, Intended or Fallback
// is rejected, as by the SQS adapter.
func (q *HintQueue) Enqueue(ctx context.Context, h kv.Hint) error {
	body, err := kv.EncodeHint(h)
	if err != nil {
		return fmt.Errorf("kvmem enqueue: %w", err)
	}
	return q.EnqueueRaw(ctx, body)
}

// EnqueueRaw adds a message with an arbitrary body, e.g. a poison message that
// does not decode as a kv.Hint.
func (q *HintQueue) EnqueueRaw(ctx context.Context, body []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.check(ctx, "enqueue"); err != nil {
		return err
	}
	q.live = append(q.live, &message{body: clone(body)})
	q.notify()
	return nil
}

// notify wakes waiting receivers; q.mu must be held.
func (q *HintQueue) notify() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Receive implements kv.HintQueue. limit is clamped to [1, MaxBatch] and wait to
// [0, MaxWait]. It returns as soon as at least one message is available, or
// with none when wait has passed; a done ctx ends the wait with its error.
func (q *HintQueue) Receive(ctx context.Context, limit int, wait time.Duration) ([]kv.ReceivedHint, error) {
	limit = min(max(limit, 1), MaxBatch)
	wait = min(max(wait, 0), MaxWait)
	deadline := time.Now().Add(wait)
	for {
		q.mu.Lock()
		if err := q.check(ctx, "receive"); err != nil {
			q.mu.Unlock()
			return nil, err
		}
		now := time.Now()
		out := q.take(now, limit)
		if len(out) > 0 || !now.Before(deadline) {
			q.mu.Unlock()
			return out, nil
		}
		next := deadline
		for _, m := range q.live {
			if m.hidden.After(now) && m.hidden.Before(next) {
				next = m.hidden
			}
		}
		changed := q.changed
		q.mu.Unlock()

		t := time.NewTimer(next.Sub(now))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// take delivers up to n visible messages; q.mu must be held.
func (q *HintQueue) take(now time.Time, n int) []kv.ReceivedHint {
	var out []kv.ReceivedHint
	keep := q.live[:0]
	for _, m := range q.live {
		switch {
		case len(out) == n || m.hidden.After(now):
			keep = append(keep, m)
			continue
		case q.maxReceives > 0 && m.receives >= q.maxReceives:
			delete(q.byReceipt, m.receipt)
			q.dead = append(q.dead, m.body)
			continue
		}
		delete(q.byReceipt, m.receipt)
		q.seq++
		m.receipt = receiptPrefix + strconv.FormatUint(q.seq, 10)
		m.receives++
		m.hidden = now.Add(q.visibility)
		q.byReceipt[m.receipt] = m
		keep = append(keep, m)
		r := kv.ReceivedHint{Receipt: m.receipt, Receives: m.receives}
		r.Hint, r.Err = kv.DecodeHint(m.body)
		out = append(out, r)
	}
	clear(q.live[len(keep):])
	q.live = keep
	return out
}

// Ack implements kv.HintQueue. Acknowledging a receipt whose message is
// already gone is not an error; a receipt this queue never issued is.
func (q *HintQueue) Ack(ctx context.Context, receipts ...string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.check(ctx, "ack"); err != nil {
		return err
	}
	var bad []string
	for _, r := range receipts {
		m, ok := q.byReceipt[r]
		if !ok {
			n, err := strconv.ParseUint(strings.TrimPrefix(r, receiptPrefix), 10, 64)
			if !strings.HasPrefix(r, receiptPrefix) || err != nil || n == 0 || n > q.seq {
				bad = append(bad, r)
			}
			continue
		}
		delete(q.byReceipt, r)
		for i, l := range q.live {
			if l == m {
				q.live = append(q.live[:i], q.live[i+1:]...)
				break
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("kvmem ack: %d invalid receipts (first %q)", len(bad), bad[0])
	}
	return nil
}

// Stats implements kv.HintQueue; the counts are exact.
func (q *HintQueue) Stats(ctx context.Context) (kv.QueueStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.check(ctx, "stats"); err != nil {
		return kv.QueueStats{}, err
	}
	now := time.Now()
	s := kv.QueueStats{Dead: len(q.dead)}
	for _, m := range q.live {
		if m.hidden.After(now) {
			s.InFlight++
		} else {
			s.Visible++
		}
	}
	return s, nil
}

// Redrive moves every dead-lettered message back to the queue as a new message
// (Receives starts again at 1) and returns how many it moved.
func (q *HintQueue) Redrive(ctx context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.check(ctx, "redrive"); err != nil {
		return 0, err
	}
	n := len(q.dead)
	for _, b := range q.dead {
		q.live = append(q.live, &message{body: b})
	}
	q.dead = nil
	if n > 0 {
		q.notify()
	}
	return n, nil
}
