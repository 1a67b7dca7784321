// Package kvmem holds in-memory implementations of the kv ports
// (ReplicaStore, HintQueue, Membership) with the same semantics as the AWS
// adapters, for fast unit tests of the coordinator and the repair jobs. It adds
// fault hooks: locations, queues and tables can be set down, a hook can fail or
// delay any replica operation, and replica requests are counted by kind.
//
// Everything here is safe for concurrent use. It uses only the standard library.
package kvmem

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/cartwheel/cartwheel/core/kv"
)

// ErrDown is the error (wrapped) returned by every call to something set down
// with SetDown.
var ErrDown = errors.New("kvmem: down")

// Op names a ReplicaStore operation, for counting and hooks.
type Op string

// The ReplicaStore operations, named like the HTTP requests S3 would receive.
const (
	OpGet    Op = "GET"
	OpPut    Op = "PUT"
	OpList   Op = "LIST"
	OpDelete Op = "DELETE"
)

// Counts is a number of requests per kind.
type Counts struct {
	Get, Put, List, Delete int
}

// Total is the sum of all kinds.
func (c Counts) Total() int { return c.Get + c.Put + c.List + c.Delete }

func (c *Counts) add(op Op) {
	switch op {
	case OpGet:
		c.Get++
	case OpPut:
		c.Put++
	case OpList:
		c.List++
	case OpDelete:
		c.Delete++
	}
}

// Hook is called before every ReplicaStore operation, outside the store's lock,
// after the request is counted and the down check passed. A non-nil error fails
// the operation with that error; a hook may also block (e.g. until ctx is done)
// to simulate a slow node.
type Hook func(ctx context.Context, op Op, loc kv.Location, name string) error

// listMax is the most entries one List returns, as on S3.
const listMax = 1000

type bucketKey struct{ endpoint, bucket string }

type object struct {
	data  []byte
	etag  string
	actor string
}

// Store is an in-memory kv.ReplicaStore. Objects live in buckets keyed by
// (Location.Endpoint, Location.Bucket) under the key Prefix+name, so locations
// that share a bucket and overlapping prefixes see each other's objects, as on
// S3. Endpoints are compared literally ("" is just another endpoint), and
// buckets spring into existence on first use. The zero value is not usable;
// call NewStore.
type Store struct {
	mu      sync.Mutex
	buckets map[bucketKey]map[string]object
	down    map[kv.Location]bool
	counts  map[kv.Location]*Counts
	hook    Hook
	unique  bool   // UniqueETags
	writes  uint64 // numbers unique entity tags
}

// UniqueETags makes every later write get a fresh entity tag unrelated to its
// bytes, as S3 Express One Zone directory buckets give (random strings, not
// MD5s): replicas holding the same bytes then have different ETags.
func (s *Store) UniqueETags() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unique = true
}

var _ kv.ReplicaStore = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		buckets: make(map[bucketKey]map[string]object),
		down:    make(map[kv.Location]bool),
		counts:  make(map[kv.Location]*Counts),
	}
}

// SetDown makes every call to a location covered by loc fail with an error
// wrapping ErrDown (down == true), or lifts that (down == false). loc covers
// the locations with the same Endpoint and Bucket whose Prefix starts with
// loc.Prefix: Location{Bucket: "b"} takes down the whole bucket. Downed calls
// are still counted.
func (s *Store) SetDown(loc kv.Location, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if down {
		s.down[loc] = true
	} else {
		delete(s.down, loc)
	}
}

// SetHook installs h (nil removes it); see Hook.
func (s *Store) SetHook(h Hook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// Counts returns the requests made to exactly loc (failed ones included) since
// the store was made or ResetCounts was called.
func (s *Store) Counts(loc kv.Location) Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.counts[loc]; c != nil {
		return *c
	}
	return Counts{}
}

// TotalCounts returns the requests made to all locations.
func (s *Store) TotalCounts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t Counts
	for _, c := range s.counts {
		t.Get += c.Get
		t.Put += c.Put
		t.List += c.List
		t.Delete += c.Delete
	}
	return t
}

// ResetCounts sets all request counts to zero.
func (s *Store) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = make(map[kv.Location]*Counts)
}

// begin counts the request, then checks the context, the down set and the
// hook. It returns the error the operation must fail with, if any.
func (s *Store) begin(ctx context.Context, op Op, loc kv.Location, name string) error {
	s.mu.Lock()
	c := s.counts[loc]
	if c == nil {
		c = new(Counts)
		s.counts[loc] = c
	}
	c.add(op)
	down := false
	for d := range s.down {
		if d.Endpoint == loc.Endpoint && d.Bucket == loc.Bucket && strings.HasPrefix(loc.Prefix, d.Prefix) {
			down = true
			break
		}
	}
	hook := s.hook
	s.mu.Unlock()

	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kvmem %s %s%s: %w", op, loc.Prefix, name, err)
	}
	if down {
		return fmt.Errorf("kvmem %s %s/%s%s: %w", op, loc.Bucket, loc.Prefix, name, ErrDown)
	}
	if loc.Bucket == "" {
		return fmt.Errorf("kvmem %s %s%s: empty bucket", op, loc.Prefix, name)
	}
	if op != OpList && loc.Prefix+name == "" {
		return fmt.Errorf("kvmem %s: empty object key", op)
	}
	if hook != nil {
		if err := hook(ctx, op, loc, name); err != nil {
			return err
		}
	}
	return nil
}

// bucket returns the bucket's objects, creating the bucket; s.mu must be held.
func (s *Store) bucket(loc kv.Location) map[string]object {
	k := bucketKey{loc.Endpoint, loc.Bucket}
	b := s.buckets[k]
	if b == nil {
		b = make(map[string]object)
		s.buckets[k] = b
	}
	return b
}

// ETag returns the entity tag S3 gives a single-part object holding data: its
// hex MD5 in double quotes.
func ETag(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// sameETag compares entity tags ignoring the surrounding quotes, as S3 does.
func sameETag(a, b string) bool {
	return strings.Trim(a, `"`) == strings.Trim(b, `"`)
}

// Get implements kv.ReplicaStore. The returned Data is a copy.
func (s *Store) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	if err := s.begin(ctx, OpGet, loc, name); err != nil {
		return kv.Blob{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.bucket(loc)[loc.Prefix+name]
	if !ok {
		return kv.Blob{}, fmt.Errorf("kvmem get %s%s: %w", loc.Prefix, name, kv.ErrNotFound)
	}
	return kv.Blob{Data: clone(o.data), ETag: o.etag, Actor: o.actor}, nil
}

// Put implements kv.ReplicaStore: create-only when ifMatch == "", else
// compare-and-swap on the ETag (a missing object fails the condition). The
// returned ETag is ETag(data) (a fresh one after UniqueETags).
func (s *Store) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	if err := s.begin(ctx, OpPut, loc, name); err != nil {
		return "", err
	}
	if err := kv.CheckWrite(ctx); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := kv.CheckWrite(ctx); err != nil { // again where the write takes effect
		return "", err
	}
	b := s.bucket(loc)
	key := loc.Prefix + name
	cur, exists := b[key]
	switch {
	case ifMatch == "" && exists:
		return "", fmt.Errorf("kvmem put %s: object exists: %w", key, kv.ErrPrecondition)
	case ifMatch != "" && !exists:
		return "", fmt.Errorf("kvmem put %s: no object to match %s: %w", key, ifMatch, kv.ErrPrecondition)
	case ifMatch != "" && !sameETag(cur.etag, ifMatch):
		return "", fmt.Errorf("kvmem put %s: etag %s is not %s: %w", key, cur.etag, ifMatch, kv.ErrPrecondition)
	}
	o := object{data: clone(data), etag: ETag(data), actor: actor}
	if s.unique {
		s.writes++
		o.etag = fmt.Sprintf(`"express-%016x"`, s.writes)
	}
	b[key] = o
	return o.etag, nil
}

// Delete implements kv.ReplicaStore; the If-Match check is enforced.
func (s *Store) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	if err := s.begin(ctx, OpDelete, loc, name); err != nil {
		return err
	}
	if err := kv.CheckWrite(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := kv.CheckWrite(ctx); err != nil { // again where the write takes effect
		return err
	}
	b := s.bucket(loc)
	key := loc.Prefix + name
	cur, exists := b[key]
	if !exists {
		return nil
	}
	if ifMatch != "" && !sameETag(cur.etag, ifMatch) {
		return fmt.Errorf("kvmem delete %s: etag %s is not %s: %w", key, cur.etag, ifMatch, kv.ErrPrecondition)
	}
	delete(b, key)
	return nil
}

// List implements kv.ReplicaStore. A limit below 1 or above 1000 means 1000,
// as on S3.
func (s *Store) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	if err := s.begin(ctx, OpList, loc, prefix); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > listMax {
		limit = listMax
	}
	full := loc.Prefix + prefix
	after := ""
	if startAfter != "" {
		after = loc.Prefix + startAfter
	}
	s.mu.Lock()
	var keys []string
	b := s.bucket(loc)
	for k := range b {
		if strings.HasPrefix(k, full) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	out := make([]kv.Listed, len(keys))
	for i, k := range keys {
		out[i] = kv.Listed{Name: strings.TrimPrefix(k, loc.Prefix), ETag: b[k].etag}
	}
	s.mu.Unlock()
	return out, more, nil
}

func clone(b []byte) []byte {
	return append([]byte{}, b...)
}
