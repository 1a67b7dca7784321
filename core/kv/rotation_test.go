package kv_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
)

// TestEveryRecentKeyIsAccepted (issue 29, finding 6): however rotations
// follow each other, a context signed with any key is accepted while that key
// is current and for ContextKeyGrace after it stopped being current, and
// rejected from then on; two rotations in a row no longer reject the oldest
// key's contexts at once.
func TestEveryRecentKeyIsAccepted(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := kv.NewContextKeys([]byte(fmt.Sprintf("%032d", 0)), testNow)
		now := testNow
		tokens := []string{kv.EncodeContext(keys, testKey, sampleContext())}
		retired := []time.Time{{}} // when each key stopped being current (zero: still current)
		gaps := rapid.SliceOfN(rapid.Int64Range(0, int64(2*kv.ContextKeyGrace/time.Minute)), 0, 12).Draw(t, "gaps (minutes)")
		for i, g := range gaps {
			now = now.Add(time.Duration(g) * time.Minute)
			keys = keys.Rotate([]byte(fmt.Sprintf("%032d", i+1)), now)
			if err := keys.Validate(); err != nil {
				t.Fatalf("after rotation %d: %v", i+1, err)
			}
			retired[len(retired)-1] = now
			retired = append(retired, time.Time{})
			tokens = append(tokens, kv.EncodeContext(keys, testKey, sampleContext()))
		}
		after := time.Duration(rapid.Int64Range(0, int64(2*kv.ContextKeyGrace/time.Minute)).Draw(t, "checked (minutes after the last rotation)")) * time.Minute
		at := now.Add(after)
		for i, tok := range tokens {
			_, err := kv.DecodeContext(keys, testKey, tok, kv.DefaultLimits(), at)
			want := retired[i].IsZero() || at.Before(retired[i].Add(kv.ContextKeyGrace))
			if want && err != nil {
				t.Fatalf("key %d (retired %v), checked at %v: rejected: %v", i+1, retired[i], at, err)
			}
			if !want && !errors.Is(err, kv.ErrBadContext) {
				t.Fatalf("key %d (retired %v), checked at %v: %v, want ErrBadContext", i+1, retired[i], at, err)
			}
		}
	})
}
