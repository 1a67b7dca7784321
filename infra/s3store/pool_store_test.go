package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/s3store"
)

// Through a pool of one worker, more concurrent calls than workers all
// complete, and each keeps its own result and its error's sentinel.
func TestWorkersPropagateResultsAndErrors(t *testing.T) {
	b := awstest.Backends(t)[0]
	ctx := context.Background()
	cfg := s3store.DefaultConfig()
	cfg.Workers = 1
	s := newStore(t, b, cfg)
	t.Cleanup(s.Close)
	loc := kv.Location{Bucket: b.NewBucket(t), Prefix: "w/"}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, val := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
			etag, err := s.Put(ctx, loc, name, []byte(val), "a", "")
			if err != nil {
				errs <- fmt.Errorf("put %s: %w", name, err)
				return
			}
			if _, err := s.Put(ctx, loc, name, []byte("x"), "a", `"stale"`); !errors.Is(err, kv.ErrPrecondition) {
				errs <- fmt.Errorf("stale put %s: got %v, want ErrPrecondition", name, err)
			}
			if blob, err := s.Get(ctx, loc, name); err != nil || string(blob.Data) != val || blob.ETag != etag {
				errs <- fmt.Errorf("get %s: %q %s %v, want %q %s", name, blob.Data, blob.ETag, err, val, etag)
			}
			if _, err := s.Get(ctx, loc, name+"-missing"); !errors.Is(err, kv.ErrNotFound) {
				errs <- fmt.Errorf("get missing: got %v, want ErrNotFound", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	listed, _, err := s.List(ctx, loc, "", "", 0)
	if err != nil || len(listed) != n {
		t.Fatalf("list: %d entries, %v; want %d", len(listed), err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, loc, "k0"); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with a cancelled context: got %v, want context.Canceled", err)
	}
}
