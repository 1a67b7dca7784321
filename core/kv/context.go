package kv

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// Context is what a get hands the client and a put takes back: the causal
// history the client has seen (Clock) and, for the fast path, what each
// primary replica held when it was read (Seen). It travels as an opaque
// base64url string; clients must not interpret it.
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

const (
	ctxMagic0, ctxMagic1 = 'C', 'X'
	ctxVersion           = 1
	maxSeen              = 32
	maxSeenField         = 255
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeContext renders c as an opaque token: base64url (no padding) of a
// versioned binary form with a CRC-32C, so truncation and tampering are caught.
// The empty context encodes as "".
func EncodeContext(c Context) string {
	if len(c.Clock) == 0 && len(c.Seen) == 0 {
		return ""
	}
	b := []byte{ctxMagic0, ctxMagic1, ctxVersion}
	b = vclock.AppendClock(b, c.Clock)
	b = binary.AppendUvarint(b, uint64(len(c.Seen)))
	for _, s := range c.Seen {
		for _, f := range []string{s.Node, s.ETag, s.Actor} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeContext parses a token made by EncodeContext. "" is the empty context.
// Every failure wraps ErrBadContext.
func DecodeContext(token string, lim Limits) (Context, error) {
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
	if len(b) < 3+4 || b[0] != ctxMagic0 || b[1] != ctxMagic1 {
		return Context{}, fmt.Errorf("%w: not a Cartwheel context", ErrBadContext)
	}
	if b[2] != ctxVersion {
		return Context{}, fmt.Errorf("%w: unknown context version %d", ErrBadContext, b[2])
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return Context{}, fmt.Errorf("%w: checksum mismatch (truncated or altered)", ErrBadContext)
	}
	dl := vclock.DecodeLimits()
	dl.MaxEntries = 1024
	clock, rest, err := vclock.ReadClock(body[3:], dl)
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
	// Only the canonical token of c is accepted: base64 decoding ignores CR,
	// LF and the unused bits of the last character, Uvarint accepts
	// non-minimal forms, and the empty context is "" (not a framed body).
	if EncodeContext(c) != token {
		return Context{}, fmt.Errorf("%w: not in canonical form", ErrBadContext)
	}
	return c, nil
}
