package crdt

import (
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// The naive specification of the set and the counter, over histories (sets
// of event ids) instead of dots: a replica's value is a function of the
// events it has seen. An add supersedes the adds of its element live where
// it was applied; a remove observes the adds of its element live in the
// context it carries; an element is present while an add of it is neither
// superseded nor observed by a remove in the history.
type specEvent struct {
	elem    string
	add     bool
	incr    int64
	cancels []int // adds superseded (add) or observed (remove)
}

type spec struct{ events []specEvent }

func (s *spec) live(h map[int]bool, elem string) []int {
	dead := map[int]bool{}
	for id := range h {
		for _, x := range s.events[id].cancels {
			dead[x] = true
		}
	}
	var out []int
	for id := range h {
		if e := s.events[id]; e.add && e.elem == elem && !dead[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (s *spec) value(h map[int]bool) []string {
	out := []string{}
	for _, e := range elems {
		if len(s.live(h, e)) > 0 {
			out = append(out, e)
		}
	}
	return out
}

func (s *spec) sum(h map[int]bool) int64 {
	var n int64
	for id := range h {
		n += s.events[id].incr
	}
	return n
}

func union(a, b map[int]bool) map[int]bool {
	out := make(map[int]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestAgainstSpec: through any history of commits (with contexts read from
// any replica) and merges, every replica's set (or counter) value equals the
// specification's value of the events it has seen, and so does the merge of
// all replicas.
func TestAgainstSpec(t *testing.T) {
	for _, typ := range []Type{Set, Counter} {
		t.Run(string(typ), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				rs := []*replica{{actor: "a", st: New(typ)}, {actor: "b", st: New(typ)}, {actor: "c", st: New(typ)}}
				hs := []map[int]bool{{}, {}, {}}
				sp := &spec{}
				steps := rapid.IntRange(0, 40).Draw(t, "steps")
				for step := 0; step < steps; step++ {
					i := rapid.IntRange(0, 2).Draw(t, "at")
					if rapid.IntRange(0, 3).Draw(t, "merge?") == 0 {
						j := rapid.IntRange(0, 2).Draw(t, "from")
						rs[i].st = Merge(rs[i].st, rs[j].st)
						hs[i] = union(hs[i], hs[j])
					} else {
						c := rapid.IntRange(0, 2).Draw(t, "read")
						ctx, ch := rs[c].st, hs[c]
						op := drawOp(t, typ, &ctx.Root, 0, "")
						err := rs[i].commit(op, &ctx, int64(step))
						if errors.Is(err, ErrNotSeen) {
							continue
						}
						if err != nil {
							t.Fatalf("apply: %v", err)
						}
						var evs []specEvent
						if typ == Counter {
							evs = append(evs, specEvent{incr: *op.Increment})
						}
						for _, e := range op.Remove {
							evs = append(evs, specEvent{elem: e, cancels: sp.live(ch, e)})
						}
						h := union(hs[i], nil)
						for _, ev := range evs { // removes first, as Apply does
							sp.events = append(sp.events, ev)
							h[len(sp.events)-1] = true
						}
						for _, e := range op.Add {
							sp.events = append(sp.events, specEvent{elem: e, add: true, cancels: sp.live(h, e)})
							h[len(sp.events)-1] = true
						}
						hs[i] = h
					}
					for k, r := range rs {
						check(t, typ, sp, r.st, hs[k])
					}
				}
				all := Merge(Merge(rs[0].st, rs[1].st), rs[2].st)
				check(t, typ, sp, all, union(union(hs[0], hs[1]), hs[2]))
			})
		})
	}
}

func check(t *rapid.T, typ Type, sp *spec, st State, h map[int]bool) {
	switch typ {
	case Counter:
		if got, want := st.Value().(int64), sp.sum(h); got != want {
			t.Fatalf("counter %d, spec %d", got, want)
		}
	case Set:
		if got, want := st.Value().([]string), sp.value(h); !slices.Equal(got, want) {
			t.Fatalf("set %v, spec %v (clock %v)", got, want, st.Clock)
		}
	}
}
