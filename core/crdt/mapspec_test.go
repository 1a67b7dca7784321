package crdt

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// The naive specification of maps (and everything they nest), over
// histories: every minted dot is an event with a path ("/x:set/e" for an
// element, "/x:flag" ...) and a payload; an operation is a list of such
// dots plus the dots it cancels, computed from the live dots of the history
// it was applied on (the replica's) or, for removes, of the context's. A
// replica's value is built from the dots its history holds and no event in
// it cancels. There are no clocks, no compaction and no merge: merging is
// the union of histories.
type mdot struct {
	path  string // the field path, e.g. "/x:map/y:set"
	elem  string // a set's element
	actor string // a counter entry's actor
	n     int64  // a counter entry's value, a register's time
	s     string // a register's text
}

type mevent struct {
	adds    []int // dot ids
	cancels []int
}

type mspec struct {
	dots   []mdot
	events []mevent
}

// live returns the live dot ids of history h.
func (sp *mspec) live(h map[int]bool) map[int]bool {
	dead := map[int]bool{}
	for id := range h {
		for _, d := range sp.events[id].cancels {
			dead[d] = true
		}
	}
	out := map[int]bool{}
	for id := range h {
		for _, d := range sp.events[id].adds {
			if !dead[d] {
				out[d] = true
			}
		}
	}
	return out
}

// under returns the dots of live below path (the path itself included).
func (sp *mspec) under(live map[int]bool, path string) []int {
	var out []int
	for d := range live {
		if p := sp.dots[d].path; p == path || strings.HasPrefix(p, path+"/") {
			out = append(out, d)
		}
	}
	return out
}

// apply computes the event of op applied at path on a replica whose live
// dots are local, with the context's live dots ctx; it updates local as the
// operation goes. It reports the errors Apply must report.
func (sp *mspec) apply(op Op, path string, local, ctx map[int]bool, actor string, now int64, ev *mevent) error {
	mint := func(d mdot) {
		sp.dots = append(sp.dots, d)
		id := len(sp.dots) - 1
		ev.adds = append(ev.adds, id)
		local[id] = true
	}
	cancel := func(ids []int) {
		for _, d := range ids {
			ev.cancels = append(ev.cancels, d)
			delete(local, d)
		}
	}
	at := func(set map[int]bool, keep func(mdot) bool) []int {
		var out []int
		for d := range set {
			if sp.dots[d].path == path && keep(sp.dots[d]) {
				out = append(out, d)
			}
		}
		return out
	}
	switch op.Type {
	case Counter:
		var prev int64
		old := at(local, func(d mdot) bool { return d.actor == actor })
		for _, d := range old {
			prev = sp.dots[d].n
		}
		cancel(old)
		mint(mdot{path: path, actor: actor, n: prev + *op.Increment})
	case Set:
		for _, e := range op.Remove {
			seen := at(ctx, func(d mdot) bool { return d.elem == e })
			if len(seen) == 0 {
				return ErrNotSeen
			}
			cancel(seen)
		}
		for _, e := range op.Add {
			cancel(at(local, func(d mdot) bool { return d.elem == e }))
			mint(mdot{path: path, elem: e})
		}
	case Flag:
		cancel(at(local, func(mdot) bool { return true }))
		if *op.Enable {
			mint(mdot{path: path})
		}
	case Register:
		cancel(at(local, func(mdot) bool { return true }))
		mint(mdot{path: path, n: now, s: *op.Assign})
	case Map:
		for _, f := range op.Remove {
			var seen []int
			for _, t := range []Type{Counter, Set, Map, Flag, Register} {
				seen = append(seen, sp.under(ctx, path+"/"+f+":"+string(t))...)
			}
			if len(seen) == 0 {
				return ErrNotSeen
			}
			cancel(seen)
		}
		for _, f := range sortedKeys(op.Update) {
			sub := op.Update[f]
			for _, t := range []Type{Counter, Set, Map, Flag, Register} {
				if t != sub.Type && len(sp.under(local, path+"/"+f+":"+string(t))) > 0 {
					return ErrTypeMismatch
				}
			}
			if err := sp.apply(sub, path+"/"+f+":"+string(sub.Type), local, ctx, actor, now, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// value builds the value the live dots of h show below path (of type t).
func (sp *mspec) value(live map[int]bool, path string, t Type) any {
	at := sp.under(live, path)
	switch t {
	case Counter:
		var n int64
		for _, d := range at {
			if sp.dots[d].path == path {
				n += sp.dots[d].n
			}
		}
		return n
	case Set:
		seen := map[string]bool{}
		for _, d := range at {
			if sp.dots[d].path == path {
				seen[sp.dots[d].elem] = true
			}
		}
		return sortedKeys(seen)
	case Flag:
		return len(at) > 0
	case Register:
		best := -1
		for _, d := range at {
			if best < 0 || sp.dots[d].n > sp.dots[best].n {
				best = d
			}
		}
		if best < 0 {
			return ""
		}
		return sp.dots[best].s
	}
	fields := map[string][]Type{} // name -> types present
	for _, d := range at {
		rest := strings.TrimPrefix(sp.dots[d].path, path+"/")
		if rest == sp.dots[d].path {
			continue
		}
		head, _, _ := strings.Cut(rest, "/")
		name, typ, _ := strings.Cut(head, ":")
		if !containsType(fields[name], Type(typ)) {
			fields[name] = append(fields[name], Type(typ))
		}
	}
	out := map[string]any{}
	for name, types := range fields {
		sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
		for _, typ := range types {
			key := name
			if len(types) > 1 {
				key += ":" + string(typ)
			}
			out[key] = sp.value(live, path+"/"+name+":"+string(typ), typ)
		}
	}
	return out
}

func containsType(ts []Type, t Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// TestMapAgainstSpec: through any history of commits (contexts read from
// any replica) and merges, every replica's map, with every nested type,
// shows the value the specification gives for the events it has seen, and
// Apply fails exactly when the specification says it must.
func TestMapAgainstSpec(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rs := []*replica{{actor: "a", st: New(Map)}, {actor: "b", st: New(Map)}, {actor: "c", st: New(Map)}}
		hs := []map[int]bool{{}, {}, {}}
		sp := &mspec{}
		steps := rapid.IntRange(0, 30).Draw(t, "steps")
		for step := 0; step < steps; step++ {
			i := rapid.IntRange(0, 2).Draw(t, "at")
			if rapid.IntRange(0, 3).Draw(t, "merge?") == 0 {
				j := rapid.IntRange(0, 2).Draw(t, "from")
				rs[i].st = Merge(rs[i].st, rs[j].st)
				hs[i] = union(hs[i], hs[j])
			} else {
				c := rapid.IntRange(0, 2).Draw(t, "read")
				ctx, ch := rs[c].st, hs[c]
				op := drawOp(t, Map, &ctx.Root, 0, "")
				ev := mevent{}
				want := sp.apply(op, "", sp.live(hs[i]), sp.live(ch), string(rs[i].actor), int64(step), &ev)
				got := rs[i].commit(op, &ctx, int64(step))
				if (want == nil) != (got == nil) || (got != nil && !errors.Is(got, want)) {
					t.Fatalf("op %+v: Apply says %v, the specification %v", op, got, want)
				}
				if got == nil {
					sp.events = append(sp.events, ev)
					hs[i] = union(hs[i], map[int]bool{len(sp.events) - 1: true})
				} else {
					sp.dots = sp.dots[:len(sp.dots)-len(ev.adds)] // nothing happened
				}
			}
			for k, r := range rs {
				if want, got := sp.value(sp.live(hs[k]), "", Map), r.st.Value(); !reflect.DeepEqual(want, got) {
					t.Fatalf("replica %d: map %v, spec %v", k, fmt.Sprint(got), fmt.Sprint(want))
				}
			}
		}
	})
}
