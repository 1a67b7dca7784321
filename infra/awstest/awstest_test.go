package awstest_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/infra/awstest"
)

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func TestUniqueName(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{"Simple", "With Spaces/and_UNDERSCORES", strings.Repeat("VeryLong", 20), "---", "Ünïcode"} {
		t.Run(name, func(t *testing.T) {
			n := awstest.UniqueName(t)
			if !bucketName.MatchString(n) || len(n) > 50 || strings.Contains(n, "--") || seen[n] {
				t.Fatalf("UniqueName = %q: not a valid, unique bucket/queue/table name", n)
			}
			seen[n] = true
		})
	}
}

func TestBackends(t *testing.T) {
	bs := awstest.Backends(t)
	if len(bs) == 0 || bs[0].Name != "kumo" || bs[0].Endpoint == "" || !bs[0].IgnoresDeleteIfMatch {
		t.Fatalf("first backend = %+v, want kumo", bs[0])
	}
	if again := awstest.Backends(t); again[0].Endpoint != bs[0].Endpoint {
		t.Fatal("kumo started twice in one test binary")
	}
	names := map[string]bool{}
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		names[b.Name] = true
		if cfg := b.AWS(t); cfg.Region != awstest.Region {
			t.Fatalf("region %s", cfg.Region)
		}
		// Every helper makes a usable, distinct resource.
		if b1, b2 := b.NewBucket(t), b.NewBucket(t); b1 == b2 {
			t.Fatal("NewBucket returned one name twice")
		}
		q, dlq := b.NewQueue(t)
		if q == "" || dlq == "" || q == dlq {
			t.Fatalf("NewQueue = %q, %q", q, dlq)
		}
		if b.NewTable(t) == "" {
			t.Fatal("NewTable returned no name")
		}
	})
	if len(names) != len(bs) {
		t.Fatalf("ForEach ran %v for %d backends", names, len(bs))
	}
}
