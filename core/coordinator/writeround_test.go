package coordinator

import (
	"errors"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

// TestWriteRound checks the pure decision of a replication round: W distinct
// nodes win, PW of them primaries; a failure with a stand-in keeps the round
// open; a round with no primary write left is decided even below PW.
func TestWriteRound(t *testing.T) {
	prim := func(id string) target { return target{node: kv.Node{ID: id}} }
	fb := func(id, for_ string) target { return target{node: kv.Node{ID: id}, intended: for_} }
	ok := func(t target) writeReply { return writeReply{t: t} }
	bad := func(t target) writeReply { return writeReply{t: t, err: errors.New("down")} }

	// w=2, pw=2: the coordinating primary and a fallback make W but not PW
	// while the third primary is still in flight.
	r := newWriteRound(quorumSpec{need: 2, primaries: 2}, 3)
	r.stored(ok(prim("n1")))
	for _, t := range []target{prim("n2"), prim("n3")} {
		r.launched(t)
	}
	stand := fb("n4", "n2")
	r.answered(bad(prim("n2")), &stand)
	r.launched(stand)
	r.answered(ok(stand), nil)
	if r.decided() {
		t.Fatal("decided with one primary while another primary write is in flight (pw=2)")
	}
	r.answered(ok(prim("n3")), nil)
	if !r.decided() || !r.result().won || r.result().primaries != 2 {
		t.Fatalf("after the second primary: decided=%v %+v", r.decided(), r.result())
	}

	// pw=3 with a primary failed and no primary left in flight: decided, not won.
	r = newWriteRound(quorumSpec{need: 2, primaries: 3}, 3)
	r.stored(ok(prim("n1")))
	r.launched(prim("n2"))
	r.launched(prim("n3"))
	r.answered(ok(prim("n2")), nil)
	if r.decided() {
		t.Fatal("decided while a primary that could meet pw is in flight")
	}
	r.answered(bad(prim("n3")), nil)
	if !r.decided() || r.result().won || len(r.result().errs) != 1 {
		t.Fatalf("pw unmet: decided=%v %+v", r.decided(), r.result())
	}

	// w=3 lost: two failures without stand-ins.
	r = newWriteRound(quorumSpec{need: 3, primaries: 0}, 3)
	r.stored(ok(prim("n1")))
	r.launched(prim("n2"))
	r.launched(prim("n3"))
	r.answered(bad(prim("n2")), nil)
	if !r.decided() || r.result().won {
		t.Fatalf("w=3 with a failure and no stand-in must be lost: %+v", r.result())
	}
}
