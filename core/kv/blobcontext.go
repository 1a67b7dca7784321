package kv

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// Typed contexts: the context of a convergent data type (core/crdt) is the
// state its holder read, signed like a client Context and bound to its key,
// but framed with its own magic so one kind never parses as the other:
//
//	"CT" 0x01
//	key id     uvarint: the ContextKey that signed it
//	body       the encoded state
//	tag        as in EncodeContext, over everything before it
//
// as base64url without padding.
const (
	blobMagic0, blobMagic1 = 'C', 'T'
	blobVersion            = 1
)

// EncodeBlobContext signs body as a typed context of key with the current
// context key. An empty body encodes as "".
func EncodeBlobContext(keys ContextKeys, key string, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	b := []byte{blobMagic0, blobMagic1, blobVersion}
	b = binary.AppendUvarint(b, uint64(keys.Current.ID))
	b = append(b, body...)
	b = append(b, contextTag(keys.Current.Secret, key, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeBlobContext verifies a token EncodeBlobContext made for key and
// returns its body; "" is the empty body. Tokens longer than maxBytes,
// altered, of another key or signed with a key no longer accepted fail with
// an error wrapping ErrBadContext.
func DecodeBlobContext(keys ContextKeys, key, token string, maxBytes int, now time.Time) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrBadContext, len(token), maxBytes)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url: %v", ErrBadContext, err)
	}
	if len(b) < 4+ctxTagBytes || b[0] != blobMagic0 || b[1] != blobMagic1 {
		return nil, fmt.Errorf("%w: not a data type's context", ErrBadContext)
	}
	if b[2] != blobVersion {
		return nil, fmt.Errorf("%w: unknown context version %d (read the key again)", ErrBadContext, b[2])
	}
	body, tag := b[:len(b)-ctxTagBytes], b[len(b)-ctxTagBytes:]
	id, k := binary.Uvarint(body[3:])
	if k <= 0 || id > 1<<32-1 {
		return nil, fmt.Errorf("%w: bad key id", ErrBadContext)
	}
	secret, ok := keys.secret(uint32(id), now)
	if !ok {
		return nil, fmt.Errorf("%w: signed with a context key that is no longer accepted (read the key again)", ErrBadContext)
	}
	if !hmac.Equal(tag, contextTag(secret, key, body)) {
		return nil, fmt.Errorf("%w: the signature does not match (altered, or the context of another key)", ErrBadContext)
	}
	return body[3+k:], nil
}
