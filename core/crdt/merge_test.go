package crdt

import (
	"testing"

	"pgregory.net/rapid"
)

// TestMergeLaws: for every type (maps nest every other type), states reached
// by any history of commits and merges merge commutatively, associatively
// and idempotently, stay valid, and survive an encode/decode round trip.
func TestMergeLaws(t *testing.T) {
	for _, typ := range []Type{Counter, Set, Map} {
		t.Run(string(typ), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				rs := history(t, typ, rapid.IntRange(0, 30).Draw(t, "steps"))
				a, b, c := rs[0].st, rs[1].st, rs[2].st
				for _, s := range []State{a, b, c, Merge(a, b)} {
					if err := s.Validate(); err != nil {
						t.Fatalf("invalid state %s: %v", dump(s), err)
					}
					d, err := Decode(Encode(s), DefaultDecodeLimits())
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					sameState(t, "round trip", d, s)
				}
				sameState(t, "commutative", Merge(a, b), Merge(b, a))
				sameState(t, "associative", Merge(Merge(a, b), c), Merge(a, Merge(b, c)))
				sameState(t, "idempotent", Merge(a, a), a)
				sameState(t, "absorbs", Merge(Merge(a, b), b), Merge(a, b))
			})
		})
	}
}
