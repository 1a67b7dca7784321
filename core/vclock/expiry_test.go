package vclock

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// expiringHistory runs random writes (some with an expiry, some
// tombstones) and merges over a few replicas, and returns them.
func expiringHistory(t *rapid.T) []Object {
	n := rapid.IntRange(1, 3).Draw(t, "replicas")
	objs := make([]Object, n)
	for i := range objs {
		objs[i] = Object{Key: "k"}
	}
	now := int64(1000)
	for s := rapid.IntRange(0, 20).Draw(t, "steps"); s > 0; s-- {
		now += rapid.Int64Range(0, 20).Draw(t, "dt")
		i := rapid.IntRange(0, n-1).Draw(t, "at")
		if rapid.IntRange(0, 2).Draw(t, "op") == 0 {
			objs[i] = MergeObjects(objs[i], objs[rapid.IntRange(0, n-1).Draw(t, "from")])
			continue
		}
		var ctx Clock
		if j := rapid.IntRange(-1, n-1).Draw(t, "readFrom"); j >= 0 {
			ctx = objs[j].Clock
		}
		sib := Sibling{Value: []byte(fmt.Sprint(s)), Tombstone: rapid.IntRange(0, 5).Draw(t, "tomb") == 0}
		if rapid.Bool().Draw(t, "ttl") {
			sib.Expires = now + rapid.Int64Range(0, 100).Draw(t, "ttlms")
		}
		objs[i], _ = Update(objs[i], ctx, Actor(fmt.Sprintf("r%d", i)), sib, now)
	}
	return objs
}

// Dropping expired versions at some replicas (as a commit does) never
// changes what a read shows at or after the drop's cut-off, whatever the
// replicas merged with, and the encoding round-trips every expiry.
func TestDropExpiredNeverChangesReads(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		objs := expiringHistory(t)
		cut := rapid.Int64Range(900, 1500).Draw(t, "cut")
		dropped := slices.Clone(objs)
		for i := range dropped {
			if rapid.Bool().Draw(t, "drop") {
				dropped[i] = DropExpired(dropped[i], cut)
			}
			if err := dropped[i].Validate(); err != nil {
				t.Fatal(err)
			}
			enc := Encode(dropped[i])
			dec, err := Decode(enc, DecodeLimits())
			if err != nil || !dec.Equal(dropped[i]) || !bytes.Equal(Encode(dec), enc) {
				t.Fatalf("round trip: %v", err)
			}
		}
		want, got := Reconcile(objs...), Reconcile(dropped...)
		if !got.Clock.Descends(want.Clock) || !want.Clock.Descends(got.Clock) {
			t.Fatalf("dropping changed the clock: %s vs %s", got.Clock, want.Clock)
		}
		for _, at := range []int64{cut, cut + 1, cut + 50, cut + 500} {
			if g, w := dots(Object{Siblings: got.Visible(at)}), dots(Object{Siblings: want.Visible(at)}); !equalDots(g, w) {
				t.Fatalf("read at %d (cut %d): %v, without dropping %v", at, cut, g, w)
			}
		}
	})
}

func TestExpiryBoundaries(t *testing.T) {
	s := Sibling{Expires: 100}
	if s.Expired(100) || !s.Expired(101) {
		t.Fatalf("a version must be visible through its expiry millisecond and expired from the next")
	}
	if (Sibling{}).Expired(1 << 62) {
		t.Fatalf("Expires 0 must never expire")
	}
	o, _ := Update(Object{Key: "k"}, nil, "a", Sibling{Value: []byte("x"), Expires: 100}, 50)
	o2, _ := Update(o, nil, "a", Sibling{Tombstone: true, Expires: 7}, 60)
	if o2.Siblings[1].Expires != 0 {
		t.Fatalf("a tombstone kept an expiry")
	}
	if o.Gone(100) || !o.Gone(101) || !o2.Gone(101) || (Object{}).Gone(5) {
		t.Fatalf("Gone wrong")
	}
	if o2.LastEvent() != 100 {
		t.Fatalf("LastEvent = %d, want the expiry 100", o2.LastEvent())
	}
}

// An object without expiries keeps its format-1 bytes; an expiry sets flag
// bit 1 and is rejected where it is not canonical.
func TestExpiryEncoding(t *testing.T) {
	plain, _ := Update(Object{Key: "k"}, nil, "a", Sibling{}, 5)
	if enc := Encode(plain); enc[len(enc)-7] != 0 {
		t.Fatalf("flags of a version without expiry: %x", enc)
	}
	o, _ := Update(Object{Key: "k"}, nil, "a", Sibling{Expires: 9}, 5)
	enc := Encode(o)
	body := enc[:len(enc)-4]
	// ... flags, expires, 0 (ct len), 0 (value len)
	if body[len(body)-4] != flagExpires || body[len(body)-3] != 9 {
		t.Fatalf("encoding %x", enc)
	}
	zero := append([]byte(nil), body...)
	zero[len(zero)-3] = 0
	if _, err := Decode(Encode2(zero), DecodeLimits()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("zero expiry accepted: %v", err)
	}
	tomb := append([]byte(nil), body...)
	tomb[len(tomb)-4] |= flagTombstone
	if _, err := Decode(Encode2(tomb), DecodeLimits()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("expiring tombstone accepted: %v", err)
	}
}
