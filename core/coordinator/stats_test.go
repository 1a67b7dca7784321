package coordinator

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

func TestRecordRepair(t *testing.T) {
	s := newStats(nil)
	clk := newClock()
	s.RecordRepair(100, 3, clk.Now())
	clk.Advance(time.Minute)
	s.RecordRepair(50, 0, clk.Now())
	got := s.Snapshot()
	if got.Repairs != 2 || got.RepairCompared != 150 || got.RepairRepaired != 3 || got.LastRepairMs != clk.Now().UnixMilli() {
		t.Fatalf("Snapshot %+v", got)
	}
	// A Stats with no observer counts too.
	z := newStats(nil)
	z.add(&z.QuorumFailures, 1)
	z.observe(&z.GetLatency, time.Millisecond)
	if z.Snapshot().QuorumFailures != 1 || z.Snapshot().GetP50Ms == 0 {
		t.Fatalf("Stats without an observer: %+v", z.Snapshot())
	}
}

// countObserver counts what the coordinator tells its Observer.
type countObserver struct{ gets, puts, qf atomic.Int64 }

func (o *countObserver) ObserveGet(time.Duration) { o.gets.Add(1) }
func (o *countObserver) ObservePut(time.Duration) { o.puts.Add(1) }
func (o *countObserver) ObserveQuorumFailure()    { o.qf.Add(1) }

// The coordinator tells its Observer of every request (the dashboard's series).
func TestObserverFromRequests(t *testing.T) {
	e := newEnv(t, 3)
	obs := &countObserver{}
	co := e.coord(func(*Config) {})
	co.stats.obs = obs
	p := mustPut(t, co, "k", "", "v", Options{})
	mustGet(t, co, "k", Options{})
	if _, err := co.Delete(context.Background(), "k", p.Context, Options{}); err != nil {
		t.Fatal(err)
	}
	co.stats.add(&co.stats.QuorumFailures, 1)
	if obs.gets.Load() != 1 || obs.puts.Load() != 2 || obs.qf.Load() != 1 {
		t.Fatalf("observer: %d gets, %d puts (deletes included), %d quorum failures; want 1, 2 and 1", obs.gets.Load(), obs.puts.Load(), obs.qf.Load())
	}
}

// ---- stats ------------------------------------------------------------------

func TestLatencyPercentiles(t *testing.T) {
	var l latencies
	l.window = 4
	if got := l.percentiles(50, 99); !slices.Equal(got, []float64{0, 0}) {
		t.Fatalf("empty window: %v", got)
	}
	l.add(1500 * time.Microsecond)
	if got := l.percentiles(0, 50, 100); !slices.Equal(got, []float64{1.5, 1.5, 1.5}) {
		t.Fatalf("one sample: %v", got)
	}
	for _, ms := range []int{2, 3, 4, 5, 6} { // 1.5 and 2 fall out of the window of 4
		l.add(time.Duration(ms) * time.Millisecond)
	}
	if len(l.buf) != 4 {
		t.Fatalf("window holds %d samples, want 4", len(l.buf))
	}
	if got := l.percentiles(0, 50, 100); !slices.Equal(got, []float64{3, 4, 6}) {
		t.Fatalf("after wrapping: %v, want [3 4 6]", got)
	}

	var big latencies
	big.window = 2048
	for i := 100; i >= 1; i-- { // order of arrival does not matter
		big.add(time.Duration(i) * time.Millisecond)
	}
	if got := big.percentiles(50, 99, 100); !slices.Equal(got, []float64{50, 99, 100}) {
		t.Fatalf("1..100 ms: p50/p99/p100 = %v", got)
	}
}

func TestStatsSnapshot(t *testing.T) {
	s := newStats(nil)
	counters := []*atomic.Int64{
		&s.Gets, &s.Puts, &s.Deletes, &s.QuorumFailures, &s.BackendGets, &s.BackendPuts,
		&s.BackendLists, &s.CASRetries, &s.ReadRepairs, &s.HintsQueued, &s.HintsDelivered,
		&s.CorruptReplicas, &s.SiblingRejects,
	}
	for i, c := range counters {
		s.add(c, int64(i+1))
	}
	s.sibling(3)
	s.sibling(7)
	s.sibling(5)
	for i := 1; i <= 100; i++ {
		s.observe(&s.GetLatency, time.Duration(i)*time.Millisecond)
		s.observe(&s.PutLatency, time.Duration(2*i)*time.Millisecond)
	}
	got := s.Snapshot()
	want := Snapshot{
		Gets: 1, Puts: 2, Deletes: 3, QuorumFailures: 4, BackendGets: 5, BackendPuts: 6,
		BackendLists: 7, CASRetries: 8, ReadRepairs: 9, HintsQueued: 10, HintsDelivered: 11,
		CorruptReplicas: 12, SiblingRejects: 13, MaxSiblings: 7,
		GetP50Ms: 50, GetP99Ms: 99, PutP50Ms: 100, PutP99Ms: 198,
	}
	if got != want {
		t.Fatalf("Snapshot =\n%+v\nwant\n%+v", got, want)
	}
}

func TestStatsMaxSiblingsConcurrent(t *testing.T) {
	s := newStats(nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.sibling((i*7 + g*13) % 1000)
			}
		}()
	}
	wg.Wait()
	if got := s.MaxSiblings.Load(); got != 999 {
		t.Fatalf("MaxSiblings = %d, want 999", got)
	}
}

// The coordinator's counters and latencies reflect its requests.
func TestStatsFromRequests(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "stats"
	prim := e.primaries(key)
	e.setState(prim[0], kv.StateDown) // a fallback stands in: reads LIST its hints
	p := mustPut(t, co, key, "", "v1", Options{})
	mustGet(t, co, key, Options{R: 3})
	if _, err := co.Delete(context.Background(), key, p.Context, Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	s := co.Stats().Snapshot()
	if s.Gets != 1 || s.Puts != 1 || s.Deletes != 1 {
		t.Fatalf("request counters %+v", s)
	}
	if s.BackendLists == 0 || s.BackendLists != co.Stats().BackendLists.Load() {
		t.Fatalf("Snapshot.BackendLists = %d, counter = %d", s.BackendLists, co.Stats().BackendLists.Load())
	}
	if s.BackendPuts == 0 || s.HintsQueued == 0 || s.MaxSiblings != 1 {
		t.Fatalf("backend counters %+v", s)
	}
	// The fake clock does not move during a request: latencies are 0.
	if s.GetP99Ms != 0 || s.PutP99Ms != 0 {
		t.Fatalf("latencies %+v with a frozen clock", s)
	}
}
