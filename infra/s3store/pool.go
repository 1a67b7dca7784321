package s3store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pool runs store calls on long-lived worker goroutines. A call through the
// SDK needs a deep stack (the S3 endpoint resolver alone has frames of many
// kilobytes); on a fresh goroutine, such as the coordinator's one per replica
// request, the runtime grows the stack by copying it several times per call,
// which profiles showed as about 15% of the process's CPU. A worker keeps its
// grown stack from one call to the next.
//
// The pool never makes a caller wait for a worker: a call goes to an idle
// worker, or starts a new one while fewer than max run, or else runs on the
// caller's goroutine as it would without the pool. A worker idle for idle
// exits; Close stops them all.
type pool struct {
	jobs    chan *job // unbuffered: a send succeeds only when a worker is idle
	max     int64
	idle    time.Duration
	running atomic.Int64
	wg      sync.WaitGroup
	mu      sync.Mutex // guards closed and wg.Add against Close
	closed  bool
	done    chan struct{}
}

// job is one call handed to a worker; done is closed when fn has returned.
type job struct {
	fn   func()
	done chan struct{}
}

// newPool returns a pool of at most max workers (nil when max < 1: every call
// runs on its caller's goroutine).
func newPool(max int, idle time.Duration) *pool {
	if max < 1 {
		return nil
	}
	return &pool{jobs: make(chan *job), max: int64(max), idle: idle, done: make(chan struct{})}
}

// call runs fn on a worker and waits for it, or returns ctx's error as soon as
// ctx is done (fn then finishes on the worker; it must not touch what its
// caller owns after a cancelled call, and should itself respect ctx): it
// returns nil once fn has returned, ctx.Err() if ctx ended first. A nil pool
// runs fn in place.
func (p *pool) call(ctx context.Context, fn func()) error {
	if p == nil {
		fn()
		return nil
	}
	j := &job{fn: fn, done: make(chan struct{})}
	select {
	case p.jobs <- j: // an idle worker took it
	default:
		if !p.start(j) {
			fn() // every worker is busy: run here, as without the pool
			return nil
		}
	}
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		select {
		case <-j.done: // finished as ctx ended: the result stands
			return nil
		default:
			return ctx.Err()
		}
	}
}

// start starts a worker with j as its first job, unless max run already or
// the pool is closed.
func (p *pool) start(j *job) bool {
	for { // running never exceeds max, not even for a moment
		n := p.running.Load()
		if n >= p.max {
			return false
		}
		if p.running.CompareAndSwap(n, n+1) {
			break
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.running.Add(-1)
		return false
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go p.work(j)
	return true
}

// work runs j, then whatever jobs come, until it has been idle for p.idle or
// the pool is closed.
func (p *pool) work(j *job) {
	defer p.wg.Done()
	defer p.running.Add(-1)
	j.run()
	t := time.NewTimer(p.idle)
	defer t.Stop()
	for {
		select {
		case j := <-p.jobs:
			j.run()
			t.Reset(p.idle)
		case <-t.C:
			return
		case <-p.done:
			return
		}
	}
}

func (j *job) run() {
	defer close(j.done)
	j.fn()
}

// close stops the idle workers and waits for the busy ones to finish their
// calls; later calls run on their callers' goroutines.
func (p *pool) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
