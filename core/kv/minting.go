package kv

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// Minting is a replica object's minting identity, kept in its metadata
// (Blob.Actor) rather than in its bytes, so replicas that converge hold
// identical bytes.
//
// A plain object records only its Actor (see ActorFor). A hinted replica
// that was delivered leaves a stub at its name instead of disappearing (see
// StubData): no state at all, only metadata keeping the Actor and the
// highest counter that actor minted (Floor). The next hinted replica created
// at that name on the same node incarnation mints with the same actor after
// Floor, so a key written through fallbacks again and again keeps one actor
// per (fallback incarnation, intended node) instead of one per hinted
// replica ever created (issue 22, defect 4). Floor is not a causal clock: it
// covers no event, it only says which counters are taken.
type Minting struct {
	// Actor is the minting actor, "<node>.<incarnation>.<nonce>".
	Actor string
	// Floor is the highest counter Actor minted in an earlier object at
	// this name (0: none). The object may mint with Actor again only after
	// a clock that has seen every event of Actor up to Floor (NextMinting).
	Floor uint64
}

// mintSep separates an encoded Minting's actor from its floor; node ids,
// incarnations and base-36 nonces never contain it.
const mintSep = "~"

// String encodes m as object metadata: "<actor>", or "<actor>~<floor base
// 36>" when it has a floor. Every byte is printable ASCII (an S3 metadata
// value).
func (m Minting) String() string {
	if m.Floor == 0 {
		return m.Actor
	}
	return m.Actor + mintSep + strconv.FormatUint(m.Floor, 36)
}

// ParseMinting decodes object metadata written by Minting.String. Metadata
// of another form is taken as a bare actor (which then fails ValidMinter).
func ParseMinting(meta string) Minting {
	a, fs, ok := strings.Cut(meta, mintSep)
	if !ok {
		return Minting{Actor: meta}
	}
	floor, err := strconv.ParseUint(fs, 36, 64)
	if err != nil {
		return Minting{Actor: meta}
	}
	return Minting{Actor: a, Floor: floor}
}

// ValidMinter reports whether actor may keep minting on node id of
// incarnation inc: it must be that node's, of that incarnation (a node wiped
// and re-added has a new incarnation, so it never reuses an old counter).
func ValidMinter(actor, id string, inc uint64) bool {
	n, i, err := ParseActor(actor)
	return err == nil && n == id && i == inc
}

// NextMinting chooses the minting identity a replica object on node id
// (incarnation inc) writes its next version with. recorded is the object's
// metadata as read (zero when the object is new or unreadable); base is the
// clock the new version descends from: the object's clock merged with the
// writer's context. The recorded actor is kept when it is this node
// incarnation's and base has seen, without a gap, every event it minted
// before (Floor), so the next event, base's counter plus one, is past every
// counter the actor ever used. Otherwise a new actor is drawn from nonce: a
// version vector entry is downward closed, so minting Floor+1 beyond a gap
// would need the new version's clock either to claim events its writer never
// saw (losing them) or to carry the gap, one more single event per write,
// for the rest of the object's life.
func NextMinting(recorded Minting, base vclock.Clock, id string, inc uint64, nonce func() uint64) Minting {
	if recorded.Actor != "" && ValidMinter(recorded.Actor, id, inc) &&
		base.Counter(vclock.Actor(recorded.Actor)) >= recorded.Floor {
		return recorded
	}
	return Minting{Actor: ActorFor(id, inc, nonce())}
}

// StubOf returns the minting identity a delivered replica object's stub
// keeps: its actor, and the highest counter the actor minted (the top of its
// entry in the object's clock, or the recorded floor if higher).
func StubOf(recorded Minting, clock vclock.Clock) Minting {
	return Minting{Actor: recorded.Actor, Floor: max(recorded.Floor, clock.Top(vclock.Actor(recorded.Actor)))}
}

// stubMarker starts every stub's bytes; no vclock encoding starts with it.
const stubMarker = "cartwheel stub, left at minute "

// StubData is the body of a stub left at now (Unix milliseconds): a marker
// and the minute, and nothing of the key, so every stub left in the same
// minute has the same bytes, and on S3 the same ETag (StubETag): a listing
// tells a young stub from a hinted replica without reading it.
func StubData(now int64) []byte {
	return []byte(stubMarker + strconv.FormatInt(now/60_000, 10))
}

// IsStub reports whether data is a stub's body (StubData).
func IsStub(data []byte) bool { return strings.HasPrefix(string(data), stubMarker) }

// StubTime returns when the stub with body data was left (Unix
// milliseconds, the start of its minute); false if data is not a stub.
func StubTime(data []byte) (int64, bool) {
	rest, ok := strings.CutPrefix(string(data), stubMarker)
	if !ok {
		return 0, false
	}
	m, err := strconv.ParseInt(rest, 10, 64)
	return m * 60_000, err == nil
}

// YoungStubETags returns the S3 entity tags (quoted hex MD5) of stubs
// certainly left between since and now (Unix milliseconds): one per minute
// that starts at or after since, at most 24 hours' worth. Stores whose ETags are not MD5s (S3 Express) never match:
// their stubs are read to be recognized.
func YoungStubETags(since, now int64) map[string]bool {
	out := map[string]bool{}
	for m := max((since+59_999)/60_000, now/60_000-24*60); m <= now/60_000; m++ {
		sum := md5.Sum(StubData(m * 60_000))
		out[`"`+hex.EncodeToString(sum[:])+`"`] = true
	}
	return out
}
