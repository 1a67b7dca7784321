package faults_test

import (
	"context"
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

var (
	locA = kv.Location{Bucket: "b", Prefix: "a/"}
	locB = kv.Location{Bucket: "b", Prefix: "b/"}
)

// sleeper records the delays the "slow" mode asks for instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	slept []time.Duration
	err   error
}

func (s *sleeper) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slept = append(s.slept, d)
	return s.err
}

func (s *sleeper) calls() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.slept...)
}

func never() float64 { return 1 } // never below any rate in [0, 1)

// op runs one request of the given kind against s.
func op(ctx context.Context, s kv.ReplicaStore, kind string, loc kv.Location) error {
	switch kind {
	case "get":
		_, err := s.Get(ctx, loc, "data/k")
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		return err
	case "put":
		_, err := s.Put(ctx, loc, "data/p", []byte("v"), "actor", "")
		if errors.Is(err, kv.ErrPrecondition) {
			return nil
		}
		return err
	case "delete":
		return s.Delete(ctx, loc, "data/k", "")
	case "list":
		_, _, err := s.List(ctx, loc, "data/", "", 10)
		return err
	}
	panic(kind)
}

var kinds = []string{"get", "put", "delete", "list"}

func TestModeValidate(t *testing.T) {
	for _, tc := range []struct {
		m  faults.Mode
		ok bool
	}{
		{faults.Mode{}, true},
		{faults.Mode{Kind: "down"}, true},
		{faults.Mode{Kind: "slow", LatencyMs: 0}, true},
		{faults.Mode{Kind: "slow", LatencyMs: 60_000}, true},
		{faults.Mode{Kind: "slow", LatencyMs: 60_001}, false},
		{faults.Mode{Kind: "slow", LatencyMs: -1}, false},
		{faults.Mode{Kind: "errors", Rate: 0}, true},
		{faults.Mode{Kind: "errors", Rate: 1}, true},
		{faults.Mode{Kind: "errors", Rate: 0.25}, true},
		{faults.Mode{Kind: "errors", Rate: -0.01}, false},
		{faults.Mode{Kind: "errors", Rate: 1.01}, false},
		{faults.Mode{Kind: "errors", Rate: math.NaN()}, false},
		{faults.Mode{Kind: "errors", Rate: math.Inf(1)}, false},
		{faults.Mode{Kind: "flaky"}, false},
		{faults.Mode{Kind: "DOWN"}, false},
	} {
		if err := tc.m.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.m, err, tc.ok)
		}
	}
}

func TestSetModesClear(t *testing.T) {
	s := faults.New(kvmem.NewStore(), never, nil)
	if err := s.Set(locA, faults.Mode{Kind: "bogus"}); err == nil {
		t.Fatal("Set accepted an invalid mode")
	}
	if m := s.Mode(locA); m != (faults.Mode{}) {
		t.Fatalf("a rejected Set changed the mode to %+v", m)
	}
	down := faults.Mode{Kind: "down"}
	slow := faults.Mode{Kind: "slow", LatencyMs: 5}
	for loc, m := range map[kv.Location]faults.Mode{locA: down, locB: slow} {
		if err := s.Set(loc, m); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Mode(locA); got != down {
		t.Fatalf("Mode(a) = %+v", got)
	}
	modes := s.Modes()
	if !reflect.DeepEqual(modes, map[kv.Location]faults.Mode{locA: down, locB: slow}) {
		t.Fatalf("Modes = %+v", modes)
	}
	modes[locA] = faults.Mode{} // a copy: changing it changes nothing
	if got := s.Mode(locA); got != down {
		t.Fatal("Modes returned the live map")
	}
	if err := s.Set(locA, faults.Mode{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Modes()[locA]; ok {
		t.Fatal("setting the zero mode did not clear the location")
	}
	s.ClearAll()
	if len(s.Modes()) != 0 || s.Mode(locB) != (faults.Mode{}) {
		t.Fatalf("ClearAll left %+v", s.Modes())
	}
}

func TestHealthyPassesThrough(t *testing.T) {
	ctx := context.Background()
	inner := kvmem.NewStore()
	s := faults.New(inner, never, nil)
	etag, err := s.Put(ctx, locA, "data/k", []byte("v"), "n1.1.a", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Get(ctx, locA, "data/k")
	if err != nil || string(b.Data) != "v" || b.ETag != etag || b.Actor != "n1.1.a" {
		t.Fatalf("Get = %+v, %v", b, err)
	}
	items, more, err := s.List(ctx, locA, "data/", "", 10)
	if err != nil || more || len(items) != 1 || items[0].Name != "data/k" {
		t.Fatalf("List = %+v, %v, %v", items, more, err)
	}
	if err := s.Delete(ctx, locA, "data/k", etag); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, locA, "data/k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want the inner ErrNotFound", err)
	}
	want := faults.Counts{Get: 2, Put: 1, List: 1, Delete: 1}
	if got := s.Counts(); got != want || got.Total() != 5 {
		t.Fatalf("Counts = %+v (total %d), want %+v", got, got.Total(), want)
	}
	if s.Injected() != 0 {
		t.Fatalf("Injected = %d on a healthy store", s.Injected())
	}
	if got := inner.TotalCounts(); got.Total() != 5 {
		t.Fatalf("inner store saw %+v, want every request", got)
	}
}

func TestDownFailsEveryKindOnlyAtItsLocation(t *testing.T) {
	ctx := context.Background()
	inner := kvmem.NewStore()
	s := faults.New(inner, func() float64 { t.Fatal("rand used outside the errors mode"); return 0 }, nil)
	if err := s.Set(locA, faults.Mode{Kind: "down"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		err := op(ctx, s, k, locA)
		if !errors.Is(err, faults.ErrInjected) {
			t.Fatalf("%s on a down location = %v, want ErrInjected", k, err)
		}
		if !strings.Contains(err.Error(), k) || !strings.Contains(err.Error(), "b/a/") || !strings.Contains(err.Error(), "down") {
			t.Fatalf("%s error %q does not name the op, location and mode", k, err)
		}
		if err := op(ctx, s, k, locB); err != nil {
			t.Fatalf("%s on a healthy location = %v", k, err)
		}
	}
	if got := inner.Counts(locA); got.Total() != 0 {
		t.Fatalf("requests to a down location reached the inner store: %+v", got)
	}
	if got := s.Counts(); got != (faults.Counts{Get: 2, Put: 2, List: 2, Delete: 2}) {
		t.Fatalf("Counts = %+v, want failed requests counted too", got)
	}
	if s.Injected() != 4 {
		t.Fatalf("Injected = %d, want 4", s.Injected())
	}
	s.ResetCounts()
	if s.Counts() != (faults.Counts{}) || s.Injected() != 0 {
		t.Fatalf("ResetCounts left %+v, %d", s.Counts(), s.Injected())
	}
	s.ClearAll()
	for _, k := range kinds {
		if err := op(ctx, s, k, locA); err != nil {
			t.Fatalf("%s after ClearAll = %v", k, err)
		}
	}
}

func TestSlow(t *testing.T) {
	ctx := context.Background()
	sl := &sleeper{}
	s := faults.New(kvmem.NewStore(), never, sl.sleep)
	if err := s.Set(locA, faults.Mode{Kind: "slow", LatencyMs: 250}); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if err := op(ctx, s, k, locA); err != nil {
			t.Fatalf("%s on a slow location: %v", k, err)
		}
	}
	if err := op(ctx, s, "get", locB); err != nil {
		t.Fatal(err)
	}
	got := sl.calls()
	if len(got) != 4 {
		t.Fatalf("slept %d times, want once per request to the slow location", len(got))
	}
	for _, d := range got {
		if d != 250*time.Millisecond {
			t.Fatalf("slept %v, want 250ms", d)
		}
	}
	// A slow mode with no latency does not sleep.
	if err := s.Set(locA, faults.Mode{Kind: "slow"}); err != nil {
		t.Fatal(err)
	}
	if err := op(ctx, s, "get", locA); err != nil || len(sl.calls()) != 4 {
		t.Fatalf("zero-latency slow mode: %v, %d sleeps", err, len(sl.calls()))
	}
	// A sleep cut short fails the request without reaching the store.
	if err := s.Set(locA, faults.Mode{Kind: "slow", LatencyMs: 10}); err != nil {
		t.Fatal(err)
	}
	sl.err = context.DeadlineExceeded
	for _, k := range kinds {
		err := op(ctx, s, k, locA)
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, faults.ErrInjected) {
			t.Fatalf("%s with an interrupted sleep = %v, want the sleep's error, not an injected fault", k, err)
		}
	}
	if s.Injected() != 0 {
		t.Fatalf("slow requests counted as injected: %d", s.Injected())
	}
}

func TestDefaultSleepHonoursContext(t *testing.T) {
	s := faults.New(kvmem.NewStore(), never, nil)
	if err := s.Set(locA, faults.Mode{Kind: "slow", LatencyMs: 60_000}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(ctx, locA, "data/k")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context on a slow node = %v, want context.Canceled", err)
	}
	// A short latency elapses and the request then goes through.
	if err := s.Set(locA, faults.Mode{Kind: "slow", LatencyMs: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), locA, "data/k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get after a 1ms delay = %v, want the inner store's ErrNotFound", err)
	}
}

// Property: under "errors" with rate r, a request fails exactly when the
// random draw for it is below r.
func TestErrorsModeFollowsRand(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rate := rapid.Float64Range(0, 1).Draw(t, "rate")
		draws := rapid.SliceOfN(rapid.Float64Range(0, 0.999999), 1, 50).Draw(t, "draws")
		i := 0
		s := faults.New(kvmem.NewStore(), func() float64 { v := draws[i]; i++; return v }, nil)
		if err := s.Set(locA, faults.Mode{Kind: "errors", Rate: rate}); err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		for j, d := range draws {
			err := op(context.Background(), s, kinds[j%len(kinds)], locA)
			if fail := d < rate; fail {
				want++
				if !errors.Is(err, faults.ErrInjected) {
					t.Fatalf("draw %v < rate %v: got %v, want an injected error", d, rate, err)
				}
			} else if err != nil {
				t.Fatalf("draw %v >= rate %v: got %v", d, rate, err)
			}
		}
		if s.Injected() != want {
			t.Fatalf("Injected = %d, want %d", s.Injected(), want)
		}
	})
}

// With a deterministic uniform source, "errors" at rate r fails about r of
// the requests.
func TestErrorsModeRate(t *testing.T) {
	for _, rate := range []float64{0, 0.1, 0.5, 0.9, 1} {
		rnd := rand.New(rand.NewSource(42))
		s := faults.New(kvmem.NewStore(), rnd.Float64, nil)
		if err := s.Set(locA, faults.Mode{Kind: "errors", Rate: rate}); err != nil {
			t.Fatal(err)
		}
		const n = 20000
		failed := 0
		for i := 0; i < n; i++ {
			if err := op(context.Background(), s, "get", locA); err != nil {
				if !errors.Is(err, faults.ErrInjected) || !strings.Contains(err.Error(), "errors") {
					t.Fatalf("unexpected error %v", err)
				}
				failed++
			}
		}
		got := float64(failed) / n
		if math.Abs(got-rate) > 0.015 {
			t.Errorf("rate %v: %d of %d failed (%.3f)", rate, failed, n, got)
		}
		if int64(failed) != s.Injected() || s.Counts().Get != n {
			t.Errorf("rate %v: Injected %d, Counts %+v, want %d and %d gets", rate, s.Injected(), s.Counts(), failed, n)
		}
	}
}

func TestSorted(t *testing.T) {
	m := map[kv.Location]faults.Mode{
		{Endpoint: "http://b", Bucket: "a", Prefix: "a/"}: {Kind: "down"},
		{Endpoint: "", Bucket: "z", Prefix: "a/"}:         {Kind: "down"},
		{Endpoint: "", Bucket: "a", Prefix: "b/"}:         {Kind: "down"},
		{Endpoint: "", Bucket: "a", Prefix: "a/"}:         {Kind: "down"},
		{Endpoint: "http://a", Bucket: "z", Prefix: "z/"}: {Kind: "down"},
	}
	want := []kv.Location{
		{Endpoint: "", Bucket: "a", Prefix: "a/"},
		{Endpoint: "", Bucket: "a", Prefix: "b/"},
		{Endpoint: "", Bucket: "z", Prefix: "a/"},
		{Endpoint: "http://a", Bucket: "z", Prefix: "z/"},
		{Endpoint: "http://b", Bucket: "a", Prefix: "a/"},
	}
	if got := faults.Sorted(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("Sorted = %+v, want %+v", got, want)
	}
	if got := faults.Sorted(nil); len(got) != 0 {
		t.Fatalf("Sorted(nil) = %+v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	var mu sync.Mutex
	s := faults.New(kvmem.NewStore(), func() float64 { mu.Lock(); defer mu.Unlock(); return rnd.Float64() }, nil)
	if err := s.Set(locA, faults.Mode{Kind: "errors", Rate: 0.5}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = op(context.Background(), s, kinds[i%len(kinds)], locA)
				if i%25 == 0 {
					_ = s.Modes()
				}
			}
		}()
	}
	wg.Wait()
	if got := s.Counts().Total(); got != 800 {
		t.Fatalf("Counts total = %d after 800 concurrent requests", got)
	}
	if inj := s.Injected(); inj == 0 || inj == 800 {
		t.Fatalf("Injected = %d, want some but not all at rate 0.5", inj)
	}
}

func TestReplace(t *testing.T) {
	mk := faults.New
	type Mode = faults.Mode
	s := mk(nil, func() float64 { return 0 }, nil)
	a, b := kv.Location{Bucket: "x", Prefix: "a/"}, kv.Location{Bucket: "x", Prefix: "b/"}
	if err := s.Set(a, Mode{Kind: "down"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(map[kv.Location]Mode{b: {Kind: "slow", LatencyMs: 5}, a: {}}); err != nil {
		t.Fatal(err)
	}
	if s.Mode(a).Kind != "" || s.Mode(b).Kind != "slow" || len(s.Modes()) != 1 {
		t.Fatalf("after replace: %+v", s.Modes())
	}
	if err := s.Replace(map[kv.Location]Mode{a: {Kind: "bogus"}}); err == nil || s.Mode(b).Kind != "slow" {
		t.Fatalf("an invalid replace must fail and change nothing: %v %+v", err, s.Modes())
	}
}
