package modeltest

import (
	"context"
	"fmt"
	"slices"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// DotLedger remembers every version seen in any stored object, by dot, so
// that a dot minted twice (two different versions with one dot, which
// version vectors would treat as one: a write silently lost) is caught the
// moment both exist, wherever they are: data objects, hinted replicas, or
// one of each at different times. Stubs (kv.StubData) hold no version.
type DotLedger struct {
	seen map[vclock.Dot]vclock.Sibling
	// Primaries, if set, names a key's primaries, so that Fallback can count
	// the dots minted by other nodes (in hinted replicas).
	Primaries func(key string) []string
	// Fallback counts the distinct dots minted outside the key's primaries.
	Fallback int
}

// NewDotLedger returns an empty ledger.
func NewDotLedger() *DotLedger { return &DotLedger{seen: map[vclock.Dot]vclock.Sibling{}} }

// Len is the number of distinct dots recorded.
func (l *DotLedger) Len() int { return len(l.seen) }

// Check reads every object at every location and records its versions. It
// returns an error naming the dot if a version differs from one recorded
// before under the same dot.
func (l *DotLedger) Check(ctx context.Context, store kv.ReplicaStore, locs map[string]kv.Location) error {
	for id, loc := range locs {
		after := ""
		for {
			items, more, err := store.List(ctx, loc, "", after, 1000)
			if err != nil {
				return fmt.Errorf("dot ledger: list %s: %w", id, err)
			}
			for _, it := range items {
				after = it.Name
				if err := l.object(ctx, store, id, loc, it.Name); err != nil {
					return err
				}
			}
			if !more || len(items) == 0 {
				break
			}
		}
	}
	return nil
}

func (l *DotLedger) object(ctx context.Context, store kv.ReplicaStore, id string, loc kv.Location, name string) error {
	b, err := store.Get(ctx, loc, name)
	if err != nil {
		return fmt.Errorf("dot ledger: read %s on %s: %w", name, id, err)
	}
	if kv.IsStub(b.Data) {
		return nil
	}
	o, err := vclock.Decode(b.Data, vclock.DecodeLimits())
	if err != nil {
		return nil // a corrupt object holds no version anyone can read
	}
	for _, s := range o.Siblings {
		prev, ok := l.seen[s.Dot]
		if !ok {
			l.seen[s.Dot] = s
			if node, _, err := kv.ParseActor(string(s.Dot.Actor)); err == nil && l.Primaries != nil && !slices.Contains(l.Primaries(o.Key), node) {
				l.Fallback++
			}
			continue
		}
		if prev.Tombstone != s.Tombstone || prev.Time != s.Time || prev.ContentType != s.ContentType || string(prev.Value) != string(s.Value) {
			return fmt.Errorf("dot %s names two versions: %q (tombstone %v) and, in %s on %s, %q (tombstone %v)",
				s.Dot, prev.Value, prev.Tombstone, name, id, s.Value, s.Tombstone)
		}
	}
	return nil
}
