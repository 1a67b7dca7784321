package nodestats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/kv/nodestats"
)

// fakeClock advances by step at every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

// TestCountsPerNode: requests, failures (not answers such as not-found or a
// lost condition) and latency percentiles are kept per location.
func TestCountsPerNode(t *testing.T) {
	ctx := context.Background()
	mem := kvmem.NewStore()
	clock := &fakeClock{step: time.Millisecond}
	s := nodestats.New(mem, clock.now)
	a, b := kv.Location{Bucket: "bucket-a", Prefix: "a/"}, kv.Location{Bucket: "bucket-a", Prefix: "b/"}

	if _, err := s.Put(ctx, a, "k", []byte("v"), "actor", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, a, "k", []byte("v"), "actor", ""); !errors.Is(err, kv.ErrPrecondition) { // create-only again
		t.Fatalf("second create: %v", err)
	}
	if _, err := s.Get(ctx, a, "missing"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	mem.SetDown(b, true)
	for i := 0; i < 3; i++ {
		if _, err := s.Get(ctx, b, "k"); err == nil {
			t.Fatal("a down node answered")
		}
	}
	if _, _, err := s.List(ctx, a, "", "", 10); err != nil {
		t.Fatal(err)
	}
	got := s.Snapshot()
	if st := got[a]; st.Requests != 4 || st.Errors != 0 || st.P50Ms != 1 || st.P99Ms != 1 {
		t.Errorf("node a: %+v, want 4 requests, 0 errors, 1 ms", st)
	}
	if st := got[b]; st.Requests != 3 || st.Errors != 3 {
		t.Errorf("node b: %+v, want 3 requests, 3 errors", st)
	}
	if nodestats.Failed(context.Canceled) || !nodestats.Failed(errors.New("boom")) || nodestats.Failed(nil) {
		t.Error("Failed misclassifies")
	}
}

// TestWindow: percentiles describe the last Window requests only.
func TestWindow(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{step: 50 * time.Millisecond}
	s := nodestats.New(kvmem.NewStore(), clock.now)
	a := kv.Location{Bucket: "bucket-a", Prefix: "a/"}
	for i := 0; i < nodestats.Window; i++ {
		_, _ = s.Get(ctx, a, "k")
	}
	if st := s.Snapshot()[a]; st.P99Ms != 50 {
		t.Fatalf("slow requests: p99 %v", st.P99Ms)
	}
	clock.step = time.Millisecond
	for i := 0; i < nodestats.Window; i++ {
		_, _ = s.Get(ctx, a, "k")
	}
	if st := s.Snapshot()[a]; st.P99Ms != 1 || st.Requests != 2*nodestats.Window {
		t.Fatalf("after a window of fast requests: %+v", st)
	}
}
