package coordinator

import (
	"context"
	"testing"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
)

// TestEveryHintIsAccountedFor: once the queue is drained, every hint queued
// is counted either as delivered (it moved a hinted replica) or as obsolete
// (an earlier hint for the same replica, or a repair, carried it already),
// so "queued 1900, delivered 108" cannot be read as 1792 hints still
// waiting. Several writes hinted for one key share one hinted replica.
func TestEveryHintIsAccountedFor(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := newEnv(t, 5)
		co := e.coord()
		key := "acct"
		prim := e.primaries(key)
		writes := rapid.IntRange(1, 6).Draw(rt, "writes")
		e.setState(prim[1], kv.StateDown)
		for i := range writes {
			mustPut(t, co, key, "", string(rune('a'+i)), Options{})
		}
		e.setState(prim[1], kv.StateActive)
		hints := e.takeHints()
		for _, h := range hints {
			if err := co.DeliverHint(context.Background(), h); err != nil {
				rt.Fatal(err)
			}
		}
		s := co.Stats().Snapshot()
		if s.HintsQueued != int64(len(hints)) || s.HintsDelivered+s.HintsObsolete != s.HintsQueued || s.HintsDelivered == 0 {
			rt.Fatalf("%d writes, %d hints: queued %d, delivered %d, obsolete %d", writes, len(hints), s.HintsQueued, s.HintsDelivered, s.HintsObsolete)
		}
	})
}
