package localstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Receive limits, as on SQS.
const (
	// MaxBatch is the most hints one Receive returns.
	MaxBatch = 10
	// MaxWait is the longest one Receive waits.
	MaxWait = 20 * time.Second
)

const receiptPrefix = "lh-"

// message is one queued hint as kept in bbolt (JSON).
type message struct {
	Body     []byte `json:"b"`
	Receives int    `json:"n,omitempty"`
	Hidden   int64  `json:"h,omitempty"` // invisible until then (Unix ns)
}

// HintQueue is the kv.HintQueue of a DB, with SQS standard-queue semantics: a
// received message is hidden for the visibility timeout and comes back (with
// Receives one higher) unless acknowledged; a message that would be received
// more than maxReceives times moves to the dead-letter queue instead, from
// which Redrive replays it. Enqueue returns once the hint is fsynced, so an
// acknowledged write's hint survives a crash; a receipt is
// "lh-<message id>-<receive count>".
type HintQueue struct {
	db          *DB
	visibility  time.Duration
	maxReceives int
	now         func() time.Time
}

var _ kv.HintQueue = (*HintQueue)(nil)

// HintQueue returns the DB's hint queue: received messages stay hidden for
// visibility (at least 1 ms); a message is dead-lettered after maxReceives
// receives (0: never).
func (db *DB) HintQueue(visibility time.Duration, maxReceives int) *HintQueue {
	return &HintQueue{db: db, visibility: max(visibility, time.Millisecond), maxReceives: max(maxReceives, 0), now: time.Now}
}

// notifyHints wakes waiting receivers.
func (db *DB) notifyHints() {
	db.hintMu.Lock()
	close(db.hintWake)
	db.hintWake = make(chan struct{})
	db.hintMu.Unlock()
}

func (db *DB) hintWaiter() <-chan struct{} {
	db.hintMu.Lock()
	defer db.hintMu.Unlock()
	return db.hintWake
}

func msgKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// Enqueue implements kv.HintQueue. A hint without Key, Intended or Fallback
// is rejected, as by the SQS adapter.
func (q *HintQueue) Enqueue(ctx context.Context, h kv.Hint) error {
	body, err := kv.EncodeHint(h)
	if err != nil {
		return fmt.Errorf("localstore enqueue: %w", err)
	}
	return q.EnqueueRaw(ctx, body)
}

// EnqueueRaw adds a message with an arbitrary body, e.g. a poison message that
// does not decode as a kv.Hint.
func (q *HintQueue) EnqueueRaw(ctx context.Context, body []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localstore enqueue: %w", err)
	}
	enc, err := json.Marshal(message{Body: body})
	if err != nil {
		return fmt.Errorf("localstore enqueue: %w", err)
	}
	err = q.db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktHints)
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(msgKey(id), enc)
	})
	if err != nil {
		return fmt.Errorf("localstore enqueue: %w", err)
	}
	q.db.notifyHints()
	return nil
}

// Receive implements kv.HintQueue. limit is clamped to [1, MaxBatch] and wait
// to [0, MaxWait]. It returns as soon as at least one message is available,
// or with none when wait has passed; a done ctx ends the wait with its error.
func (q *HintQueue) Receive(ctx context.Context, limit int, wait time.Duration) ([]kv.ReceivedHint, error) {
	limit = min(max(limit, 1), MaxBatch)
	wait = min(max(wait, 0), MaxWait)
	deadline := q.now().Add(wait)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("localstore receive: %w", err)
		}
		woken := q.db.hintWaiter()
		now := q.now()
		out, next, err := q.take(now, limit)
		if err != nil {
			return nil, fmt.Errorf("localstore receive: %w", err)
		}
		if len(out) > 0 || !now.Before(deadline) {
			return out, nil
		}
		if next.IsZero() || next.After(deadline) {
			next = deadline
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-woken:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// take delivers up to n visible messages, oldest first, moving those past
// maxReceives to the dead letters. It also returns when the next hidden
// message becomes visible (zero if none is hidden).
func (q *HintQueue) take(now time.Time, n int) ([]kv.ReceivedHint, time.Time, error) {
	var out []kv.ReceivedHint
	var next time.Time
	// Look first without writing: an empty poll costs no commit (no fsync).
	visible := false
	err := q.db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktHints).ForEach(func(k, v []byte) error {
			var m message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			hidden := time.Unix(0, m.Hidden)
			switch {
			case m.Hidden == 0 || !hidden.After(now):
				visible = true
			case next.IsZero() || hidden.Before(next):
				next = hidden
			}
			return nil
		})
	})
	if err != nil || !visible {
		return nil, next, err
	}
	err = q.db.update(func(tx *bolt.Tx) error {
		out, next = nil, time.Time{}
		b, dead := tx.Bucket(bktHints), tx.Bucket(bktDead)
		type change struct {
			key []byte
			m   message
			die bool
		}
		var changes []change
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var m message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			if hidden := time.Unix(0, m.Hidden); m.Hidden != 0 && hidden.After(now) {
				if next.IsZero() || hidden.Before(next) {
					next = hidden
				}
				continue
			}
			if len(out) == n {
				continue
			}
			key := append([]byte{}, k...)
			if q.maxReceives > 0 && m.Receives >= q.maxReceives {
				changes = append(changes, change{key: key, m: m, die: true})
				continue
			}
			m.Receives++
			m.Hidden = now.Add(q.visibility).UnixNano()
			changes = append(changes, change{key: key, m: m})
			r := kv.ReceivedHint{Receipt: receiptPrefix + strconv.FormatUint(binary.BigEndian.Uint64(key), 10) + "-" + strconv.Itoa(m.Receives), Receives: m.Receives}
			r.Hint, r.Err = kv.DecodeHint(m.Body)
			out = append(out, r)
		}
		for _, ch := range changes {
			if ch.die {
				id, err := dead.NextSequence()
				if err != nil {
					return err
				}
				if err := dead.Put(msgKey(id), ch.m.Body); err != nil {
					return err
				}
				if err := b.Delete(ch.key); err != nil {
					return err
				}
				continue
			}
			enc, err := json.Marshal(ch.m)
			if err != nil {
				return err
			}
			if err := b.Put(ch.key, enc); err != nil {
				return err
			}
		}
		return nil
	})
	return out, next, err
}

// parseReceipt splits a receipt into its message id and receive count.
func parseReceipt(r string) (uint64, int, bool) {
	rest, ok := strings.CutPrefix(r, receiptPrefix)
	if !ok {
		return 0, 0, false
	}
	idS, nS, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	id, err1 := strconv.ParseUint(idS, 10, 64)
	n, err2 := strconv.Atoi(nS)
	if err1 != nil || err2 != nil || id == 0 || n < 1 {
		return 0, 0, false
	}
	return id, n, true
}

// Ack implements kv.HintQueue. A receipt deletes its message if it is the
// latest receipt of that message; acknowledging a message that is already gone,
// or with an older receipt, is not an error; a receipt this queue never issued is.
func (q *HintQueue) Ack(ctx context.Context, receipts ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localstore ack: %w", err)
	}
	if len(receipts) == 0 {
		return nil
	}
	var bad []string
	err := q.db.update(func(tx *bolt.Tx) error {
		bad = nil
		b := tx.Bucket(bktHints)
		var del [][]byte
		for _, r := range receipts {
			id, n, ok := parseReceipt(r)
			if !ok || id > b.Sequence() {
				bad = append(bad, r)
				continue
			}
			v := b.Get(msgKey(id))
			if v == nil {
				continue
			}
			var m message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message %d: %w", id, err)
			}
			if m.Receives == n {
				del = append(del, msgKey(id))
			}
		}
		for _, k := range del {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("localstore ack: %w", err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("localstore ack: %d invalid receipts (first %q)", len(bad), bad[0])
	}
	return nil
}

// Stats implements kv.HintQueue; the counts are exact.
func (q *HintQueue) Stats(ctx context.Context) (kv.QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return kv.QueueStats{}, fmt.Errorf("localstore stats: %w", err)
	}
	now := q.now().UnixNano()
	var s kv.QueueStats
	err := q.db.bolt.View(func(tx *bolt.Tx) error {
		s.Dead = tx.Bucket(bktDead).Stats().KeyN
		return tx.Bucket(bktHints).ForEach(func(k, v []byte) error {
			var m message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			if m.Hidden > now {
				s.InFlight++
			} else {
				s.Visible++
			}
			return nil
		})
	})
	if err != nil {
		return kv.QueueStats{}, fmt.Errorf("localstore stats: %w", err)
	}
	return s, nil
}

// Redrive moves every dead-lettered message back to the queue as a new message
// (Receives starts again at 1) and returns how many it moved.
func (q *HintQueue) Redrive(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("localstore redrive: %w", err)
	}
	n := 0
	err := q.db.update(func(tx *bolt.Tx) error {
		n = 0
		b, dead := tx.Bucket(bktHints), tx.Bucket(bktDead)
		var keys [][]byte
		var bodies [][]byte
		if err := dead.ForEach(func(k, v []byte) error {
			keys = append(keys, append([]byte{}, k...))
			bodies = append(bodies, append([]byte{}, v...))
			return nil
		}); err != nil {
			return err
		}
		for i, k := range keys {
			enc, err := json.Marshal(message{Body: bodies[i]})
			if err != nil {
				return err
			}
			id, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(msgKey(id), enc); err != nil {
				return err
			}
			if err := dead.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("localstore redrive: %w", err)
	}
	if n > 0 {
		q.db.notifyHints()
	}
	return n, nil
}
