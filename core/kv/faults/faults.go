// Package faults wraps a kv.ReplicaStore with per-location fault injection
// (down, slow, a fraction of errors) and request counting, changeable at run
// time without redeploying. The admin API and the tests use it to take nodes
// down; production wiring includes it only when fault injection is enabled.
package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// ErrInjected is wrapped by every failure this package injects.
var ErrInjected = errors.New("injected fault")

// Mode is one node's fault setting (kv.FaultMode: it is also kept in the
// cluster description so every process applies the same faults).
type Mode = kv.FaultMode

// Counts is a number of requests per kind.
type Counts struct {
	Get    int64 `json:"get"`
	Put    int64 `json:"put"`
	List   int64 `json:"list"`
	Delete int64 `json:"delete"`
}

// Total sums all kinds.
func (c Counts) Total() int64 { return c.Get + c.Put + c.List + c.Delete }

// Store is a kv.ReplicaStore that injects faults per location and counts
// requests. Safe for concurrent use.
type Store struct {
	inner kv.ReplicaStore
	rand  func() float64
	sleep func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	modes    map[kv.Location]Mode
	counts   Counts
	injected int64
}

var _ kv.ReplicaStore = (*Store)(nil)

// New wraps inner. rand returns uniform numbers in [0, 1) for the "errors"
// mode; sleep waits for the "slow" mode (nil: kv.Sleep, a timer honouring ctx).
func New(inner kv.ReplicaStore, rand func() float64, sleep func(ctx context.Context, d time.Duration) error) *Store {
	if sleep == nil {
		sleep = kv.Sleep
	}
	return &Store{inner: inner, rand: rand, sleep: sleep, modes: map[kv.Location]Mode{}}
}

// Set sets the fault mode of a location (the zero Mode clears it).
func (s *Store) Set(loc kv.Location, m Mode) error {
	if err := m.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.Kind == "" {
		delete(s.modes, loc)
	} else {
		s.modes[loc] = m
	}
	return nil
}

// Mode returns the fault mode of a location.
func (s *Store) Mode(loc kv.Location) Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modes[loc]
}

// Modes returns every location with a fault set.
func (s *Store) Modes() map[kv.Location]Mode {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[kv.Location]Mode, len(s.modes))
	for k, v := range s.modes {
		out[k] = v
	}
	return out
}

// Replace sets exactly the given faults, clearing every other location's.
func (s *Store) Replace(modes map[kv.Location]Mode) error {
	next := make(map[kv.Location]Mode, len(modes))
	for loc, m := range modes {
		if err := m.Validate(); err != nil {
			return err
		}
		if m.Kind != "" {
			next[loc] = m
		}
	}
	s.mu.Lock()
	s.modes = next
	s.mu.Unlock()
	return nil
}

// ClearAll removes every fault.
func (s *Store) ClearAll() {
	s.mu.Lock()
	s.modes = map[kv.Location]Mode{}
	s.mu.Unlock()
}

// Counts returns the requests passed to (or failed before) the inner store.
func (s *Store) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// Injected returns how many requests were failed by injection.
func (s *Store) Injected() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.injected
}

// ResetCounts zeroes the counters.
func (s *Store) ResetCounts() {
	s.mu.Lock()
	s.counts = Counts{}
	s.injected = 0
	s.mu.Unlock()
}

func (s *Store) gate(ctx context.Context, op string, loc kv.Location, count *int64) error {
	s.mu.Lock()
	*count++
	m := s.modes[loc]
	fail := m.Kind == "down" || (m.Kind == "errors" && s.rand() < m.Rate)
	if fail {
		s.injected++
	}
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("%s %s%s: %w (%s)", op, loc.Bucket+"/", loc.Prefix, ErrInjected, m.Kind)
	}
	if m.Kind == "slow" && m.LatencyMs > 0 {
		if err := s.sleep(ctx, time.Duration(m.LatencyMs)*time.Millisecond); err != nil {
			return fmt.Errorf("%s %s%s: %w", op, loc.Bucket+"/", loc.Prefix, err)
		}
	}
	return nil
}

// Get implements kv.ReplicaStore.
func (s *Store) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	if err := s.gate(ctx, "get", loc, &s.counts.Get); err != nil {
		return kv.Blob{}, err
	}
	return s.inner.Get(ctx, loc, name)
}

// Put implements kv.ReplicaStore.
func (s *Store) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	if err := s.gate(ctx, "put", loc, &s.counts.Put); err != nil {
		return "", err
	}
	return s.inner.Put(ctx, loc, name, data, actor, ifMatch)
}

// Delete implements kv.ReplicaStore.
func (s *Store) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	if err := s.gate(ctx, "delete", loc, &s.counts.Delete); err != nil {
		return err
	}
	return s.inner.Delete(ctx, loc, name, ifMatch)
}

// List implements kv.ReplicaStore.
func (s *Store) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	if err := s.gate(ctx, "list", loc, &s.counts.List); err != nil {
		return nil, false, err
	}
	return s.inner.List(ctx, loc, prefix, startAfter, limit)
}

// Sorted returns the locations with faults, sorted, for stable listings.
func Sorted(m map[kv.Location]Mode) []kv.Location {
	out := make([]kv.Location, 0, len(m))
	for l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Endpoint != b.Endpoint {
			return a.Endpoint < b.Endpoint
		}
		if a.Bucket != b.Bucket {
			return a.Bucket < b.Bucket
		}
		return a.Prefix < b.Prefix
	})
	return out
}
