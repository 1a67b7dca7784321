package kv

import (
	"crypto/md5"
	"encoding/hex"
	"testing"

	"github.com/cartwheel/cartwheel/core/vclock"
	"pgregory.net/rapid"
)

func TestMintingEncoding(t *testing.T) {
	for _, m := range []Minting{{Actor: "n1.3.abc"}, {Actor: "n1.3.abc", Floor: 1}, {Actor: "node-7.12.zz", Floor: 1 << 40}} {
		if got := ParseMinting(m.String()); got != m {
			t.Fatalf("ParseMinting(%q) = %+v, want %+v", m.String(), got, m)
		}
	}
	if got := (Minting{Actor: "n1.3.abc"}).String(); got != "n1.3.abc" {
		t.Fatalf("a minting without a floor is encoded %q, want the bare actor", got)
	}
	for _, meta := range []string{"", "n1.3.abc~", "n1.3.abc~!!", "garbage"} {
		if got := ParseMinting(meta); got.Actor != meta || got.Floor != 0 {
			t.Fatalf("ParseMinting(%q) = %+v, want the bare actor", meta, got)
		}
	}
	if !ValidMinter("n1.3.abc", "n1", 3) || ValidMinter("n1.3.abc", "n1", 4) || ValidMinter("n1.3.abc", "n2", 3) || ValidMinter("n1~x", "n1", 3) {
		t.Fatal("ValidMinter")
	}
}

func TestStubData(t *testing.T) {
	const now = 1_765_000_123_456
	d := StubData(now)
	if !IsStub(d) || IsStub([]byte("CW")) || IsStub(nil) {
		t.Fatal("IsStub")
	}
	if _, err := vclock.Decode(d, vclock.DecodeLimits()); err == nil {
		t.Fatal("a stub decodes as a replica object")
	}
	if at, ok := StubTime(d); !ok || at != now/60_000*60_000 {
		t.Fatalf("StubTime = %d, %v", at, ok)
	}
	if _, ok := StubTime([]byte(stubMarker + "x")); ok {
		t.Fatal("StubTime of a bad minute")
	}
	if _, ok := StubTime([]byte("data")); ok {
		t.Fatal("StubTime of a non-stub")
	}
	sum := md5.Sum(d)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	if !YoungStubETags(now-60_000, now)[etag] {
		t.Fatal("a stub left a minute ago is not young")
	}
	// Only minutes that start after since count: a stub left in the
	// current minute may be older than a window shorter than a minute.
	if YoungStubETags(now-1, now)[etag] {
		t.Fatal("a stub of the current minute counted as certainly younger than 1 ms")
	}
	if n := len(YoungStubETags(0, now)); n != 24*60+1 {
		t.Fatalf("YoungStubETags over all time = %d tags, want a day's worth", n)
	}
}

// One hinted replica name on one node, through any sequence of writes with
// any context a client could hold, merges from other replicas, deliveries
// (which leave a stub), stubs deleted, and the node wiped and re-added (new
// incarnation): no dot is ever minted twice, and a stub's actor is reused
// only with a clock that has seen every event it minted.
func TestNoDotMintedTwice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		type state struct {
			obj    vclock.Object
			meta   Minting
			exists bool // an object or a stub is at the name
		}
		var (
			h        = state{obj: vclock.Object{Key: "k"}}
			primary  = vclock.Object{Key: "k"} // where deliveries go
			contexts = []vclock.Clock{nil}     // clocks clients were given
			minted   = map[vclock.Dot]bool{}
			inc      = uint64(1)
			nonce    uint64
			now      int64
		)
		next := func() uint64 { nonce++; return nonce }
		for step := 0; step < 60; step++ {
			now++
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0, 1, 2, 3: // a write coordinated here, with a context a client holds
				ctx := contexts[rapid.IntRange(0, len(contexts)-1).Draw(t, "ctx")]
				var rec Minting
				if h.exists {
					rec = h.meta
				}
				mint := NextMinting(rec, vclock.Merge(h.obj.Clock, ctx), "n1", inc, next)
				obj, dot := vclock.Update(h.obj, ctx, vclock.Actor(mint.Actor), vclock.Sibling{Value: []byte{byte(step)}}, now)
				if minted[dot] {
					t.Fatalf("dot %s minted twice (recorded %+v, context %s, object %s)", dot, rec, ctx, h.obj.Clock)
				}
				if err := obj.Validate(); err != nil {
					t.Fatal(err)
				}
				minted[dot] = true
				h = state{obj: obj, meta: mint, exists: true}
				contexts = append(contexts, vclock.Merge(ctx, vclock.DotClock(dot, now)), obj.Clock)
			case 4: // a merge from another replica (replication, read repair)
				if !h.exists {
					h.meta = Minting{Actor: ActorFor("n1", inc, next())}
				}
				h.obj, h.exists = vclock.MergeObjects(h.obj, primary), true
			case 5, 6: // delivered: merged into the primary, a stub left
				if h.exists && !h.obj.Empty() {
					primary = vclock.MergeObjects(primary, h.obj)
					contexts = append(contexts, primary.Clock)
					h = state{obj: vclock.Object{Key: "k"}, meta: StubOf(h.meta, h.obj.Clock), exists: true}
				}
			case 7: // the stub (or object, once delivered) deleted
				if h.obj.Empty() {
					h = state{obj: vclock.Object{Key: "k"}}
				}
			case 8: // the node wiped and re-added: everything on it is gone
				inc++
				h = state{obj: vclock.Object{Key: "k"}}
			case 9: // writes elsewhere, seen by the primary and clients
				var dot vclock.Dot
				primary, dot = vclock.Update(primary, primary.Clock, "p.1.1", vclock.Sibling{Value: []byte("p")}, now)
				contexts = append(contexts, primary.Clock, vclock.DotClock(dot, now))
			}
		}
	})
}

// The defect's sequence in one loop: a client reads the key (the primary's
// clock), writes it through the fallback, the hint is delivered. With the
// stub the fallback keeps one actor, however many times it goes round.
func TestStubKeepsOneActorThroughChurn(t *testing.T) {
	var (
		primary = vclock.Object{Key: "k"}
		h       = vclock.Object{Key: "k"}
		meta    Minting
		found   bool
		nonce   uint64
	)
	for i := 0; i < 1000; i++ {
		ctx := primary.Clock
		var rec Minting
		if found {
			rec = meta
		}
		meta = NextMinting(rec, vclock.Merge(h.Clock, ctx), "f", 1, func() uint64 { nonce++; return nonce })
		h, _ = vclock.Update(h, ctx, vclock.Actor(meta.Actor), vclock.Sibling{Value: []byte("v")}, int64(i))
		primary = vclock.MergeObjects(primary, h)
		meta, h, found = StubOf(meta, h.Clock), vclock.Object{Key: "k"}, true
	}
	if len(primary.Clock) != 1 || nonce != 1 {
		t.Fatalf("after 1,000 rounds the clock is %s (%d actors drawn), want one actor", primary.Clock, nonce)
	}
}
