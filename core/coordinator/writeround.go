// The decision of a put's replication round, kept apart from its I/O (as
// etcd-io/raft keeps its state machine apart from the network): which
// replies count, when the quorum is won or lost, which fallback replaces a
// failed replica. replicate feeds it replies from one loop and does what it
// says.

package coordinator

import (
	"github.com/cartwheel/cartwheel/core/quorum"
)

// writeRound is the state of one replication round. It does no I/O and is
// not safe for concurrent use: its owner serializes calls.
type writeRound struct {
	q         quorumSpec
	acc       *quorum.Write
	inFlight  int // primary writes launched and not yet answered
	primaries int // primaries that stored it
	acked     []writeReply
	errs      []error
}

// newWriteRound starts a round that needs q.need distinct nodes whose
// replies count (q.primaries of them primaries), among the coordinating
// replica and the replicas still to write, candidates of which count.
func newWriteRound(q quorumSpec, candidates int) *writeRound {
	return &writeRound{q: q, acc: quorum.NewWrite(q.need, candidates)}
}

// launched records that a write to t was sent.
func (r *writeRound) launched(t target) {
	if t.primary() {
		r.inFlight++
	}
}

// stored records t's success (the coordinating replica's too).
func (r *writeRound) stored(rep writeReply) {
	if r.q.counted(rep.t) {
		r.acc.Record(rep.t.node.ID, true)
	}
	r.acked = append(r.acked, rep)
	if rep.t.primary() {
		r.primaries++
	}
}

// failed records t's failure; next is the stand-in to write instead, if the
// caller found one (sloppy quorum), which then becomes a candidate.
func (r *writeRound) failed(t target, err error, next *target) {
	r.errs = append(r.errs, err)
	if r.q.counted(t) {
		r.acc.Record(t.node.ID, false)
	}
	if next != nil && r.q.counted(*next) {
		r.acc.AddCandidates(1)
	}
}

// hedged records a stand-in written beside a primary still writing (a
// hedged write): it becomes a candidate, and the primary stays one too.
func (r *writeRound) hedged(stand target) {
	if r.q.counted(stand) {
		r.acc.AddCandidates(1)
	}
}

// answered records the reply of a launched write.
func (r *writeRound) answered(rep writeReply, next *target) {
	if rep.t.primary() {
		r.inFlight--
	}
	if rep.err != nil {
		r.failed(rep.t, rep.err, next)
		return
	}
	r.stored(rep)
}

// decided reports whether the client can be answered: the quorum is lost,
// or won with PW primaries (or no primary write left that could add one).
func (r *writeRound) decided() bool {
	switch r.acc.Vote() {
	case quorum.Lost:
		return true
	case quorum.Won:
		return r.primaries >= r.q.primaries || r.inFlight == 0
	}
	return false
}

// result is the round's outcome so far.
func (r *writeRound) result() replicated {
	return replicated{won: r.acc.Vote() == quorum.Won && r.primaries >= r.q.primaries, primaries: r.primaries, counted: len(r.acc.Acks()),
		acked: append([]writeReply(nil), r.acked...), errs: append([]error(nil), r.errs...)}
}
