package recent

import (
	"math"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/internal/testclock"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

func TestHistogram(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0}, {histBase, 0}, {histBase + 1, 1}, {2 * histBase, 3}, {time.Millisecond, 13}, {time.Hour, histBuckets - 1},
	} {
		if got := bucketOf(c.d); got != c.want {
			t.Errorf("bucketOf(%v) = %d, want %d", c.d, got, c.want)
		}
	}
	for i := 1; i < histBuckets; i++ {
		if !near(bucketBound(i)/bucketBound(i-1), math.Cbrt(2), 1e-9) {
			t.Fatalf("bucket %d is not 2^(1/3) wider than %d", i, i-1)
		}
	}
	var h hist
	if h.percentile(50) != 0 {
		t.Fatal("empty histogram: want 0")
	}
	for i := 1; i <= 100; i++ {
		h[bucketOf(time.Duration(i)*time.Millisecond)]++
	}
	for _, p := range []float64{1, 50, 90, 99, 100} {
		if got := h.percentile(p); !near(got, p, 0.27) {
			t.Errorf("p%v of 1..100 ms = %v ms, want within a bucket of %v", p, got, p)
		}
	}
	var one hist
	one[0] = 1
	if got := one.percentile(50); got != 0.05 {
		t.Fatalf("one sample in bucket 0: p50 = %v, want its bound 0.05", got)
	}
}

func TestRecentRatesAndSeries(t *testing.T) {
	clk := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s := New(clk.Now)
	r := s.Recent()
	if len(r.Series) != SeriesSteps+1 || r.GetsPerSec != 0 || r.WindowMs != 1000 || r.UptimeMs != 0 {
		t.Fatalf("empty: %d points, %+v", len(r.Series), r)
	}
	// 30 s of traffic: 10 gets (4 ms) and 5 puts (20 ms) per second, and a
	// quorum failure every 10 s.
	for sec := 0; sec < 30; sec++ {
		for i := 0; i < 10; i++ {
			s.ObserveGet(4 * time.Millisecond)
		}
		for i := 0; i < 5; i++ {
			s.ObservePut(20 * time.Millisecond)
		}
		if sec%10 == 0 {
			s.ObserveQuorumFailure()
		}
		clk.Advance(time.Second)
	}
	r = s.Recent()
	if r.UptimeMs != 30_000 || r.WindowMs != 30_000 {
		t.Fatalf("window %d ms, uptime %d ms: want both 30 s (the window is cut at the start)", r.WindowMs, r.UptimeMs)
	}
	if r.GetsPerSec != 10 || r.PutsPerSec != 5 || r.QuorumFailsPerSec != 0.1 {
		t.Fatalf("rates %+v", r)
	}
	if !near(r.GetP50Ms, 4, 0.27) || !near(r.GetP99Ms, 4, 0.27) || !near(r.PutP99Ms, 20, 0.27) || !near(r.PutP50Ms, 20, 0.27) {
		t.Fatalf("percentiles %+v", r)
	}
	var gets, puts, qf int64
	for i, p := range r.Series {
		gets, puts, qf = gets+p.Gets, puts+p.Puts, qf+p.QuorumFailures
		if i > 0 && p.T-r.Series[i-1].T != r.StepMs {
			t.Fatalf("points %d and %d are not a step apart", i-1, i)
		}
		if p.Gets > 0 && !near(p.GetP99Ms, 4, 0.27) {
			t.Fatalf("point %d: %+v", i, p)
		}
	}
	if gets != 300 || puts != 150 || qf != 3 {
		t.Fatalf("series totals %d gets %d puts %d failures", gets, puts, qf)
	}
	if last := r.Series[len(r.Series)-1]; last.T > r.Now || r.Now-last.T >= r.StepMs {
		t.Fatalf("the last point (%d) does not hold now (%d)", last.T, r.Now)
	}

	// Two minutes later the rates are 0 but the series still shows the burst;
	// after five more minutes it is gone.
	clk.Advance(2 * time.Minute)
	r = s.Recent()
	if r.GetsPerSec != 0 || r.GetP99Ms != 0 || r.WindowMs < 55_000 || r.WindowMs > 60_000 {
		t.Fatalf("idle minute: %+v", r)
	}
	gets = 0
	for _, p := range r.Series {
		gets += p.Gets
	}
	if gets != 300 {
		t.Fatalf("series after 2 min: %d gets, want 300", gets)
	}
	clk.Advance(5 * time.Minute)
	s.ObserveGet(time.Millisecond) // reuses an expired slot
	for _, p := range s.Recent().Series[:SeriesSteps] {
		if p.Gets != 0 || p.Puts != 0 {
			t.Fatalf("expired point %+v", p)
		}
	}
	if r := s.Recent(); r.Series[SeriesSteps].Gets != 1 || r.GetsPerSec == 0 {
		t.Fatalf("current point %+v", r.Series[SeriesSteps])
	}
}
