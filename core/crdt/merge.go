package crdt

import (
	"slices"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// Merge joins two states of one key: a dot survives if both sides hold it,
// or if one holds it and the other has not seen it; the clocks are merged.
// It is commutative, associative and idempotent. The states must have the
// same root type (the caller checks: see Join); neither is modified.
func Merge(a, b State) State {
	root := joinStore(&a.Root, &b.Root, a.Clock, b.Clock)
	return State{Clock: vclock.Merge(a.Clock, b.Clock), Root: root}
}

// keep applies the join rule to the dots of one side: d is kept if the other
// side holds it too, or has not seen it.
func keep(d vclock.Dot, otherHas bool, other vclock.Clock) bool {
	return otherHas || !other.Covers(d)
}

func joinStore(a, b *Store, ca, cb vclock.Clock) Store {
	out := Store{Type: a.Type}
	switch a.Type {
	case Set:
		for e, da := range a.Elems {
			if ds := joinDots(da, b.Elems[e], ca, cb); len(ds) > 0 {
				out.setElem(e, ds)
			}
		}
		for e, db := range b.Elems {
			if _, ok := a.Elems[e]; ok {
				continue
			}
			if ds := joinDots(nil, db, ca, cb); len(ds) > 0 {
				out.setElem(e, ds)
			}
		}
	case Map:
		empty := func(t Type) *Store { return &Store{Type: t} }
		for f, sa := range a.Fields {
			sb, ok := b.Fields[f]
			if !ok {
				sb = empty(f.Type)
			}
			out.setField(f, joinStore(sa, sb, ca, cb))
		}
		for f, sb := range b.Fields {
			if _, ok := a.Fields[f]; !ok {
				out.setField(f, joinStore(empty(f.Type), sb, ca, cb))
			}
		}
	default:
		out.Entries = joinEntries(a.Entries, b.Entries, ca, cb)
	}
	return out
}

// setElem records element e with dots ds (not empty).
func (s *Store) setElem(e string, ds []vclock.Dot) {
	if s.Elems == nil {
		s.Elems = map[string][]vclock.Dot{}
	}
	s.Elems[e] = ds
}

// setField records field f unless its store is empty (a field exists only
// while it holds a dot).
func (s *Store) setField(f Field, sub Store) {
	if sub.empty() {
		delete(s.Fields, f)
		return
	}
	if s.Fields == nil {
		s.Fields = map[Field]*Store{}
	}
	s.Fields[f] = &sub
}

// joinDots joins two sorted dot lists under the join rule.
func joinDots(a, b []vclock.Dot, ca, cb vclock.Clock) []vclock.Dot {
	var out []vclock.Dot
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Less(b[j])):
			if keep(a[i], false, cb) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || b[j].Less(a[i]):
			if keep(b[j], false, ca) {
				out = append(out, b[j])
			}
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// joinEntries joins two sorted entry lists under the join rule. Entries of
// one dot are identical by construction (a dot is minted once); if
// corruption made them differ, the larger is kept on every side alike.
func joinEntries(a, b []Entry, ca, cb vclock.Clock) []Entry {
	var out []Entry
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Dot.Less(b[j].Dot)):
			if keep(a[i].Dot, false, cb) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || b[j].Dot.Less(a[i].Dot):
			if keep(b[j].Dot, false, ca) {
				out = append(out, b[j])
			}
			j++
		default:
			e := a[i]
			if b[j].N > e.N || (b[j].N == e.N && b[j].S > e.S) {
				e = b[j]
			}
			out = append(out, e)
			i++
			j++
		}
	}
	return out
}

// dropDots removes from s every dot in ds (sorted), recursively, dropping
// elements and fields left without a dot.
func (s *Store) dropDots(ds []vclock.Dot) {
	in := func(d vclock.Dot) bool {
		_, ok := slices.BinarySearchFunc(ds, d, cmpDot)
		return ok
	}
	s.Entries = slices.DeleteFunc(s.Entries, func(e Entry) bool { return in(e.Dot) })
	if len(s.Entries) == 0 {
		s.Entries = nil
	}
	for e, eds := range s.Elems {
		eds = slices.DeleteFunc(eds, in)
		if len(eds) == 0 {
			delete(s.Elems, e)
		} else {
			s.Elems[e] = eds
		}
	}
	if len(s.Elems) == 0 {
		s.Elems = nil
	}
	for f, sub := range s.Fields {
		sub.dropDots(ds)
		if sub.empty() {
			delete(s.Fields, f)
		}
	}
	if len(s.Fields) == 0 {
		s.Fields = nil
	}
}

func cmpDot(a, b vclock.Dot) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}
