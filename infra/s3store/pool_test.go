package s3store

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// settled waits (yielding, at most many times, never on the clock) until
// the pool has no worker and the process is back to at most want goroutines.
func settled(t *testing.T, p *pool, want int) {
	t.Helper()
	for range 10_000 {
		if p.running.Load() == 0 && runtime.NumGoroutine() <= want {
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // lets exiting goroutines finish; no assertion on time
	}
	t.Fatalf("pool left %d workers, %d goroutines (want <= %d)", p.running.Load(), runtime.NumGoroutine(), want)
}

// A caller whose context ends returns with its error while the worker is
// still busy with its call; the worker finishes, and nothing is left
// running after Close.
func TestPoolCancelReturnsAndLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newPool(2, time.Hour)
	release := make(chan struct{})
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- p.call(ctx, func() {
			close(started)
			<-release // the worker stays busy past the cancellation
		})
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call returned %v, want context.Canceled", err)
	}
	close(release)
	p.close()
	settled(t, p, before)
	// After Close calls still run, in place.
	ran := false
	if err := p.call(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("call after close: ran %v, err %v", ran, err)
	}
}

// Idle workers exit by themselves.
func TestPoolIdleWorkersExit(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newPool(4, time.Microsecond)
	for range 20 {
		if err := p.call(context.Background(), func() {}); err != nil {
			t.Fatal(err)
		}
	}
	settled(t, p, before)
}

// However many calls are in flight at once, each runs exactly once and
// completes without waiting for a worker (they all wait on one barrier that
// opens only when every call is running), and no more than max workers run.
func TestPoolConcurrentCallsBeyondSize(t *testing.T) {
	before := runtime.NumGoroutine()
	rapid.Check(t, func(rt *rapid.T) {
		size := rapid.IntRange(1, 4).Draw(rt, "size")
		n := rapid.IntRange(1, 24).Draw(rt, "calls")
		p := newPool(size, time.Hour)
		defer p.close()
		var barrier sync.WaitGroup
		barrier.Add(n)
		var mu sync.Mutex
		runs := make([]int, n)
		peak := int64(0)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- p.call(context.Background(), func() {
					mu.Lock()
					runs[i]++
					peak = max(peak, p.running.Load())
					mu.Unlock()
					barrier.Done()
					barrier.Wait()
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				rt.Fatalf("call: %v", err)
			}
		}
		for i, r := range runs {
			if r != 1 {
				rt.Fatalf("call %d ran %d times", i, r)
			}
		}
		if peak > int64(size) {
			rt.Fatalf("%d workers ran, size %d", peak, size)
		}
	})
	settled(t, &pool{}, before)
}

// A nil pool (Workers 0) runs calls in place.
func TestPoolNilRunsInPlace(t *testing.T) {
	p := newPool(0, time.Second)
	if p != nil {
		t.Fatal("newPool(0) is not nil")
	}
	ran := false
	if err := p.call(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("ran %v, err %v", ran, err)
	}
	p.close()
}

func TestConfigValidateWorkers(t *testing.T) {
	for _, c := range []struct {
		workers int
		idle    time.Duration
		ok      bool
	}{{0, 0, true}, {64, time.Second, true}, {-1, time.Second, false}, {4097, time.Second, false}, {8, 0, false}} {
		cfg := DefaultConfig()
		cfg.Workers, cfg.WorkerIdle = c.workers, c.idle
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("workers=%d idle=%s: %v", c.workers, c.idle, err)
		}
	}
}
