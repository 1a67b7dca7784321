package kv

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors that the API layer maps to client errors (4xx). Each is wrapped with
// detail; test with errors.Is.
var (
	// ErrBadKey: the key is empty, longer than Limits.MaxKeyBytes or not UTF-8 (400).
	ErrBadKey = errors.New("bad key")
	// ErrBadContext: the context is malformed, truncated or tampered with (400).
	ErrBadContext = errors.New("bad context")
	// ErrBadRequest: another invalid argument, such as r or w out of range (400).
	ErrBadRequest = errors.New("bad request")
	// ErrValueTooLarge: the value or content type exceeds its limit (413).
	ErrValueTooLarge = errors.New("value too large")
	// ErrTooManySiblings: the write would leave more than Limits.MaxSiblings
	// concurrent versions, or a replica object larger than Limits.MaxObjectBytes;
	// the client must resolve siblings first (409). Repairs are never rejected.
	ErrTooManySiblings = errors.New("too many siblings")
	// ErrQuorum: fewer replicas than required answered (503). See QuorumError.
	ErrQuorum = errors.New("quorum not reached")
)

// QuorumError says how many replicas answered and how many were needed.
type QuorumError struct {
	Op   string  // "get", "put" or "delete"
	Got  int     // distinct nodes that succeeded
	Need int     // R or W
	Errs []error // the replica failures seen, for logs
}

// Error implements error.
func (e *QuorumError) Error() string {
	msg := fmt.Sprintf("%s: %d of %d required replicas answered", e.Op, e.Got, e.Need)
	if len(e.Errs) > 0 {
		msg += ": " + errors.Join(e.Errs...).Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrQuorum) true.
func (e *QuorumError) Is(target error) bool { return target == ErrQuorum }

// Limits are the explicit bounds on what a client may store.
type Limits struct {
	// MaxKeyBytes is the longest key in bytes (UTF-8).
	MaxKeyBytes int
	// MaxValueBytes is the largest value.
	MaxValueBytes int
	// MaxContentTypeBytes is the longest content type.
	MaxContentTypeBytes int
	// MaxSiblings is the most versions (siblings, including tombstones) a put
	// may leave; a put past it is rejected with ErrTooManySiblings.
	MaxSiblings int
	// WarnSiblings is the sibling count above which a get logs a warning.
	WarnSiblings int
	// MaxObjectBytes bounds a replica object (all siblings) a put may create.
	MaxObjectBytes int
	// MaxContextBytes bounds the encoded context a client may send.
	MaxContextBytes int
}

// DefaultLimits returns the documented limits.
func DefaultLimits() Limits {
	return Limits{
		MaxKeyBytes:         1024,    // S3's own key limit; keys are hashed into object names
		MaxValueBytes:       1 << 20, // 1 MiB: fits a Lambda payload after base64
		MaxContentTypeBytes: 256,
		MaxSiblings:         100,     // Riak rejects above 100 ...
		WarnSiblings:        25,      // ... and warns above 25
		MaxObjectBytes:      4 << 20, // 4 MiB: a get of every sibling still fits Lambda's 6 MB response
		MaxContextBytes:     8192,
	}
}

// Validate reports the first invalid limit.
func (l Limits) Validate() error {
	switch {
	case l.MaxKeyBytes < 1 || l.MaxKeyBytes > 4096:
		return fmt.Errorf("limits: MaxKeyBytes=%d must be in [1, 4096]", l.MaxKeyBytes)
	case l.MaxValueBytes < 0 || l.MaxValueBytes > 64<<20:
		return fmt.Errorf("limits: MaxValueBytes=%d must be in [0, 64 MiB]", l.MaxValueBytes)
	case l.MaxSiblings < 1 || l.MaxSiblings > 4096:
		return fmt.Errorf("limits: MaxSiblings=%d must be in [1, 4096]", l.MaxSiblings)
	case l.MaxObjectBytes < l.MaxValueBytes:
		return fmt.Errorf("limits: MaxObjectBytes=%d must be >= MaxValueBytes=%d", l.MaxObjectBytes, l.MaxValueBytes)
	case l.MaxContextBytes < 256:
		return fmt.Errorf("limits: MaxContextBytes=%d must be >= 256", l.MaxContextBytes)
	case l.MaxContentTypeBytes < 1:
		return fmt.Errorf("limits: MaxContentTypeBytes=%d must be >= 1", l.MaxContentTypeBytes)
	}
	return nil
}

// CheckKey validates a user key against the limits.
func (l Limits) CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrBadKey)
	case len(key) > l.MaxKeyBytes:
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrBadKey, len(key), l.MaxKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: not valid UTF-8", ErrBadKey)
	}
	return nil
}

// CheckValue validates a value and its content type against the limits.
func (l Limits) CheckValue(value []byte, contentType string) error {
	if len(value) > l.MaxValueBytes {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrValueTooLarge, len(value), l.MaxValueBytes)
	}
	if len(contentType) > l.MaxContentTypeBytes {
		return fmt.Errorf("%w: content type of %d bytes exceeds %d", ErrValueTooLarge, len(contentType), l.MaxContentTypeBytes)
	}
	return nil
}

// KeyHash is the MD5 of a key: its 128-bit position on the ring (as in the paper).
func KeyHash(key string) [16]byte { return md5.Sum([]byte(key)) }

// DataPrefix is the name prefix of a node's own replica objects.
const DataPrefix = "data/"

// HintPrefix is the name prefix of replicas a node holds for other nodes.
const HintPrefix = "hints/"

// DataName is the object name of key's replica on its owner: "data/<md5 hex>".
// Names are hashes so any key fits S3's limits and a partition is a contiguous
// name range.
func DataName(key string) string {
	h := KeyHash(key)
	return DataPrefix + hex.EncodeToString(h[:])
}

// HintName is the object name of key's hinted replica held for node intended:
// "hints/<md5 hex>/<intended>". A fallback's hinted replicas of one key share
// the prefix HintKeyPrefix(key), so a read can find them all with one LIST
// whichever primary they stand in for.
func HintName(intended, key string) string {
	return HintKeyPrefix(key) + intended
}

// HintKeyPrefix is the name prefix of every hinted replica of key.
func HintKeyPrefix(key string) string {
	h := KeyHash(key)
	return HintPrefix + hex.EncodeToString(h[:]) + "/"
}

// ActorFor builds the actor id a replica object mints dots with: the node, its
// incarnation and a nonce chosen when the object was created. A node wiped and
// re-created (new incarnation) or an object deleted and re-created (new nonce)
// never reuses an old counter (Riak kv679). The form is
// "<node>.<incarnation>.<nonce base 36>".
func ActorFor(node string, incarnation uint64, nonce uint64) string {
	return node + "." + strconv.FormatUint(incarnation, 10) + "." + strconv.FormatUint(nonce, 36)
}

// ParseActor splits an actor id made by ActorFor.
func ParseActor(actor string) (node string, incarnation uint64, err error) {
	i := strings.LastIndexByte(actor, '.')
	if i < 0 {
		return "", 0, fmt.Errorf("actor %q: no nonce", actor)
	}
	j := strings.LastIndexByte(actor[:i], '.')
	if j < 0 {
		return "", 0, fmt.Errorf("actor %q: no incarnation", actor)
	}
	inc, err := strconv.ParseUint(actor[j+1:i], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("actor %q: incarnation: %w", actor, err)
	}
	return actor[:j], inc, nil
}

// ValidNodeID reports whether id is a valid node id: 1-64 chars of [A-Za-z0-9_-].
func ValidNodeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
