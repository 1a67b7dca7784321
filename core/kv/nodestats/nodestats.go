// Package nodestats counts each storage node's replica requests as the
// process that makes them sees them: requests, failures and latency
// percentiles per location. It wraps a kv.ReplicaStore (above fault
// injection, so injected failures count), takes its clock as an argument, and
// does no I/O of its own. The admin API shows the counts per node, so an
// operator can tell which node is failing or slow.
package nodestats

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Window is the number of recent latencies kept per node for percentiles.
const Window = 512

// Stats are one node's counts since the process started, and the
// percentiles of its last Window requests.
type Stats struct {
	// Requests counts replica requests (GET, PUT, DELETE, LIST).
	Requests int64 `json:"requests"`
	// Errors counts the requests that failed: not an absent object nor a
	// lost condition (which are answers), nor a request its caller cancelled.
	Errors int64 `json:"errors"`
	// P50Ms and P99Ms are latency percentiles, in milliseconds (0: none yet).
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

type node struct {
	requests, errors int64
	lat              []time.Duration
	next             int
}

// Store is a kv.ReplicaStore that counts requests per location. It is safe
// for concurrent use.
type Store struct {
	inner kv.ReplicaStore
	now   func() time.Time
	mu    sync.Mutex
	nodes map[kv.Location]*node
}

// New returns a Store over inner that times requests with now.
func New(inner kv.ReplicaStore, now func() time.Time) *Store {
	return &Store{inner: inner, now: now, nodes: map[kv.Location]*node{}}
}

// Failed reports whether err counts as a failed request.
func Failed(err error) bool {
	return err != nil && !errors.Is(err, kv.ErrNotFound) && !errors.Is(err, kv.ErrPrecondition) && !errors.Is(err, context.Canceled)
}

func (s *Store) record(loc kv.Location, start time.Time, err error) {
	d := s.now().Sub(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[loc]
	if n == nil {
		n = &node{}
		s.nodes[loc] = n
	}
	n.requests++
	if Failed(err) {
		n.errors++
	}
	if len(n.lat) < Window {
		n.lat = append(n.lat, d)
		return
	}
	n.lat[n.next] = d
	n.next = (n.next + 1) % Window
}

// Snapshot returns the stats of every location requested so far.
func (s *Store) Snapshot() map[kv.Location]Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[kv.Location]Stats, len(s.nodes))
	for loc, n := range s.nodes {
		st := Stats{Requests: n.requests, Errors: n.errors}
		if len(n.lat) > 0 {
			lat := slices.Clone(n.lat)
			slices.Sort(lat)
			at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			st.P50Ms, st.P99Ms = at(0.50), at(0.99)
		}
		out[loc] = st
	}
	return out
}

// Get implements kv.ReplicaStore.
func (s *Store) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	start := s.now()
	b, err := s.inner.Get(ctx, loc, name)
	s.record(loc, start, err)
	return b, err
}

// Put implements kv.ReplicaStore.
func (s *Store) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	start := s.now()
	etag, err := s.inner.Put(ctx, loc, name, data, actor, ifMatch)
	s.record(loc, start, err)
	return etag, err
}

// Delete implements kv.ReplicaStore.
func (s *Store) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	start := s.now()
	err := s.inner.Delete(ctx, loc, name, ifMatch)
	s.record(loc, start, err)
	return err
}

// List implements kv.ReplicaStore.
func (s *Store) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	start := s.now()
	l, more, err := s.inner.List(ctx, loc, prefix, startAfter, limit)
	s.record(loc, start, err)
	return l, more, err
}
