package crdt

import (
	"slices"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// Value is the state's value as the HTTP API shows it: a counter's int64, a
// set's sorted []string, a map's map[string]any (a flag's bool, a
// register's string). A map field name written concurrently with several
// types is shown once per type, as "name:type".
func (s State) Value() any { return s.Root.value() }

func (s *Store) value() any {
	switch s.Type {
	case Counter:
		var n int64
		for _, e := range s.Entries {
			n += e.N
		}
		return n
	case Set:
		out := sortedKeys(s.Elems)
		return out
	case Flag:
		return len(s.Entries) > 0
	case Register:
		return registerValue(s.Entries)
	default:
		out := map[string]any{}
		count := map[string]int{}
		for f := range s.Fields {
			count[f.Name]++
		}
		for f, sub := range s.Fields {
			name := f.Name
			if count[name] > 1 {
				name += ":" + string(f.Type)
			}
			out[name] = sub.value()
		}
		return out
	}
}

// registerValue is the last writer's text: the assignment with the latest
// time, ties broken by the greater dot (actor, then counter). Concurrent
// assignments all stay in the state until the next assignment replaces them.
func registerValue(es []Entry) string {
	if len(es) == 0 {
		return ""
	}
	best := slices.MaxFunc(es, func(a, b Entry) int {
		if a.N != b.N {
			if a.N < b.N {
				return -1
			}
			return 1
		}
		return cmpDot(a.Dot, b.Dot)
	})
	return best.S
}

// Empty reports whether the state holds no value (every element and field
// removed, or never written). An empty counter is not empty: it has its
// increments' entries.
func (s State) Empty() bool { return s.Root.empty() }

// Dots returns every dot the state holds, sorted.
func (s State) Dots() []vclock.Dot {
	ds := s.Root.dots(nil)
	slices.SortFunc(ds, cmpDot)
	return ds
}
