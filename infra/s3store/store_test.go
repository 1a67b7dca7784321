package s3store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/storetest"
)

func newStore(t *testing.T, b awstest.Backend, cfg s3store.Config) *s3store.Store {
	t.Helper()
	s, err := s3store.New(b.AWS(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// conformance runs the replica-store suite on b, without the concurrent
// conditional-write races where b is known not to make them atomic.
func conformance(t *testing.T, b awstest.Backend, newStore func(t *testing.T) (kv.ReplicaStore, kv.Location)) {
	if b.NonAtomicConditionalWrites {
		t.Logf("DEVIATION: %s's conditional writes are not atomic under load; the concurrent-write races run on the other backends only", b.Name)
		storetest.ReplicaStoreWithoutRaces(t, newStore)
		return
	}
	storetest.ReplicaStore(t, newStore)
}

func TestConformance(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		bucket := b.NewBucket(t) // one bucket, a fresh prefix per subtest
		n := 0
		conformance(t, b, func(t *testing.T) (kv.ReplicaStore, kv.Location) {
			n++
			return newStore(t, b, s3store.DefaultConfig()), kv.Location{Bucket: bucket, Prefix: "node-" + strings.Repeat("x", n) + "/"}
		})
	})
}

// Without VerifyDelete only the conditional DeleteObject protects a newer
// version; that holds where the endpoint enforces If-Match on DeleteObject.
func TestDeleteIfMatchWithoutVerify(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		if b.IgnoresDeleteIfMatch {
			t.Skipf("DEVIATION: %s ignores If-Match on DeleteObject; s3store relies on Config.VerifyDelete (HEAD first) there", b.Name)
		}
		ctx := context.Background()
		cfg := s3store.DefaultConfig()
		cfg.VerifyDelete = false
		s := newStore(t, b, cfg)
		loc := kv.Location{Bucket: b.NewBucket(t), Prefix: "n/"}
		e1, err := s.Put(ctx, loc, "k", []byte("v1"), "a", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, loc, "k", []byte("v2"), "a", e1); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, loc, "k", e1); !errors.Is(err, kv.ErrPrecondition) {
			t.Fatalf("stale conditional delete: got %v, want ErrPrecondition", err)
		}
		if _, err := s.Get(ctx, loc, "k"); err != nil {
			t.Fatalf("object gone after a refused delete: %v", err)
		}
		if err := s.Delete(ctx, loc, "missing", e1); err != nil {
			t.Fatalf("conditional delete of a missing object: %v", err)
		}
	})
}

// The deviation itself, so that a kumo upgrade that fixes it is noticed.
func TestKumoIgnoresDeleteIfMatch(t *testing.T) {
	b := awstest.Backends(t)[0]
	ctx := context.Background()
	c := b.S3(t)
	bucket := b.NewBucket(t)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String("k"), IfMatch: aws.String(`"0123"`)})
	_, herr := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("k")})
	if err != nil || herr == nil {
		t.Fatalf("kumo now enforces If-Match on DeleteObject (delete: %v): set Backend.IgnoresDeleteIfMatch false", err)
	}
	t.Logf("DEVIATION confirmed: %s deleted an object despite a wrong If-Match", b.Name)
}

// Locations carry their own endpoint: one client per endpoint, the default
// endpoint for the rest, and a bad endpoint fails only its own location.
func TestPerLocationEndpoint(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		s := newStore(t, b, s3store.Config{Endpoint: "http://127.0.0.1:1", VerifyDelete: true}) // default endpoint unusable
		bucket := b.NewBucket(t)
		good := kv.Location{Endpoint: b.Endpoint, Bucket: bucket, Prefix: "a/"}
		bad := kv.Location{Bucket: bucket, Prefix: "a/"}
		if _, err := s.Put(ctx, good, "k", []byte("v"), "x", ""); err != nil {
			t.Fatalf("put on explicit endpoint: %v", err)
		}
		if _, err := s.Get(ctx, good, "k"); err != nil {
			t.Fatalf("get on explicit endpoint: %v", err)
		}
		ctxShort, cancel := context.WithCancel(ctx)
		cancel() // no need to wait for retries against a closed port
		if _, err := s.Get(ctxShort, bad, "k"); err == nil || errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("get on the unusable default endpoint: got %v, want a transport error", err)
		}
		if s.Client(good) != s.Client(kv.Location{Endpoint: b.Endpoint, Bucket: "other"}) {
			t.Fatal("two clients for one endpoint")
		}
		if s.Client(good) == s.Client(bad) {
			t.Fatal("one client for two endpoints")
		}
	})
}

func TestEnsureBucketIdempotent(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		s := newStore(t, b, s3store.DefaultConfig())
		loc := kv.Location{Bucket: b.NewBucket(t)} // created once already
		for range 2 {
			if err := s.EnsureBucket(ctx, loc); err != nil {
				t.Fatalf("EnsureBucket on an existing bucket: %v", err)
			}
		}
		if _, err := s.Put(ctx, loc, "k", []byte("v"), "a", ""); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMissingBucketIsNotNotFound(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		s := newStore(t, b, s3store.DefaultConfig())
		loc := kv.Location{Bucket: awstest.UniqueName(t), Prefix: "p/"}
		_, err := s.Get(context.Background(), loc, "k")
		if err == nil || errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get in a missing bucket: got %v, want an error other than ErrNotFound", err)
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	b := awstest.Backends(t)[0]
	s := newStore(t, b, s3store.DefaultConfig())
	ctx := context.Background()
	if _, err := s.Put(ctx, kv.Location{Bucket: "b"}, "", []byte("v"), "a", ""); err == nil {
		t.Error("Put with an empty key succeeded")
	}
	if _, err := s.Get(ctx, kv.Location{Prefix: "p/"}, "k"); err == nil {
		t.Error("Get without a bucket succeeded")
	}
	if err := s.Delete(ctx, kv.Location{Bucket: "b"}, "", ""); err == nil {
		t.Error("Delete with an empty key succeeded")
	}
	if _, _, err := s.List(ctx, kv.Location{}, "", "", 1); err == nil {
		t.Error("List without a bucket succeeded")
	}
	if _, err := s3store.New(b.AWS(t), s3store.Config{Endpoint: "127.0.0.1:4566"}); err == nil {
		t.Error("New accepted an endpoint without a scheme")
	}
}

// TestConformanceUnorderedList runs the conformance suite with List served
// from sorted snapshots, the path S3 Express directory buckets take (their
// ListObjectsV2 is not lexicographic and has no StartAfter).
func TestConformanceUnorderedList(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		bucket := b.NewBucket(t)
		n := 0
		cfg := s3store.DefaultConfig()
		cfg.UnorderedList = true
		conformance(t, b, func(t *testing.T) (kv.ReplicaStore, kv.Location) {
			n++
			return newStore(t, b, cfg), kv.Location{Bucket: bucket, Prefix: "node-" + strings.Repeat("u", n) + "/"}
		})
	})
}
