// Package quorum decides Dynamo-style quorums without doing any I/O.
//
// A coordinator sends a request to a set of candidate nodes (the preference
// list, extended with fallbacks under a sloppy quorum) and feeds every reply it
// gets into an accumulator: Write for puts, Read for gets. After each reply the
// accumulator reports a Vote: Pending while the outcome is open, Won once need
// distinct nodes have succeeded, Lost once success has become impossible with
// the candidates known so far. The model is etcd-io/raft's quorum package
// (VotePending/VoteLost/VoteWon), extended with the sloppy-quorum operation
// AddCandidates.
//
// Counting rules shared by both accumulators:
//
//   - Replies are counted per distinct physical node. The first reply recorded
//     for a node is final: a later reply for the same node (success or failure)
//     is ignored, so retried or duplicated messages cannot inflate a quorum.
//   - The vote is Won when successes >= need, otherwise Lost when
//     successes + (candidates not yet heard from) < need, otherwise Pending.
//   - Won is final: successes never decrease, so no later call changes it.
//   - Lost is final except through AddCandidates (explicit, or the implicit
//     form below): only new candidates can make success possible again.
//     After an explicit AddCandidates the vote is Pending or still Lost; after
//     an implicit one it may be Won directly, when the unannounced node's
//     success is the one that was missing.
//   - A reply from a new node arriving when every candidate has already been
//     heard from means the caller contacted a node it did not announce; it is
//     counted as an implicit AddCandidates(1) followed by the reply, so no reply
//     is ever dropped. Callers should call AddCandidates before contacting a
//     fallback; the implicit form only keeps the bookkeeping consistent.
//
// Accumulators are not safe for concurrent use; the coordinator owns one per
// request and feeds it from a single goroutine (or under its own lock).
package quorum

import (
	"fmt"
)

// Vote is the state of a quorum decision.
type Vote int

// The possible votes. The zero Vote is not a valid vote.
const (
	// Pending: not enough successes yet, but enough candidates remain to
	// reach the quorum.
	Pending Vote = 1 + iota
	// Won: at least need distinct nodes succeeded. Final.
	Won
	// Lost: even if every candidate not yet heard from succeeds, fewer than
	// need nodes will have succeeded. Final unless candidates are added.
	Lost
)

// String returns "pending", "won" or "lost", or "Vote(n)" for an invalid value.
func (v Vote) String() string {
	switch v {
	case Pending:
		return "pending"
	case Won:
		return "won"
	case Lost:
		return "lost"
	default:
		return fmt.Sprintf("Vote(%d)", int(v))
	}
}

// tally is the counting state shared by Write and Read.
type tally struct {
	need       int
	candidates int
	seen       map[string]struct{}
	successes  int
	failures   []string
}

func newTally(op string, need, candidates int) tally {
	if need < 1 {
		panic(fmt.Sprintf("quorum: %s: need must be >= 1, got %d", op, need))
	}
	if candidates < 0 {
		panic(fmt.Sprintf("quorum: %s: candidates must be >= 0, got %d", op, candidates))
	}
	return tally{need: need, candidates: candidates, seen: make(map[string]struct{})}
}

// admit reports whether node has not been heard from yet and, if so, marks it
// heard (extending the candidates if every candidate was already heard from).
func (t *tally) admit(node string) bool {
	if _, dup := t.seen[node]; dup {
		return false
	}
	t.seen[node] = struct{}{}
	if len(t.seen) > t.candidates {
		t.candidates = len(t.seen)
	}
	return true
}

func (t *tally) addCandidates(k int) {
	if k < 0 {
		panic(fmt.Sprintf("quorum: AddCandidates: k must be >= 0, got %d", k))
	}
	t.candidates += k
}

func (t *tally) vote() Vote {
	if t.successes >= t.need {
		return Won
	}
	remaining := t.candidates - len(t.seen)
	if t.successes+remaining < t.need {
		return Lost
	}
	return Pending
}

// Write accumulates the replies to a replicated write (a put or a delete).
// Create one with NewWrite; the zero Write is not usable.
type Write struct {
	tally
	acks []string
}

// NewWrite returns a Write accumulator that is Won once need distinct nodes
// have acknowledged, among candidates nodes contacted so far. It panics if
// need < 1 or candidates < 0. need > candidates is allowed and starts Lost
// (a sloppy quorum may still rescue it with AddCandidates).
func NewWrite(need, candidates int) *Write {
	return &Write{tally: newTally("NewWrite", need, candidates)}
}

// Record feeds the reply of one physical node: ok is true for a successful
// write, false for a failure (error, timeout, refusal). Only the first reply
// of a node counts; later replies for the same node are ignored, whatever their
// verdict. Record returns the vote after the reply.
func (w *Write) Record(node string, ok bool) Vote {
	if w.admit(node) {
		if ok {
			w.successes++
			w.acks = append(w.acks, node)
		} else {
			w.failures = append(w.failures, node)
		}
	}
	return w.vote()
}

// AddCandidates extends the candidate count by k (k >= 0, else it panics):
// under a sloppy quorum the coordinator found k more fallback nodes to try.
// This is the only way a Lost vote can become Pending again.
func (w *Write) AddCandidates(k int) { w.addCandidates(k) }

// Vote returns the current vote.
func (w *Write) Vote() Vote { return w.vote() }

// Acks returns the nodes that acknowledged the write, in record order. The
// slice is a copy.
func (w *Write) Acks() []string { return append([]string(nil), w.acks...) }

// Failures returns the nodes whose first reply was a failure, in record
// order. The slice is a copy.
func (w *Write) Failures() []string { return append([]string(nil), w.failures...) }

// Reply is one successful read reply: the node and the value it returned.
type Reply[T any] struct {
	// Node is the physical node that replied.
	Node string
	// Value is what the node returned.
	Value T
}

// Read accumulates the replies to a replicated read. Every successful reply is
// merged into a running result with the merge function, and the nodes whose
// value differs from the result are the read-repair targets. Create one with
// NewRead; the zero Read is not usable.
type Read[T any] struct {
	tally
	merge   func(a, b T) T
	equal   func(a, b T) bool
	replies []Reply[T]
	result  T
}

// NewRead returns a Read accumulator that is Won once need distinct nodes
// have returned a value, among candidates nodes contacted so far. merge
// combines two replies (for Cartwheel, the vector-clock sibling merge); it
// should be associative and commutative, since the result is the left fold
// of the replies in record order. equal reports whether two values are the
// same version. NewRead panics if need < 1, candidates < 0, or merge or equal
// is nil.
func NewRead[T any](need, candidates int, merge func(a, b T) T, equal func(a, b T) bool) *Read[T] {
	if merge == nil || equal == nil {
		panic("quorum: NewRead: merge and equal must not be nil")
	}
	return &Read[T]{tally: newTally("NewRead", need, candidates), merge: merge, equal: equal}
}

// Record feeds a successful reply of one physical node carrying value v. Only
// the first reply of a node counts; a later reply (or Fail) for the same node
// is ignored. Record returns the vote after the reply.
func (r *Read[T]) Record(node string, v T) Vote {
	if r.admit(node) {
		r.successes++
		if len(r.replies) == 0 {
			r.result = v
		} else {
			r.result = r.merge(r.result, v)
		}
		r.replies = append(r.replies, Reply[T]{Node: node, Value: v})
	}
	return r.vote()
}

// Fail feeds a failed reply (error, timeout) of one physical node. Only the
// first reply of a node counts. Fail returns the vote after the reply.
func (r *Read[T]) Fail(node string) Vote {
	if r.admit(node) {
		r.failures = append(r.failures, node)
	}
	return r.vote()
}

// AddCandidates extends the candidate count by k (k >= 0, else it panics):
// under a sloppy quorum the coordinator found k more fallback nodes to try.
// This is the only way a Lost vote can become Pending again.
func (r *Read[T]) AddCandidates(k int) { r.addCandidates(k) }

// Vote returns the current vote.
func (r *Read[T]) Vote() Vote { return r.vote() }

// Result returns the merge of every successful reply so far (the first reply
// alone if there is one), and false with the zero T if there is none.
func (r *Read[T]) Result() (T, bool) {
	return r.result, len(r.replies) > 0
}

// Replies returns the successful replies in record order. The slice is a copy
// (the values themselves are not deep-copied).
func (r *Read[T]) Replies() []Reply[T] { return append([]Reply[T](nil), r.replies...) }

// Failures returns the nodes whose first reply was a failure, in record order.
// The slice is a copy.
func (r *Read[T]) Failures() []string { return append([]string(nil), r.failures...) }

// Stale returns the nodes that replied with a value not equal to the current
// Result, in record order: the targets of read repair. It is recomputed on
// each call, so it reflects every reply recorded so far.
func (r *Read[T]) Stale() []string {
	var stale []string
	for _, rep := range r.replies {
		if !r.equal(rep.Value, r.result) {
			stale = append(stale, rep.Node)
		}
	}
	return stale
}
