package repair_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// BenchmarkRunConverged measures a run over 10^4 keys on 4,096 partitions
// whose replicas all agree: the LIST-only steady state (trees from listings,
// compared, nothing read or written).
func BenchmarkRunConverged(b *testing.B) {
	cc := newCostCluster(b)
	now := time.Now().UnixMilli()
	actor := vclock.Actor(kv.ActorFor("n1", 1, 1))
	for i := 0; i < 10000; i++ {
		key := fmt.Sprintf("key-%d", i)
		obj, _ := vclock.Update(vclock.Object{Key: key}, nil, actor, vclock.Sibling{Value: []byte("v1")}, now)
		cc.write(b, key, obj, cc.ring.Primaries(key, 3))
	}
	r := cc.repairer(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
