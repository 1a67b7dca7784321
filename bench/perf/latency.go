package perf

import (
	"context"
	"hash/fnv"
	"math"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// latencyStore is the lognormal endpoint's store: every request to a replica
// waits for a latency drawn from the simulator's S3-like lognormal
// distributions (GET and LIST from the GET one, PUT and DELETE from the PUT
// one), independently per replica (one seeded generator per location), then
// runs on the in-memory store below. In slow mode one location's latencies
// are multiplied by slowFactor, and every request stalls with probability
// stallProb for a uniform [stallMin, stallMax) more (S3 503 SlowDown retried,
// a network blip).
type latencyStore struct {
	inner kv.ReplicaStore
	seed  uint64

	getMu, getSigma float64
	putMu, putSigma float64

	on   atomic.Bool // off while loading: no latency at all
	slow atomic.Bool // the slow-replica mode

	slowLoc            kv.Location
	slowFactor         float64
	stallProb          float64
	stallMin, stallMax time.Duration

	mu   sync.Mutex
	rngs map[kv.Location]*mrand.Rand
}

// delay waits for one request's drawn latency (or ctx's end).
func (s *latencyStore) delay(ctx context.Context, loc kv.Location, put bool) error {
	if !s.on.Load() {
		return nil
	}
	mu, sigma := s.getMu, s.getSigma
	if put {
		mu, sigma = s.putMu, s.putSigma
	}
	slow := s.slow.Load()
	s.mu.Lock()
	r := s.rngs[loc]
	if r == nil {
		h := fnv.New64a()
		_, _ = h.Write([]byte(loc.Endpoint + "|" + loc.Bucket + "|" + loc.Prefix))
		r = mrand.New(mrand.NewPCG(s.seed, h.Sum64()))
		s.rngs[loc] = r
	}
	ms := math.Exp(mu + sigma*r.NormFloat64())
	var stall time.Duration
	if slow {
		if loc == s.slowLoc {
			ms *= s.slowFactor
		}
		if s.stallProb > 0 && r.Float64() < s.stallProb {
			stall = s.stallMin + time.Duration(r.Float64()*float64(s.stallMax-s.stallMin))
		}
	}
	s.mu.Unlock()
	return kv.Sleep(ctx, time.Duration(ms*float64(time.Millisecond))+stall)
}

func (s *latencyStore) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	if err := s.delay(ctx, loc, false); err != nil {
		return kv.Blob{}, err
	}
	return s.inner.Get(ctx, loc, name)
}

func (s *latencyStore) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	if err := s.delay(ctx, loc, true); err != nil {
		return "", err
	}
	return s.inner.Put(ctx, loc, name, data, actor, ifMatch)
}

func (s *latencyStore) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	if err := s.delay(ctx, loc, true); err != nil {
		return err
	}
	return s.inner.Delete(ctx, loc, name, ifMatch)
}

func (s *latencyStore) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	if err := s.delay(ctx, loc, false); err != nil {
		return nil, false, err
	}
	return s.inner.List(ctx, loc, prefix, startAfter, limit)
}
