package regioncheck

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/s3store"
)

// TestConditionalWriteRace races 8 conditional PUTs with the same
// precondition (If-None-Match: * on a new key, then If-Match on one ETag),
// 100 rounds each, and counts rounds with more than one winner. Cartwheel's
// version vectors need exactly one (S3 guarantees it). kumo, the region
// check's backend, must give exactly one. moto_server 5.2.1 does not under
// load (measured for issue 17: 4-5 rounds of 200 with two winners, for each
// precondition, with three such tests running at once), which is why the
// region check runs on kumo: on moto it lost 1 acknowledged write in about
// 2 runs of 5, with or without the region cut.
func TestConditionalWriteRace(t *testing.T) {
	for _, b := range []Backend{Kumo, Moto} {
		t.Run(string(b), func(t *testing.T) {
			ep := endpoints(t, b)[0]
			ctx := context.Background()
			cfg, err := awsconf.Load(ctx, awsconf.Config{Region: Regions[0], Endpoint: ep,
				AccessKey: awsconf.LocalAccessKey, SecretKey: awsconf.LocalSecretKey})
			if err != nil {
				t.Fatal(err)
			}
			s, err := s3store.New(cfg, s3store.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			loc := kv.Location{Bucket: awstest.UniqueName(t), Prefix: "race/"}
			if err := s.EnsureBucket(ctx, loc); err != nil {
				t.Fatal(err)
			}
			race := func(name, ifMatch string) int32 {
				var wins atomic.Int32
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := s.Put(ctx, loc, name, []byte(fmt.Sprint("v", g)), "a", ifMatch); err == nil {
							wins.Add(1)
						}
					}()
				}
				wg.Wait()
				return wins.Load()
			}
			creates, replaces := 0, 0
			for round := range 100 {
				name := fmt.Sprint("k", round)
				if race(name, "") != 1 {
					creates++
				}
				e, err := s.Put(ctx, loc, name+"-base", []byte("base"), "a", "")
				if err != nil {
					t.Fatal(err)
				}
				if race(name+"-base", e) != 1 {
					replaces++
				}
			}
			t.Logf("%s: rounds without exactly one winner: %d of 100 creates, %d of 100 replaces", b, creates, replaces)
			if creates+replaces == 0 {
				return
			}
			if b == Moto {
				t.Skipf("DEVIATION: moto_server's conditional writes are not atomic (%d create and %d replace rounds of 100 had several winners); the region check runs on kumo", creates, replaces)
			}
			t.Fatalf("%s: conditional writes are not atomic", b)
		})
	}
}
