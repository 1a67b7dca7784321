package coordinator

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
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
