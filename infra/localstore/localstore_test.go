package localstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/localstore"
	"github.com/cartwheel/cartwheel/infra/storetest"
)

func open(t *testing.T, dir string) *localstore.DB {
	t.Helper()
	db, err := localstore.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// The conformance suites every implementation of the ports passes.

func TestConformanceReplicaStore(t *testing.T) {
	storetest.ReplicaStore(t, func(t *testing.T) (kv.ReplicaStore, kv.Location) {
		return open(t, t.TempDir()).Store(), kv.Location{Bucket: "cartwheel-local", Prefix: "nodes/n1/"}
	})
}

func TestConformanceHintQueue(t *testing.T) {
	storetest.HintQueue(t, func(t *testing.T, opts storetest.QueueOptions) storetest.HintFixture {
		q := open(t, t.TempDir()).HintQueue(opts.Visibility, opts.MaxReceives)
		return storetest.HintFixture{
			Queue:   q,
			SendRaw: func(ctx context.Context, body string) error { return q.EnqueueRaw(ctx, []byte(body)) },
			Redrive: q.Redrive,
		}
	})
}

func TestConformanceMembership(t *testing.T) {
	storetest.Membership(t, func(t *testing.T) kv.Membership { return open(t, t.TempDir()).Membership() })
}

// ---- durability and the value files -------------------------------------------

var (
	ctx = context.Background()
	loc = kv.Location{Bucket: "b", Prefix: "nodes/n1/"}
)

func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "blobs", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Everything acknowledged is there after reopening: small and large objects,
// hints (with their receive counts) and the cluster.
func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	db, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	small, big := []byte("small"), bytes.Repeat([]byte("0123456789"), 10_000)
	s := db.Store()
	eSmall, err := s.Put(ctx, loc, "data/small", small, "n1.1", "")
	if err != nil {
		t.Fatal(err)
	}
	eBig, err := s.Put(ctx, loc, "data/big", big, "n1.2", "")
	if err != nil {
		t.Fatal(err)
	}
	q := db.HintQueue(time.Minute, 5)
	h := kv.Hint{Key: "k", Intended: "n1", Fallback: "n4", Created: 1}
	if err := q.Enqueue(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(ctx, kv.Hint{Key: "k2", Intended: "n1", Fallback: "n4"}); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Receive(ctx, 1, 0); err != nil || len(got) != 1 || got[0].Hint != h {
		t.Fatalf("Receive = %+v, %v", got, err)
	}
	c := kv.Cluster{Epoch: 3, Params: kv.DefaultParams()}
	if err := db.Membership().Save(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, loc, "data/late", small, "a", ""); !errors.Is(err, localstore.ErrClosed) {
		t.Fatalf("Put after Close = %v, want ErrClosed", err)
	}

	db = open(t, dir)
	s = db.Store()
	for name, want := range map[string]kv.Blob{
		"data/small": {Data: small, ETag: eSmall, Actor: "n1.1"},
		"data/big":   {Data: big, ETag: eBig, Actor: "n1.2"},
	} {
		b, err := s.Get(ctx, loc, name)
		if err != nil || !bytes.Equal(b.Data, want.Data) || b.ETag != want.ETag || b.Actor != want.Actor {
			t.Fatalf("after reopen %s = %d bytes %s %q, %v", name, len(b.Data), b.ETag, b.Actor, err)
		}
	}
	q = db.HintQueue(time.Minute, 5)
	if st, err := q.Stats(ctx); err != nil || st != (kv.QueueStats{Visible: 1, InFlight: 1}) {
		t.Fatalf("hint Stats after reopen = %+v, %v", st, err)
	}
	got, err := db.Membership().Load(ctx)
	if err != nil || got.Epoch != 3 {
		t.Fatalf("membership after reopen = %+v, %v", got, err)
	}
	if n := len(blobFiles(t, dir)); n != 1 {
		t.Fatalf("%d blob files, want 1", n)
	}
}

// Large values live in files: one per stored object, removed when the object
// is overwritten or deleted, and not left behind by a failed condition.
func TestBlobLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir).Store()
	v1 := bytes.Repeat([]byte("a"), localstore.InlineMax+1)
	v2 := bytes.Repeat([]byte("b"), 3*localstore.InlineMax)
	e1, err := s.Put(ctx, loc, "data/k", v1, "a", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, dir)); n != 1 {
		t.Fatalf("after a large put: %d blob files, want 1", n)
	}
	if _, err := s.Put(ctx, loc, "data/k", v2, "a", ""); !errors.Is(err, kv.ErrPrecondition) {
		t.Fatalf("create over existing = %v", err)
	}
	if _, err := s.Put(ctx, loc, "data/k", v2, "a", `"stale"`); !errors.Is(err, kv.ErrPrecondition) {
		t.Fatalf("stale If-Match = %v", err)
	}
	if n := len(blobFiles(t, dir)); n != 1 {
		t.Fatalf("after failed puts: %d blob files, want 1", n)
	}
	e2, err := s.Put(ctx, loc, "data/k", v2, "b", e1)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, dir)); n != 1 {
		t.Fatalf("after overwrite: %d blob files, want 1", n)
	}
	// Back to a small (inline) value: no file left.
	e3, err := s.Put(ctx, loc, "data/k", []byte("tiny"), "c", e2)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, dir)); n != 0 {
		t.Fatalf("after inline overwrite: %d blob files, want 0", n)
	}
	e4, err := s.Put(ctx, loc, "data/k", v1, "d", e3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, loc, "data/k", e4); err != nil {
		t.Fatal(err)
	}
	if n := len(blobFiles(t, dir)); n != 0 {
		t.Fatalf("after delete: %d blob files, want 0", n)
	}
}

// A crash between writing a value file and committing leaves an orphan file;
// Open removes it and keeps every referenced one.
func TestOpenSweepsOrphanBlobs(t *testing.T) {
	dir := t.TempDir()
	db, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("z"), 2*localstore.InlineMax)
	if _, err := db.Store().Put(ctx, loc, "data/kept", big, "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(dir, "blobs", "ab", "ab0000000000000000000000000000ff")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphan blob still there after Open: %v", err)
	}
	if b, err := db.Store().Get(ctx, loc, "data/kept"); err != nil || !bytes.Equal(b.Data, big) {
		t.Fatalf("referenced blob lost by the sweep: %d bytes, %v", len(b.Data), err)
	}
}

// Readers racing with overwrites of large values always see one whole
// version, never a missing file.
func TestGetDuringOverwrites(t *testing.T) {
	s := open(t, t.TempDir()).Store()
	val := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 2*localstore.InlineMax) }
	etag, err := s.Put(ctx, loc, "data/hot", val(0), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := s.Get(ctx, loc, "data/hot")
				if err != nil || len(b.Data) != 2*localstore.InlineMax || localstore.ETag(b.Data) != b.ETag {
					t.Errorf("Get during overwrites = %d bytes, etag %s, %v", len(b.Data), b.ETag, err)
					return
				}
			}
		}()
	}
	for i := 1; i <= 100; i++ {
		if etag, err = s.Put(ctx, loc, "data/hot", val(i), fmt.Sprint(i), etag); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// Concurrent writers share commits and each gets its own result.
func TestConcurrentWriters(t *testing.T) {
	s := open(t, t.TempDir()).Store()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := kv.Location{Bucket: "b", Prefix: fmt.Sprintf("g%d/", g)}
			for i := range 25 {
				e, err := s.Put(ctx, l, fmt.Sprint("k", i), []byte("v"), "a", "")
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Put(ctx, l, fmt.Sprint("k", i), []byte("w"), "a", e); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Put(ctx, l, fmt.Sprint("k", i), []byte("x"), "a", e); !errors.Is(err, kv.ErrPrecondition) {
					t.Errorf("stale put in a shared commit = %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	items, more, err := s.List(ctx, kv.Location{Bucket: "b"}, "", "", 1000)
	if err != nil || more || len(items) != 200 {
		t.Fatalf("%d objects after the writers (more=%v), %v", len(items), more, err)
	}
	for _, it := range items {
		if it.ETag != localstore.ETag([]byte("w")) {
			t.Fatalf("%s has ETag %s, want that of \"w\"", it.Name, it.ETag)
		}
	}
}

func TestInvalidRequests(t *testing.T) {
	s := open(t, t.TempDir()).Store()
	if _, err := s.Get(ctx, kv.Location{Prefix: "p/"}, "k"); err == nil {
		t.Fatal("Get with no bucket succeeded")
	}
	if _, err := s.Put(ctx, kv.Location{Bucket: "b"}, "", []byte("v"), "a", ""); err == nil {
		t.Fatal("Put with an empty key succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, loc, "k", nil, "", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a done context = %v", err)
	}
}

// A second process (here: a second Open) cannot use a data directory in use.
func TestOpenTwiceIsLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	if db, err := localstore.Open(dir); !errors.Is(err, localstore.ErrLocked) {
		if err == nil {
			_ = db.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}
