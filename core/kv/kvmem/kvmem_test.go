package kvmem_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/infra/storetest"
)

// The conformance suites every implementation of the ports passes.

func TestConformanceReplicaStore(t *testing.T) {
	storetest.ReplicaStore(t, func(t *testing.T) (kv.ReplicaStore, kv.Location) {
		return kvmem.NewStore(), kv.Location{Bucket: "bucket", Prefix: "node-1/"}
	})
}

func TestConformanceHintQueue(t *testing.T) {
	storetest.HintQueue(t, func(t *testing.T, opts storetest.QueueOptions) storetest.HintFixture {
		q := kvmem.NewHintQueue(opts.Visibility, opts.MaxReceives)
		return storetest.HintFixture{
			Queue:   q,
			SendRaw: func(ctx context.Context, body string) error { return q.EnqueueRaw(ctx, []byte(body)) },
			Redrive: q.Redrive,
		}
	})
}

func TestConformanceMembership(t *testing.T) {
	storetest.Membership(t, func(t *testing.T) kv.Membership { return kvmem.NewMembership() })
}

// ---- fault hooks and kvmem-specific behaviour --------------------------------

var (
	ctx  = context.Background()
	loc1 = kv.Location{Bucket: "b", Prefix: "n1/"}
	loc2 = kv.Location{Bucket: "b", Prefix: "n2/"}
)

func TestETag(t *testing.T) {
	sum := md5.Sum([]byte("abc"))
	if got, want := kvmem.ETag([]byte("abc")), `"`+hex.EncodeToString(sum[:])+`"`; got != want {
		t.Fatalf("ETag = %s, want %s", got, want)
	}
	s := kvmem.NewStore()
	e, err := s.Put(ctx, loc1, "k", []byte("abc"), "a", "")
	if err != nil || e != kvmem.ETag([]byte("abc")) {
		t.Fatalf("Put = %s, %v", e, err)
	}
	// If-Match ignores the quotes, as S3 does.
	if _, err := s.Put(ctx, loc1, "k", []byte("def"), "a", strings.Trim(e, `"`)); err != nil {
		t.Fatalf("unquoted If-Match: %v", err)
	}
}

func TestStoreCopiesData(t *testing.T) {
	s := kvmem.NewStore()
	data := []byte("value")
	if _, err := s.Put(ctx, loc1, "k", data, "a", ""); err != nil {
		t.Fatal(err)
	}
	data[0] = 'X'
	b, _ := s.Get(ctx, loc1, "k")
	if string(b.Data) != "value" {
		t.Fatalf("stored data aliases the caller's slice: %q", b.Data)
	}
	b.Data[0] = 'Y'
	if b2, _ := s.Get(ctx, loc1, "k"); string(b2.Data) != "value" {
		t.Fatalf("Get returned the stored slice: %q", b2.Data)
	}
}

func TestLocationsShareBuckets(t *testing.T) {
	s := kvmem.NewStore()
	if _, err := s.Put(ctx, loc1, "data/x", []byte("1"), "a", ""); err != nil {
		t.Fatal(err)
	}
	// The bucket root sees n1's object under its full key.
	root := kv.Location{Bucket: "b"}
	if b, err := s.Get(ctx, root, "n1/data/x"); err != nil || string(b.Data) != "1" {
		t.Fatalf("Get via bucket root = %+v, %v", b, err)
	}
	// Another endpoint or bucket is a different namespace.
	for _, other := range []kv.Location{{Endpoint: "http://x", Bucket: "b", Prefix: "n1/"}, {Bucket: "c", Prefix: "n1/"}} {
		if _, err := s.Get(ctx, other, "data/x"); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get at %+v = %v, want ErrNotFound", other, err)
		}
	}
	items, more, err := s.List(ctx, root, "", "", 0)
	if err != nil || more || len(items) != 1 || items[0].Name != "n1/data/x" {
		t.Fatalf("List root = %+v, %v, %v", items, more, err)
	}
}

func TestListPagesAtLimit(t *testing.T) {
	s := kvmem.NewStore()
	for i := 0; i < 1001; i++ {
		if _, err := s.Put(ctx, loc1, "k"+strings.Repeat("0", 4-len(itoa(i)))+itoa(i), nil, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	items, more, err := s.List(ctx, loc1, "", "", 5000)
	if err != nil || len(items) != 1000 || !more {
		t.Fatalf("List with limit over 1000 = %d items, more=%v, %v; want 1000, true", len(items), more, err)
	}
	items, more, err = s.List(ctx, loc1, "", items[999].Name, -1)
	if err != nil || len(items) != 1 || more || items[0].Name != "k1000" {
		t.Fatalf("second page = %+v, %v, %v", items, more, err)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestStoreSetDown(t *testing.T) {
	s := kvmem.NewStore()
	if _, err := s.Put(ctx, loc1, "k", []byte("v"), "a", ""); err != nil {
		t.Fatal(err)
	}
	s.SetDown(loc1, true)
	ops := map[string]func(kv.Location) error{
		"get":    func(l kv.Location) error { _, err := s.Get(ctx, l, "k"); return err },
		"put":    func(l kv.Location) error { _, err := s.Put(ctx, l, "k2", []byte("v"), "a", ""); return err },
		"delete": func(l kv.Location) error { return s.Delete(ctx, l, "k", "") },
		"list":   func(l kv.Location) error { _, _, err := s.List(ctx, l, "", "", 10); return err },
	}
	for name, f := range ops {
		if err := f(loc1); !errors.Is(err, kvmem.ErrDown) {
			t.Fatalf("%s on a down location = %v, want ErrDown", name, err)
		}
		if err := f(loc2); err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("%s on another location = %v", name, err)
		}
	}
	// Downed calls are counted.
	if got := s.Counts(loc1); got != (kvmem.Counts{Get: 1, Put: 2, Delete: 1, List: 1}) {
		t.Fatalf("Counts(n1) = %+v", got)
	}
	s.SetDown(loc1, false)
	if b, err := s.Get(ctx, loc1, "k"); err != nil || string(b.Data) != "v" {
		t.Fatalf("after lifting: %+v, %v (the down calls must not have changed data)", b, err)
	}
	// A bucket-wide down covers every prefix in it, and only that bucket.
	s.SetDown(kv.Location{Bucket: "b"}, true)
	for _, l := range []kv.Location{loc1, loc2, {Bucket: "b", Prefix: "deep/er/"}} {
		if _, err := s.Get(ctx, l, "k"); !errors.Is(err, kvmem.ErrDown) {
			t.Fatalf("Get at %+v with bucket down = %v", l, err)
		}
	}
	if _, err := s.Get(ctx, kv.Location{Bucket: "other"}, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("another bucket = %v, want ErrNotFound", err)
	}
	// A prefix-wide down covers deeper prefixes, not siblings.
	s.SetDown(kv.Location{Bucket: "b"}, false)
	s.SetDown(kv.Location{Bucket: "b", Prefix: "n1"}, true)
	if _, err := s.Get(ctx, loc1, "k"); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("n1/ under down n1 = %v", err)
	}
	if _, err := s.Get(ctx, loc2, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("n2/ under down n1 = %v", err)
	}
}

func TestCounts(t *testing.T) {
	s := kvmem.NewStore()
	if c := s.Counts(loc1); c != (kvmem.Counts{}) {
		t.Fatalf("fresh Counts = %+v", c)
	}
	_, _ = s.Put(ctx, loc1, "k", []byte("v"), "a", "")
	_, _ = s.Get(ctx, loc1, "k")
	_, _ = s.Get(ctx, loc1, "missing")
	_, _, _ = s.List(ctx, loc2, "", "", 1)
	_ = s.Delete(ctx, loc2, "k", "")
	if got := s.Counts(loc1); got != (kvmem.Counts{Get: 2, Put: 1}) || got.Total() != 3 {
		t.Fatalf("Counts(n1) = %+v", got)
	}
	if got := s.TotalCounts(); got != (kvmem.Counts{Get: 2, Put: 1, List: 1, Delete: 1}) || got.Total() != 5 {
		t.Fatalf("TotalCounts = %+v", got)
	}
	s.ResetCounts()
	if got := s.TotalCounts(); got.Total() != 0 {
		t.Fatalf("after ResetCounts: %+v", got)
	}
}

func TestInvalidLocations(t *testing.T) {
	s := kvmem.NewStore()
	if _, err := s.Get(ctx, kv.Location{Prefix: "p/"}, "k"); err == nil || !strings.Contains(err.Error(), "empty bucket") {
		t.Fatalf("Get with no bucket = %v", err)
	}
	if _, err := s.Put(ctx, kv.Location{Bucket: "b"}, "", []byte("v"), "a", ""); err == nil || !strings.Contains(err.Error(), "empty object key") {
		t.Fatalf("Put with an empty key = %v", err)
	}
	// Listing a whole bucket with no prefix is fine.
	if _, _, err := s.List(ctx, kv.Location{Bucket: "b"}, "", "", 10); err != nil {
		t.Fatalf("List of a whole bucket = %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	s := kvmem.NewStore()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, loc1, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get = %v", err)
	}
	if _, err := s.Put(cctx, loc1, "k", nil, "", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v", err)
	}
	if _, err := s.Get(ctx, loc1, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatal("a cancelled Put stored something")
	}
	m := kvmem.NewMembership()
	if _, err := m.Load(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Membership.Load = %v", err)
	}
	q := kvmem.NewHintQueue(time.Second, 0)
	if err := q.Enqueue(cctx, kv.Hint{Key: "k", Intended: "a", Fallback: "b"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Enqueue = %v", err)
	}
}

func TestHook(t *testing.T) {
	s := kvmem.NewStore()
	boom := errors.New("boom")
	type call struct {
		op   kvmem.Op
		loc  kv.Location
		name string
	}
	var mu sync.Mutex
	var calls []call
	s.SetHook(func(_ context.Context, op kvmem.Op, loc kv.Location, name string) error {
		mu.Lock()
		calls = append(calls, call{op, loc, name})
		mu.Unlock()
		if op == kvmem.OpPut && loc == loc2 {
			return boom
		}
		return nil
	})
	if _, err := s.Put(ctx, loc1, "k", []byte("v"), "a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, loc2, "k", []byte("v"), "a", ""); !errors.Is(err, boom) {
		t.Fatalf("hooked Put = %v, want the hook's error", err)
	}
	if _, err := s.Get(ctx, loc2, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatal("a Put failed by the hook stored data")
	}
	_, _, _ = s.List(ctx, loc1, "da", "", 1)
	_ = s.Delete(ctx, loc1, "k", "")
	want := []call{
		{kvmem.OpPut, loc1, "k"}, {kvmem.OpPut, loc2, "k"}, {kvmem.OpGet, loc2, "k"},
		{kvmem.OpList, loc1, "da"}, {kvmem.OpDelete, loc1, "k"},
	}
	mu.Lock()
	got := append([]call(nil), calls...)
	mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("hook saw %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("hook call %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Down locations fail before the hook runs; a removed hook is not called.
	s.SetDown(loc1, true)
	_, _ = s.Get(ctx, loc1, "k")
	s.SetDown(loc1, false)
	s.SetHook(nil)
	_, _ = s.Get(ctx, loc1, "k")
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != len(want) {
		t.Fatalf("hook called for a down location or after removal: %+v", calls[len(want):])
	}
}

// A hook that blocks until the request's context ends simulates a hung node.
func TestHookBlocksUntilContextDone(t *testing.T) {
	s := kvmem.NewStore()
	entered := make(chan struct{})
	s.SetHook(func(ctx context.Context, _ kvmem.Op, _ kv.Location, _ string) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := s.Get(cctx, loc1, "k")
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Get = %v, want context.Canceled", err)
	}
}

func TestConcurrentStore(t *testing.T) {
	s := kvmem.NewStore()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := kv.Location{Bucket: "b", Prefix: "g" + itoa(g) + "/"}
			for i := 0; i < 50; i++ {
				e, err := s.Put(ctx, l, "k"+itoa(i), []byte("v"), "a", "")
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Put(ctx, l, "k"+itoa(i), []byte("w"), "a", e); err != nil {
					t.Error(err)
					return
				}
				_, _, _ = s.List(ctx, kv.Location{Bucket: "b"}, "", "", 10)
			}
		}()
	}
	wg.Wait()
	if got := s.TotalCounts(); got.Put != 800 || got.List != 400 {
		t.Fatalf("TotalCounts = %+v", got)
	}
	items, _, err := s.List(ctx, kv.Location{Bucket: "b"}, "", "", 1000)
	if err != nil || len(items) != 400 {
		t.Fatalf("%d objects after the writers, %v", len(items), err)
	}
}

func TestMembershipDown(t *testing.T) {
	m := kvmem.NewMembership()
	c := kv.Cluster{Epoch: 1, Params: kv.DefaultParams()}
	m.SetDown(true)
	if err := m.Save(ctx, c, 0); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("Save while down = %v", err)
	}
	if _, err := m.Load(ctx); !errors.Is(err, kvmem.ErrDown) {
		t.Fatalf("Load while down = %v", err)
	}
	m.SetDown(false)
	if _, err := m.Load(ctx); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("a Save while down stored something: %v", err)
	}
	if err := m.Save(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	got, err := m.Load(ctx)
	if err != nil || got.Epoch != 1 {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	// What Load returns does not alias the stored cluster.
	c.Nodes = append(c.Nodes, kv.Node{ID: "n1"})
	got.Params.N = 9
	if again, _ := m.Load(ctx); len(again.Nodes) != 0 || again.Params.N != 3 {
		t.Fatalf("stored cluster changed through an alias: %+v", again)
	}
}

func TestQueueDown(t *testing.T) {
	q := kvmem.NewHintQueue(time.Second, 0)
	h := kv.Hint{Key: "k", Intended: "a", Fallback: "b"}
	if err := q.Enqueue(ctx, h); err != nil {
		t.Fatal(err)
	}
	q.SetDown(true)
	checks := map[string]error{
		"enqueue": q.Enqueue(ctx, h),
		"raw":     q.EnqueueRaw(ctx, []byte("x")),
		"ack":     q.Ack(ctx, "kvmem-1"),
	}
	_, checks["receive"] = q.Receive(ctx, 1, 0)
	_, checks["stats"] = q.Stats(ctx)
	_, checks["redrive"] = q.Redrive(ctx)
	for name, err := range checks {
		if !errors.Is(err, kvmem.ErrDown) {
			t.Errorf("%s while down = %v, want ErrDown", name, err)
		}
	}
	q.SetDown(false)
	if st, err := q.Stats(ctx); err != nil || st != (kv.QueueStats{Visible: 1}) {
		t.Fatalf("Stats after lifting = %+v, %v; the down calls must not have changed the queue", st, err)
	}
}

func TestQueueReceiveBatchesAndOrder(t *testing.T) {
	q := kvmem.NewHintQueue(time.Minute, 0)
	for i := 0; i < 12; i++ {
		if err := q.Enqueue(ctx, kv.Hint{Key: "k" + itoa(i), Intended: "a", Fallback: "b", Created: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The limit is clamped to [1, MaxBatch]; messages come oldest first.
	got, err := q.Receive(ctx, 0, 0)
	if err != nil || len(got) != 1 || got[0].Hint.Key != "k0" {
		t.Fatalf("Receive(0) = %+v, %v; want the oldest message", got, err)
	}
	got, err = q.Receive(ctx, 100, -time.Second)
	if err != nil || len(got) != kvmem.MaxBatch || got[0].Hint.Key != "k1" || got[9].Hint.Key != "k10" {
		t.Fatalf("Receive(100) = %d messages, %v", len(got), err)
	}
	if st, _ := q.Stats(ctx); st != (kv.QueueStats{Visible: 1, InFlight: 11}) {
		t.Fatalf("Stats = %+v", st)
	}
	// An unknown but well-formed receipt is fine (already deleted); a foreign one is not.
	if err := q.Ack(ctx, got[0].Receipt, got[0].Receipt); err != nil {
		t.Fatalf("double Ack = %v", err)
	}
	for _, bad := range []string{"kvmem-999", "kvmem-0", "kvmem-x", "other-1"} {
		if err := q.Ack(ctx, bad); err == nil {
			t.Errorf("Ack(%q) succeeded", bad)
		}
	}
}

// A waiting Receive returns a message enqueued while it waits.
func TestQueueReceiveWakesOnEnqueue(t *testing.T) {
	q := kvmem.NewHintQueue(time.Minute, 0)
	done := make(chan []kv.ReceivedHint, 1)
	go func() {
		got, err := q.Receive(ctx, 10, kvmem.MaxWait)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	if err := q.Enqueue(ctx, kv.Hint{Key: "k", Intended: "a", Fallback: "b"}); err != nil {
		t.Fatal(err)
	}
	if got := <-done; len(got) != 1 || got[0].Hint.Key != "k" {
		t.Fatalf("woken Receive = %+v", got)
	}
}

// A waiting Receive returns a message as soon as its visibility timeout ends.
func TestQueueReceiveWaitsForVisibility(t *testing.T) {
	q := kvmem.NewHintQueue(0, 0) // clamped to 1 ms
	if err := q.Enqueue(ctx, kv.Hint{Key: "k", Intended: "a", Fallback: "b"}); err != nil {
		t.Fatal(err)
	}
	first, err := q.Receive(ctx, 1, 0)
	if err != nil || len(first) != 1 {
		t.Fatalf("first receive = %+v, %v", first, err)
	}
	again, err := q.Receive(ctx, 1, kvmem.MaxWait)
	if err != nil || len(again) != 1 || again[0].Receives != 2 || again[0].Receipt == first[0].Receipt {
		t.Fatalf("redelivery = %+v, %v", again, err)
	}
	// The old receipt no longer acknowledges it; the new one does.
	if err := q.Ack(ctx, again[0].Receipt); err != nil {
		t.Fatal(err)
	}
	if st, _ := q.Stats(ctx); st != (kv.QueueStats{}) {
		t.Fatalf("Stats after ack = %+v", st)
	}
}

func TestQueueReceiveCancelled(t *testing.T) {
	q := kvmem.NewHintQueue(time.Minute, 0)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := q.Receive(cctx, 10, kvmem.MaxWait)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Receive = %v, want context.Canceled", err)
	}
}

func TestQueuePoisonAndDeadLetters(t *testing.T) {
	q := kvmem.NewHintQueue(time.Millisecond, 1)
	if err := q.EnqueueRaw(ctx, []byte(`{"key":"k","intended":"a"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := q.Receive(ctx, 10, 0)
	if err != nil || len(got) != 1 || got[0].Err == nil || got[0].Hint != (kv.Hint{}) || got[0].Receipt == "" {
		t.Fatalf("poison receive = %+v, %v", got, err)
	}
	// With maxReceives 1 the next receive moves it to the dead letters.
	again, err := q.Receive(ctx, 10, 50*time.Millisecond)
	if err != nil || len(again) != 0 {
		t.Fatalf("second receive = %+v, %v; want it dead-lettered", again, err)
	}
	if st, _ := q.Stats(ctx); st != (kv.QueueStats{Dead: 1}) {
		t.Fatalf("Stats = %+v", st)
	}
	if n, err := q.Redrive(ctx); n != 1 || err != nil {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	if n, err := q.Redrive(ctx); n != 0 || err != nil {
		t.Fatalf("second Redrive = %d, %v", n, err)
	}
	back, err := q.Receive(ctx, 10, 0)
	if err != nil || len(back) != 1 || back[0].Receives != 1 || back[0].Err == nil {
		t.Fatalf("after redrive = %+v, %v", back, err)
	}
}

func TestNewHintQueueClamps(t *testing.T) {
	q := kvmem.NewHintQueue(-time.Second, -3) // 1 ms visibility, never dead-letters
	if err := q.Enqueue(ctx, kv.Hint{Key: "k", Intended: "a", Fallback: "b"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		got, err := q.Receive(ctx, 1, kvmem.MaxWait)
		if err != nil || len(got) != 1 || got[0].Receives != i {
			t.Fatalf("receive %d = %+v, %v", i, got, err)
		}
	}
	if st, _ := q.Stats(ctx); st.Dead != 0 {
		t.Fatalf("dead-lettered with maxReceives < 0: %+v", st)
	}
}
