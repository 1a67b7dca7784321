// Package replica reads, merges and conditionally writes one replica object
// on a kv.ReplicaStore. It is the one place where a replica's bytes become a
// vclock.Object and back, and where a merge meets a conditional write: the
// coordinator (a put's commit, read repair, hint delivery) and anti-entropy
// (an exchange's repair) both go through it, so both merge, keep minting
// identities and lose races in exactly the same way.
//
// Requests' deadlines and counting belong to the store the caller passes
// (a wrapper of its kv.ReplicaStore); this package adds none.
package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// State is what a replica held when read.
type State struct {
	// Obj is the replica's object: empty (holding only the key) when it is
	// absent, corrupt or a stub.
	Obj vclock.Object
	// Found: the store holds an object at the name (ETag is then set).
	Found bool
	// Corrupt: the object failed its checksum or format, or holds another
	// key. Its ETag is kept so the next write overwrites it conditionally.
	Corrupt bool
	// ETag is the stored object's entity tag.
	ETag string
	// Actor is the object's minting identity (its metadata, see kv.Minting).
	Actor string
	// Data is the stored encoding (nil when absent or corrupt).
	Data []byte
	// Stub: a delivered hinted replica's stub (kv.StubData), holding no
	// state, only a minting identity in Actor.
	Stub bool
}

// Want says whether an object read at a name holds the key expected there;
// an object holding another key is corrupt.
type Want func(objKey string) bool

// KeyIs wants exactly key.
func KeyIs(key string) Want { return func(k string) bool { return k == key } }

// AnyKey wants whatever key an object holds (a listing learns keys from
// the objects it reads).
func AnyKey(string) bool { return true }

// HashIs wants a key whose kv.KeyHash is h (anti-entropy knows objects by
// their name's hash, not their key).
func HashIs(h [16]byte) Want { return func(k string) bool { return kv.KeyHash(k) == h } }

// Decode turns a stored blob into a State. A stub is a found, empty state;
// an undecodable object or one whose key is not wanted is a found, corrupt,
// empty state keeping the blob's ETag, with the reason as the error (the
// State is usable either way).
func Decode(b kv.Blob, want Want) (State, error) {
	if kv.IsStub(b.Data) {
		return State{Found: true, ETag: b.ETag, Actor: b.Actor, Data: b.Data, Stub: true}, nil
	}
	obj, err := vclock.Decode(b.Data, vclock.DecodeLimits())
	if err == nil && !want(obj.Key) {
		err = fmt.Errorf("%w: object holds key %q", vclock.ErrCorrupt, obj.Key)
	}
	if err != nil {
		return State{Found: true, Corrupt: true, ETag: b.ETag}, err
	}
	return State{Obj: obj, Found: true, ETag: b.ETag, Actor: b.Actor, Data: b.Data}, nil
}

// ActorValid reports whether an object's recorded minting identity (its
// metadata, see kv.Minting) may keep minting on node n: its actor must be
// n's, of n's current incarnation.
func ActorValid(meta string, n kv.Node) bool {
	return kv.ValidMinter(kv.ParseMinting(meta).Actor, n.ID, n.Incarnation)
}

// IO is replica I/O over one store. The zero value is not usable: Store,
// Rand and Retries are required.
type IO struct {
	// Store holds the replicas; the caller's wrapper sets each request's
	// deadline and counts it.
	Store kv.ReplicaStore
	// Rand returns random 64-bit numbers for new actors' nonces.
	Rand func() uint64
	// Retries bounds the read-merge-write attempts of one MergeInto.
	Retries int
	// Guard, when set, runs before every write; its error is returned and
	// nothing is written (the coordinator's suspension guard).
	Guard func(ctx context.Context, n kv.Node, name string) error
	// OnCorrupt, when set, hears of every corrupt object read.
	OnCorrupt func(ctx context.Context, n kv.Node, name string, err error)
	// OnRetry, when set, hears of every write that lost its condition.
	OnRetry func()
}

// Read fetches and decodes the replica at name on node n, an object of key
// (want checks the key an object holds; key may be "" when only its hash is
// known). An absent object is an empty, not-found state; a corrupt one is
// reported to OnCorrupt and read as empty but found, keeping its ETag.
func (io IO) Read(ctx context.Context, n kv.Node, name string, want Want, key string) (State, error) {
	b, err := io.Store.Get(ctx, n.Location, name)
	if errors.Is(err, kv.ErrNotFound) {
		return State{Obj: vclock.Object{Key: key}}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read %s on %s: %w", name, n.ID, err)
	}
	st, err := Decode(b, want)
	if err != nil && io.OnCorrupt != nil {
		io.OnCorrupt(ctx, n, name, err)
	}
	if st.Corrupt || st.Stub {
		st.Obj = vclock.Object{Key: key}
	}
	return st, nil
}

// ReadHinted reads every hinted replica of key that node n holds as a
// fallback, for whichever intended primary (a fallback found at run time may
// not be the one an earlier write chose), skipping stubs, and merges them.
func (io IO) ReadHinted(ctx context.Context, n kv.Node, key string) (State, error) {
	items, _, err := io.Store.List(ctx, n.Location, kv.HintKeyPrefix(key), "", 100)
	if err != nil {
		return State{}, fmt.Errorf("list hints of %q on %s: %w", key, n.ID, err)
	}
	out := State{Obj: vclock.Object{Key: key}}
	for _, it := range items {
		st, err := io.Read(ctx, n, it.Name, KeyIs(key), key)
		if err != nil {
			return State{}, err
		}
		if st.Stub {
			continue // delivered: nothing to read, only a minting identity
		}
		out.Obj = vclock.MergeObjects(out.Obj, st.Obj)
		out.Found = out.Found || st.Found
	}
	return out, nil
}

// NewActor is the minting identity of a replica object created now on node
// n: the node, its incarnation and a random nonce, so an object that lost
// its state (node wiped, object deleted) never mints a dot it minted before.
func (io IO) NewActor(n kv.Node) string {
	return kv.ActorFor(n.ID, n.Incarnation, io.Rand())
}

// KeptActor is the metadata a write that mints nothing (a merge) gives an
// object: the state's own minting identity (a stub's too, with its floor),
// or a new actor for a new, corrupt or no longer valid object.
func (io IO) KeptActor(st State, n kv.Node) string {
	if !st.Found || st.Corrupt || !ActorValid(st.Actor, n) {
		return io.NewActor(n)
	}
	return st.Actor
}

// Write stores data at name on node n conditionally on the state it
// replaces: If-Match its ETag when found, create-only when not. A lost
// condition is kv.ErrPrecondition (or kv.ErrNotFound when the object was
// deleted meanwhile), wrapped.
func (io IO) Write(ctx context.Context, n kv.Node, name string, data []byte, actor string, st State) (string, error) {
	if io.Guard != nil {
		if err := io.Guard(ctx, n, name); err != nil {
			return "", err
		}
	}
	ifMatch := ""
	if st.Found {
		ifMatch = st.ETag
	}
	etag, err := io.Store.Put(ctx, n.Location, name, data, actor, ifMatch)
	if err != nil {
		return "", fmt.Errorf("write %s on %s: %w", name, n.ID, err)
	}
	return etag, nil
}

// LostRace reports whether a Write's error is a lost condition against the
// state st it assumed, after which the replica is read again and the write
// retried.
func LostRace(err error, st State) bool {
	return errors.Is(err, kv.ErrPrecondition) || (errors.Is(err, kv.ErrNotFound) && st.Found)
}

// Merged is the outcome of merging a version into one replica.
type Merged struct {
	// ETag is the replica's entity tag afterwards.
	ETag string
	// Actor is its minting identity afterwards.
	Actor string
	// Same: the replica now holds exactly the bytes that were sent (it held
	// nothing the version did not cover).
	Same bool
	// Wrote: a write was made (false when the replica already held it).
	Wrote bool
}

// MergeInto makes the replica at name on node n include obj (whose encoding
// is data): it merges obj with what the replica holds (syntactic
// reconciliation, never an overwrite, never a rejection), keeps the
// object's minting identity when it may mint on n (KeptActor), and writes
// conditionally, reading again and retrying after a lost race, up to
// Retries attempts. known, when not nil, is the replica's state already
// known (read, listed absent, or carried by a context): the first attempt
// then writes without reading. With lww the merge keeps only the newest
// version.
func (io IO) MergeInto(ctx context.Context, n kv.Node, name string, obj vclock.Object, data []byte, known *State, lww bool) (Merged, error) {
	for attempt := 0; attempt < io.Retries; attempt++ {
		var st State
		if attempt == 0 && known != nil {
			st = *known
		} else {
			var err error
			if st, err = io.Read(ctx, n, name, KeyIs(obj.Key), obj.Key); err != nil {
				return Merged{}, err
			}
		}
		m := obj
		if st.Found && !st.Corrupt && !st.Stub {
			m = vclock.MergeObjects(st.Obj, obj)
		}
		if lww {
			m = vclock.LastWriteWins(m)
		}
		mdata := data
		if !m.Equal(obj) {
			mdata = vclock.Encode(m)
		}
		if st.Found && !st.Corrupt && st.Data != nil && bytes.Equal(st.Data, mdata) {
			return Merged{ETag: st.ETag, Actor: st.Actor, Same: bytes.Equal(mdata, data)}, nil // already there
		}
		actor := io.KeptActor(st, n)
		etag, err := io.Write(ctx, n, name, mdata, actor, st)
		if LostRace(err, st) {
			if io.OnRetry != nil {
				io.OnRetry()
			}
			continue
		}
		if err != nil {
			return Merged{}, err
		}
		return Merged{ETag: etag, Actor: actor, Same: bytes.Equal(mdata, data), Wrote: true}, nil
	}
	return Merged{}, fmt.Errorf("merge into %s on %s: %w after %d attempts", name, n.ID, kv.ErrPrecondition, io.Retries)
}
