package replica_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

var node = kv.Node{ID: "n1", Incarnation: 3, Location: kv.Location{Bucket: "b", Prefix: "n1/"}}

const key = "cart"

func newIO(store kv.ReplicaStore) replica.IO {
	var nonce uint64
	return replica.IO{Store: store, Rand: func() uint64 { nonce++; return nonce }, Retries: 4}
}

// genObject draws an object of key written by a few actors, each write
// superseding what its context covered.
func genObject(t *rapid.T, label string) vclock.Object {
	obj := vclock.Object{Key: key}
	for i, n := 0, rapid.IntRange(1, 4).Draw(t, label+"-writes"); i < n; i++ {
		// Actors are the label's own, so no two objects share a dot
		// (dots are unique in the store: the coordinator's commit).
		actor := vclock.Actor(label + "/" + rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, label+"-actor"))
		var ctx vclock.Clock
		if rapid.Bool().Draw(t, label+"-sees") {
			ctx = obj.Clock
		}
		val := fmt.Appendf(nil, "%s-%d", label, i)
		obj, _ = vclock.Update(obj, ctx, actor, vclock.Sibling{Value: val}, int64(i+1))
	}
	return obj
}

// covers reports whether holder has everything of obj: merging obj into it
// changes nothing.
func covers(holder, obj vclock.Object) bool {
	return vclock.MergeObjects(holder, obj).Equal(holder)
}

// TestMergeIntoNeverOverwrites: whatever the replica held, whatever a
// concurrent writer slips in before each of MergeInto's writes, and whatever
// it was told the replica held, the replica ends up holding everything of
// the version and everything of every concurrent write (merge, never
// overwrite), or MergeInto says it failed; and it keeps the object's
// minting identity when that identity may still mint on the node.
func TestMergeIntoNeverOverwrites(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctx := context.Background()
		store := kvmem.NewStore()
		io := newIO(store)
		name := kv.DataName(key)

		var held []vclock.Object // everything ever stored at name, in order
		initial := rapid.SampledFrom([]string{"absent", "object", "corrupt", "stub", "stale-actor"}).Draw(t, "initial")
		actor := kv.ActorFor(node.ID, node.Incarnation, 99)
		switch initial {
		case "object", "stale-actor":
			o := genObject(t, "initial")
			if initial == "stale-actor" {
				actor = kv.ActorFor(node.ID, node.Incarnation-1, 99) // an old incarnation's
			}
			mustPut(t, store, name, vclock.Encode(o), actor, "")
			held = append(held, o)
		case "corrupt":
			mustPut(t, store, name, []byte("not an object"), actor, "")
		case "stub":
			mustPut(t, store, name, kv.StubData(1), actor, "")
		}

		// A concurrent writer merges its own version in before some of
		// MergeInto's writes (at most Retries-1 of them, so it can win).
		racing := rapid.IntRange(0, io.Retries-1).Draw(t, "races")
		racerWrote := false
		store.SetHook(func(hctx context.Context, op kvmem.Op, loc kv.Location, n string) error {
			if op != kvmem.OpPut || racing == 0 || hctx.Value(racerKey{}) != nil {
				return nil
			}
			racing--
			o := genObject(t, fmt.Sprintf("racer%d", racing))
			rm, err := newIO(store).MergeInto(context.WithValue(hctx, racerKey{}, true), node, name, o, vclock.Encode(o), nil, false)
			if err != nil {
				return fmt.Errorf("racer: %w", err)
			}
			racerWrote = racerWrote || rm.Wrote
			held = append(held, o)
			return nil
		})

		obj := genObject(t, "version")
		data := vclock.Encode(obj)
		var known *replica.State
		switch rapid.SampledFrom([]string{"unknown", "read", "guessed-absent"}).Draw(t, "known") {
		case "read":
			st, err := io.Read(ctx, node, name, replica.KeyIs(key), key)
			if err != nil {
				t.Fatal(err)
			}
			known = &st
		case "guessed-absent":
			known = &replica.State{Obj: vclock.Object{Key: key}}
		}
		m, err := io.MergeInto(ctx, node, name, obj, data, known, false)
		if err != nil {
			t.Fatalf("MergeInto: %v", err)
		}
		store.SetHook(nil)

		st, err := io.Read(ctx, node, name, replica.KeyIs(key), key)
		if err != nil || !st.Found || st.Corrupt || st.Stub {
			t.Fatalf("after MergeInto: %+v, %v", st, err)
		}
		if st.ETag != m.ETag || st.Actor != m.Actor {
			t.Fatalf("Merged says etag %s actor %s, the replica holds %s %s", m.ETag, m.Actor, st.ETag, st.Actor)
		}
		for i, h := range append(held, obj) {
			if !covers(st.Obj, h) {
				t.Fatalf("write %d of %d lost: replica %+v does not cover %+v", i, len(held)+1, st.Obj, h)
			}
		}
		if m.Same != bytes.Equal(st.Data, data) {
			t.Fatalf("Same=%v but the replica holds the bytes sent: %v", m.Same, bytes.Equal(st.Data, data))
		}
		if (m.Wrote || racerWrote) && !replica.ActorValid(st.Actor, node) {
			t.Fatalf("actor %q may not mint on %s", st.Actor, node.ID)
		}
		if initial == "object" && st.Actor != actor {
			t.Fatalf("a valid minting identity %q was replaced by %q", actor, st.Actor)
		}
		if initial == "stale-actor" && st.Actor == actor {
			t.Fatalf("an old incarnation's actor %q kept minting", actor)
		}
	})
}

type racerKey struct{}

func mustPut(t *rapid.T, s kv.ReplicaStore, name string, data []byte, actor, ifMatch string) {
	if _, err := s.Put(context.Background(), node.Location, name, data, actor, ifMatch); err != nil {
		t.Fatal(err)
	}
}

// TestMergeIntoGivesUp: a replica that changes before every write exhausts
// the retries with kv.ErrPrecondition, and what the concurrent writers
// stored is kept.
func TestMergeIntoGivesUp(t *testing.T) {
	ctx := context.Background()
	store := kvmem.NewStore()
	io := newIO(store)
	name := kv.DataName(key)
	writes := 0
	store.SetHook(func(hctx context.Context, op kvmem.Op, _ kv.Location, _ string) error {
		if op != kvmem.OpPut || hctx.Value(racerKey{}) != nil {
			return nil
		}
		writes++
		o, _ := vclock.Update(vclock.Object{Key: key}, nil, vclock.Actor(fmt.Sprint("r", writes)), vclock.Sibling{Value: []byte("x")}, 1)
		_, err := newIO(store).MergeInto(context.WithValue(hctx, racerKey{}, true), node, name, o, vclock.Encode(o), nil, false)
		return err
	})
	obj, _ := vclock.Update(vclock.Object{Key: key}, nil, "a", vclock.Sibling{Value: []byte("v")}, 1)
	_, err := io.MergeInto(ctx, node, name, obj, vclock.Encode(obj), nil, false)
	if !errors.Is(err, kv.ErrPrecondition) {
		t.Fatalf("err = %v, want kv.ErrPrecondition", err)
	}
	if writes != io.Retries {
		t.Fatalf("%d attempts, want %d", writes, io.Retries)
	}
	store.SetHook(nil)
	st, err := io.Read(ctx, node, name, replica.KeyIs(key), key)
	if err != nil || len(st.Obj.Siblings) != io.Retries {
		t.Fatalf("replica holds %d versions (%v), want the %d concurrent ones", len(st.Obj.Siblings), err, io.Retries)
	}
}

// TestReadStates: what Read makes of an absent object, a stub, a corrupt
// object, another key's object (by key and by hash), and a good one; a
// corrupt read is reported, with its ETag kept for an overwrite.
func TestReadStates(t *testing.T) {
	ctx := context.Background()
	store := kvmem.NewStore()
	io := newIO(store)
	var corrupt []string
	io.OnCorrupt = func(_ context.Context, n kv.Node, name string, err error) {
		if !errors.Is(err, vclock.ErrCorrupt) {
			t.Errorf("OnCorrupt(%s): %v does not wrap vclock.ErrCorrupt", name, err)
		}
		corrupt = append(corrupt, name)
	}
	good, _ := vclock.Update(vclock.Object{Key: key}, nil, "a", vclock.Sibling{Value: []byte("v")}, 1)
	other, _ := vclock.Update(vclock.Object{Key: "other"}, nil, "a", vclock.Sibling{Value: []byte("w")}, 1)
	put := func(name string, data []byte) string {
		etag, err := store.Put(ctx, node.Location, name, data, "meta", "")
		if err != nil {
			t.Fatal(err)
		}
		return etag
	}
	goodTag := put("good", vclock.Encode(good))
	stubTag := put("stub", kv.StubData(7))
	badTag := put("bad", []byte{0xff, 0x00})
	otherTag := put("other", vclock.Encode(other))

	for _, tc := range []struct {
		name string
		want replica.Want
		exp  replica.State
	}{
		{"absent", replica.KeyIs(key), replica.State{Obj: vclock.Object{Key: key}}},
		{"good", replica.KeyIs(key), replica.State{Obj: good, Found: true, ETag: goodTag, Actor: "meta", Data: vclock.Encode(good)}},
		{"good", replica.HashIs(kv.KeyHash(key)), replica.State{Obj: good, Found: true, ETag: goodTag, Actor: "meta", Data: vclock.Encode(good)}},
		{"stub", replica.KeyIs(key), replica.State{Obj: vclock.Object{Key: key}, Found: true, ETag: stubTag, Actor: "meta", Data: kv.StubData(7), Stub: true}},
		{"bad", replica.KeyIs(key), replica.State{Obj: vclock.Object{Key: key}, Found: true, Corrupt: true, ETag: badTag}},
		{"other", replica.KeyIs(key), replica.State{Obj: vclock.Object{Key: key}, Found: true, Corrupt: true, ETag: otherTag}},
		{"other", replica.HashIs(kv.KeyHash(key)), replica.State{Obj: vclock.Object{Key: key}, Found: true, Corrupt: true, ETag: otherTag}},
		{"other", replica.AnyKey, replica.State{Obj: other, Found: true, ETag: otherTag, Actor: "meta", Data: vclock.Encode(other)}},
	} {
		st, err := io.Read(ctx, node, tc.name, tc.want, key)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !st.Obj.Equal(tc.exp.Obj) || st.Found != tc.exp.Found || st.Corrupt != tc.exp.Corrupt || st.Stub != tc.exp.Stub ||
			st.ETag != tc.exp.ETag || st.Actor != tc.exp.Actor || !bytes.Equal(st.Data, tc.exp.Data) {
			t.Errorf("%s: got %+v, want %+v", tc.name, st, tc.exp)
		}
	}
	if fmt.Sprint(corrupt) != "[bad other other]" {
		t.Errorf("corrupt reads reported: %v, want [bad other other]", corrupt)
	}
}

// TestWriteGuard: a guard's refusal writes nothing.
func TestWriteGuard(t *testing.T) {
	store := kvmem.NewStore()
	io := newIO(store)
	refused := errors.New("suspended")
	io.Guard = func(context.Context, kv.Node, string) error { return refused }
	obj, _ := vclock.Update(vclock.Object{Key: key}, nil, "a", vclock.Sibling{Value: []byte("v")}, 1)
	if _, err := io.MergeInto(context.Background(), node, "x", obj, vclock.Encode(obj), nil, false); !errors.Is(err, refused) {
		t.Fatalf("err = %v, want the guard's", err)
	}
	if n := store.TotalCounts().Put; n != 0 {
		t.Fatalf("%d PUTs reached the store past the guard", n)
	}
}

// FuzzDecode: any stored bytes decode to a usable state without a panic; a
// state that is not corrupt re-encodes to the bytes read.
func FuzzDecode(f *testing.F) {
	good, _ := vclock.Update(vclock.Object{Key: key}, nil, "a", vclock.Sibling{Value: []byte("v")}, 1)
	f.Add(vclock.Encode(good))
	f.Add(kv.StubData(5))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := replica.Decode(kv.Blob{Data: data, ETag: "e"}, replica.AnyKey)
		if (err != nil) != st.Corrupt {
			t.Fatalf("err %v but Corrupt=%v", err, st.Corrupt)
		}
		if !st.Found || st.ETag != "e" {
			t.Fatalf("a stored blob read as %+v", st)
		}
		if !st.Corrupt && !st.Stub && !bytes.Equal(vclock.Encode(st.Obj), data) {
			t.Fatalf("decoded object re-encodes differently")
		}
	})
}
