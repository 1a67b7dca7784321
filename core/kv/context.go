package kv

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// Context is what a get hands the client and a put takes back: the causal
// history the client has seen (Clock) and, for the fast path, what each
// primary replica held when it was read (Seen). It travels as an opaque
// base64url string, bound to one key and authenticated with the cluster's
// context key (see EncodeContext); clients must not interpret it.
//
// The contract: a put with a context supersedes exactly the versions the
// context covers. A get's context covers the versions it returned (and the
// history behind them); a put's context covers the request's context plus the
// put's own new version, never a version the client was not shown.
type Context struct {
	// Clock covers every version the client saw.
	Clock vclock.Clock
	// Seen lists replicas whose object was exactly covered by Clock when read.
	Seen []Seen
}

// Seen records one replica object as read: a put can overwrite it with a single
// conditional PUT (If-Match ETag) instead of a GET first.
type Seen struct {
	Node  string
	ETag  string
	Actor string // the object's minting identity, to keep it on overwrite
}

// SeenFor returns the Seen entry of node, if any.
func (c Context) SeenFor(node string) (Seen, bool) {
	for _, s := range c.Seen {
		if s.Node == node {
			return s, true
		}
	}
	return Seen{}, false
}

// ContextKey is one secret that authenticates client contexts.
type ContextKey struct {
	// ID names the key inside each token, so a token says which key signed it.
	ID uint32 `json:"id"`
	// Secret is the HMAC-SHA256 key: at least MinContextSecret random bytes.
	Secret []byte `json:"secret"`
	// Created is when the key was made (Unix ms).
	Created int64 `json:"created"`
	// Retired is when a rotation replaced it (Unix ms), for the keys in
	// ContextKeys.Older; 0 otherwise.
	Retired int64 `json:"retired,omitempty"`
}

// ContextKeys are a cluster's context keys, kept in the membership record
// (never in the repository, never shown by the API). Current signs every new
// context; Previous, after a rotation, is still accepted for
// ContextKeyGrace after Current was created; Older are the keys retired
// before Previous, each still accepted for ContextKeyGrace after its Retired
// time, so rotations in quick succession never cut a key's grace short.
type ContextKeys struct {
	Current  ContextKey   `json:"current"`
	Previous *ContextKey  `json:"previous,omitempty"`
	Older    []ContextKey `json:"older,omitempty"`
}

// MaxOlderContextKeys bounds ContextKeys.Older: more rotations than this
// within ContextKeyGrace are refused (Validate) rather than cutting an older
// key's grace short.
const MaxOlderContextKeys = 30

// MinContextSecret is the shortest context secret accepted (256 bits).
const MinContextSecret = 32

// ContextKeyGrace is how long after a rotation contexts signed with the
// previous key are still accepted. A client holding an older context gets
// 400 bad_context and must read the key again.
const ContextKeyGrace = 24 * time.Hour

// NewContextSecret returns MinContextSecret bytes from crypto/rand, for a new
// context key.
func NewContextSecret() []byte {
	b := make([]byte, MinContextSecret)
	rand.Read(b) // never fails (Go 1.24+: it crashes the program instead)
	return b
}

// NewContextKeys returns the first keys of a cluster, made at bootstrap from
// secret (random bytes from the caller).
func NewContextKeys(secret []byte, now time.Time) ContextKeys {
	return ContextKeys{Current: ContextKey{ID: 1, Secret: secret, Created: now.UnixMilli()}}
}

// Rotate returns k with a new current key made from secret; the old current
// key becomes the previous one, accepted for ContextKeyGrace, and the old
// previous key joins Older, accepted until ContextKeyGrace after it was
// retired. Keys whose grace is over at now are dropped.
func (k ContextKeys) Rotate(secret []byte, now time.Time) ContextKeys {
	prev := k.Current
	var older []ContextKey
	if p := k.Previous; p != nil {
		o := *p
		if o.Retired == 0 {
			o.Retired = k.Current.Created
		}
		older = append(older, o)
	}
	older = append(older, k.Older...)
	kept := older[:0]
	for _, o := range older {
		if now.Before(time.UnixMilli(o.Retired).Add(ContextKeyGrace)) {
			kept = append(kept, o)
		}
	}
	return ContextKeys{Current: ContextKey{ID: prev.ID + 1, Secret: secret, Created: now.UnixMilli()}, Previous: &prev,
		Older: slices.Clip(kept)}
}

// Validate checks that the keys can sign and verify.
func (k ContextKeys) Validate() error {
	if len(k.Current.Secret) < MinContextSecret {
		return fmt.Errorf("context keys: the current secret has %d bytes, need >= %d", len(k.Current.Secret), MinContextSecret)
	}
	if k.Previous != nil && (len(k.Previous.Secret) < MinContextSecret || k.Previous.ID == k.Current.ID) {
		return fmt.Errorf("context keys: the previous key is invalid")
	}
	if len(k.Older) > MaxOlderContextKeys {
		return fmt.Errorf("context keys: %d older keys are still within their grace period (at most %d): "+
			"wait before rotating again", len(k.Older), MaxOlderContextKeys)
	}
	for _, o := range k.Older {
		if len(o.Secret) < MinContextSecret || o.ID == k.Current.ID || o.Retired == 0 {
			return fmt.Errorf("context keys: older key %d is invalid", o.ID)
		}
	}
	return nil
}

// secret returns the secret of key id if it may verify a token at now.
func (k ContextKeys) secret(id uint32, now time.Time) ([]byte, bool) {
	if id == k.Current.ID && len(k.Current.Secret) > 0 {
		return k.Current.Secret, true
	}
	if p := k.Previous; p != nil && id == p.ID && now.Before(time.UnixMilli(k.Current.Created).Add(ContextKeyGrace)) {
		return p.Secret, true
	}
	for _, o := range k.Older {
		if id == o.ID && now.Before(time.UnixMilli(o.Retired).Add(ContextKeyGrace)) {
			return o.Secret, true
		}
	}
	return nil, false
}

// Token format version 2 (version 1, with a CRC instead of a MAC, is no
// longer accepted):
//
//	"CX" 0x02
//	key id     uvarint: the ContextKey that signed it
//	clock      vclock.AppendClock
//	seen       uvarint count (<= 32), then node, etag, actor (uvarint length, bytes <= 255 each)
//	tag        the first 16 bytes of HMAC-SHA256(secret, "cartwheel context\x00" key "\x00" everything before the tag)
//
// all as base64url without padding. The tag binds the token to its key: a
// context of another key, or one altered in any way, fails to verify.
const (
	ctxMagic0, ctxMagic1 = 'C', 'X'
	ctxVersion           = 2
	ctxTagBytes          = 16 // 128 bits
	maxSeen              = 32
	maxSeenField         = 255
)

// contextTag is the MAC of a token body for key.
func contextTag(secret []byte, key string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("cartwheel context\x00"))
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:ctxTagBytes]
}

// EncodeContext renders c as the opaque token of key, signed with the current
// context key. The empty context encodes as "".
func EncodeContext(keys ContextKeys, key string, c Context) string {
	if len(c.Clock) == 0 && len(c.Seen) == 0 {
		return ""
	}
	b := []byte{ctxMagic0, ctxMagic1, ctxVersion}
	b = binary.AppendUvarint(b, uint64(keys.Current.ID))
	b = vclock.AppendClock(b, c.Clock)
	b = binary.AppendUvarint(b, uint64(len(c.Seen)))
	for _, s := range c.Seen {
		for _, f := range []string{s.Node, s.ETag, s.Actor} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	b = append(b, contextTag(keys.Current.Secret, key, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeContext verifies and parses a token that EncodeContext made for key.
// "" is the empty context. A token signed with a key the cluster no longer
// accepts at now, made for another key, altered, truncated or not canonical
// is rejected with an error wrapping ErrBadContext.
func DecodeContext(keys ContextKeys, key, token string, lim Limits, now time.Time) (Context, error) {
	if token == "" {
		return Context{}, nil
	}
	if len(token) > lim.MaxContextBytes {
		return Context{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrBadContext, len(token), lim.MaxContextBytes)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return Context{}, fmt.Errorf("%w: not base64url: %v", ErrBadContext, err)
	}
	if len(b) < 4+ctxTagBytes || b[0] != ctxMagic0 || b[1] != ctxMagic1 {
		return Context{}, fmt.Errorf("%w: not a Cartwheel context", ErrBadContext)
	}
	if b[2] != ctxVersion {
		return Context{}, fmt.Errorf("%w: unknown context version %d (read the key again)", ErrBadContext, b[2])
	}
	body, tag := b[:len(b)-ctxTagBytes], b[len(b)-ctxTagBytes:]
	id, k := binary.Uvarint(body[3:])
	if k <= 0 || id > 1<<32-1 {
		return Context{}, fmt.Errorf("%w: bad key id", ErrBadContext)
	}
	secret, ok := keys.secret(uint32(id), now)
	if !ok {
		return Context{}, fmt.Errorf("%w: signed with a context key that is no longer accepted (read the key again)", ErrBadContext)
	}
	if !hmac.Equal(tag, contextTag(secret, key, body)) {
		return Context{}, fmt.Errorf("%w: the signature does not match (altered, or the context of another key)", ErrBadContext)
	}
	c, err := parseContextBody(body[3+k:])
	if err != nil {
		return Context{}, err
	}
	// Only the canonical token is accepted: base64 decoding ignores CR, LF
	// and the unused bits of the last character, Uvarint accepts non-minimal
	// forms, and the empty context is "" (not a framed body). A previous
	// key's token is compared with its own framing.
	canon := keys
	canon.Current.ID, canon.Current.Secret = uint32(id), secret
	if EncodeContext(canon, key, c) != token {
		return Context{}, fmt.Errorf("%w: not in canonical form", ErrBadContext)
	}
	return c, nil
}

// parseContextBody parses the clock and seen list of a verified token.
func parseContextBody(b []byte) (Context, error) {
	dl := vclock.DecodeLimits()
	dl.MaxEntries = 1024
	clock, rest, err := vclock.ReadClock(b, dl)
	if err != nil {
		return Context{}, fmt.Errorf("%w: %v", ErrBadContext, err)
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > maxSeen {
		return Context{}, fmt.Errorf("%w: bad replica list", ErrBadContext)
	}
	rest = rest[k:]
	c := Context{Clock: clock}
	for i := uint64(0); i < n; i++ {
		var f [3]string
		for j := range f {
			l, k := binary.Uvarint(rest)
			if k <= 0 || l > maxSeenField || l > uint64(len(rest)-k) {
				return Context{}, fmt.Errorf("%w: truncated replica list", ErrBadContext)
			}
			f[j] = string(rest[k : k+int(l)])
			rest = rest[k+int(l):]
		}
		c.Seen = append(c.Seen, Seen{Node: f[0], ETag: f[1], Actor: f[2]})
	}
	if len(rest) != 0 {
		return Context{}, fmt.Errorf("%w: trailing bytes", ErrBadContext)
	}
	return c, nil
}
