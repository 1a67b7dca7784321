package s3store_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/s3store"
)

// errFrozen is the test's write guard refusal (the coordinator's is
// coordinator.ErrSuspended).
var errFrozen = errors.New("operation suspended")

// interposer sends every request to the real endpoint except that its hook
// sees each one first and may answer it instead (a throttled first attempt).
type interposer struct {
	mu   sync.Mutex
	sent []string // "METHOD attempt" of every request that reached the endpoint
	hook func(r *http.Request) *http.Response
}

func (p *interposer) Do(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	hook := p.hook
	p.mu.Unlock()
	if hook != nil {
		if resp := hook(r); resp != nil {
			return resp, nil
		}
	}
	p.mu.Lock()
	p.sent = append(p.sent, r.Method)
	p.mu.Unlock()
	return http.DefaultClient.Do(r)
}

func (p *interposer) methods() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.sent, " ")
}

// slowDown is S3's throttling answer, which the standard retryer retries.
func slowDown(r *http.Request) *http.Response {
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
	return &http.Response{
		StatusCode: http.StatusServiceUnavailable, Status: "503 Slow Down", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: r,
	}
}

// noBackoff retries at once: the test is about what each attempt sends, not
// the wait between them.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// guardedStore is a Store on kumo whose requests pass through p, with the SDK's
// standard retryer (3 attempts) and no backoff.
func guardedStore(t *testing.T, p *interposer) (*s3store.Store, kv.Location) {
	t.Helper()
	b := awstest.Backends(t)[0]
	cfg, err := awsconf.Load(context.Background(), b.Config())
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = p
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} })
	}
	s, err := s3store.New(cfg, s3store.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return s, kv.Location{Endpoint: b.Endpoint, Bucket: b.NewBucket(t), Prefix: "n/"}
}

// A guard that starts refusing while a request is in flight (a freeze during
// the first attempt or the backoff): it must be consulted again before every
// attempt that leaves the process, so the SDK's retry of a throttled
// create-only PUT, and the DELETE after a conditional delete's HEAD, never go
// out. Without a guard the same retry does go out and lands (control: the
// test sees a second attempt when it should).
func TestGuardBeforeEveryAttempt(t *testing.T) {
	ctx := context.Background()
	for _, guarded := range []bool{true, false} {
		name := map[bool]string{true: "guarded", false: "control"}[guarded]
		t.Run("put retried/"+name, func(t *testing.T) {
			p := &interposer{}
			s, loc := guardedStore(t, p)
			var frozen atomic.Bool
			wctx := ctx
			if guarded {
				wctx = kv.WithWriteGuard(ctx, func() error {
					if frozen.Load() {
						return errFrozen
					}
					return nil
				})
			}
			var throttled atomic.Bool
			p.hook = func(r *http.Request) *http.Response {
				if r.Method == http.MethodPut && throttled.CompareAndSwap(false, true) {
					frozen.Store(true) // the freeze comes during the first attempt
					return slowDown(r)
				}
				return nil
			}
			_, err := s.Put(wctx, loc, "k", []byte("old"), "a", "")
			_, gerr := s.Get(ctx, loc, "k")
			if !guarded {
				if err != nil || gerr != nil || p.methods() != "PUT GET" {
					t.Fatalf("control: put %v, get %v, sent %q; want the retried PUT to land", err, gerr, p.methods())
				}
				return
			}
			if !errors.Is(err, errFrozen) {
				t.Fatalf("put = %v, want the guard's refusal", err)
			}
			if !errors.Is(gerr, kv.ErrNotFound) || p.methods() != "GET" {
				t.Fatalf("a refused PUT was retried: sent %q, get %v", p.methods(), gerr)
			}
		})
		t.Run("delete after head/"+name, func(t *testing.T) {
			p := &interposer{}
			s, loc := guardedStore(t, p)
			etag, err := s.Put(ctx, loc, "k", []byte("v"), "a", "")
			if err != nil {
				t.Fatal(err)
			}
			var frozen atomic.Bool
			wctx := ctx
			if guarded {
				wctx = kv.WithWriteGuard(ctx, func() error {
					if frozen.Load() {
						return errFrozen
					}
					return nil
				})
			}
			p.hook = func(r *http.Request) *http.Response {
				if r.Method == http.MethodHead {
					frozen.Store(true) // the freeze comes between the HEAD and the DELETE
				}
				return nil
			}
			err = s.Delete(wctx, loc, "k", etag)
			_, gerr := s.Get(ctx, loc, "k")
			if !guarded {
				if err != nil || !errors.Is(gerr, kv.ErrNotFound) {
					t.Fatalf("control: delete %v, get %v; want it deleted", err, gerr)
				}
				return
			}
			if !errors.Is(err, errFrozen) || gerr != nil || strings.Contains(p.methods(), "DELETE") {
				t.Fatalf("delete = %v, get %v, sent %q; want the DELETE refused before it left", err, gerr, p.methods())
			}
		})
	}
}
