// Package crdt holds Cartwheel's convergent data types: a counter, an
// observed-remove set, and a map of nested counters, sets, flags, registers
// and maps, in the style of Riak 2.0's data types but with one causal context
// per key and no tombstones for removed elements or fields.
//
// Every type is a "dot store" under one causal context (Almeida, Shoker and
// Baquero, Delta state replicated data types): the State's Clock is every
// event its holder has seen, and each element, field, flag or register keeps
// only the dots (events) that created it and are not yet superseded. Merge
// keeps a dot that both sides hold, or that one side holds and the other has
// not seen; a dot one side has seen and no longer holds was removed. So an
// observed remove needs no tombstone: it drops the observed dots and the
// clock remembers them (ORSWOT, Bieniusa et al.).
//
// Dots are minted where the operation is applied: at the replica that
// commits the write, whose actor is the vclock actor of its replica object,
// serialized by that object's conditional writes (see Apply). Every function
// is pure.
package crdt

import (
	"errors"
	"fmt"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// ContentType marks a sibling whose value is an encoded State: a typed key.
const ContentType = "application/vnd.cartwheel.crdt"

// Type names a data type.
type Type string

// The data types. Counter, Set and Map may be a key's type; Flag and
// Register live only inside maps.
const (
	Counter  Type = "counter"
	Set      Type = "set"
	Map      Type = "map"
	Flag     Type = "flag"
	Register Type = "register"
)

// Errors, matched with errors.Is.
var (
	// ErrTypeMismatch: the key (or map field) holds another type, or opaque values.
	ErrTypeMismatch = errors.New("type mismatch")
	// ErrNotSeen: a remove names an element or field the context never saw.
	ErrNotSeen = errors.New("precondition failed")
	// ErrBadOp: the operation is malformed or over a limit.
	ErrBadOp = errors.New("bad operation")
	// ErrCorrupt wraps every decoding error.
	ErrCorrupt = errors.New("crdt: corrupt encoding")
)

// topLevel reports whether t may be a key's type.
func (t Type) topLevel() bool { return t == Counter || t == Set || t == Map }

// valid reports whether t is a known type.
func (t Type) valid() bool { return t.topLevel() || t == Flag || t == Register }

// Entry is one dot of a counter, flag or register with its payload: a
// counter's entry holds its actor's net contribution (N), a register's its
// text (S) and the assigning replica's Unix-millisecond time (N).
type Entry struct {
	Dot vclock.Dot
	N   int64
	S   string
}

// Field names a map field: a name and the type it holds. A name written
// concurrently with two types keeps both fields.
type Field struct {
	Name string
	Type Type
}

// Store is the dot store of one value of type Type. Only the part of its
// type is used: Entries (counter, flag, register; sorted by dot), Elems (set:
// element -> sorted dots, never empty) or Fields (map: never an empty store).
type Store struct {
	Type    Type
	Entries []Entry
	Elems   map[string][]vclock.Dot
	Fields  map[Field]*Store
}

// State is a key's whole typed value: its causal context and its root store.
// The zero State of a type (State{Root: Store{Type: t}}) is the empty value.
type State struct {
	Clock vclock.Clock
	Root  Store
}

// New returns the empty state of type t.
func New(t Type) State { return State{Root: Store{Type: t}} }

// empty reports whether the store holds no dot.
func (s *Store) empty() bool {
	return len(s.Entries) == 0 && len(s.Elems) == 0 && len(s.Fields) == 0
}

// dots appends every dot of the store (recursively) to out.
func (s *Store) dots(out []vclock.Dot) []vclock.Dot {
	for _, e := range s.Entries {
		out = append(out, e.Dot)
	}
	for _, ds := range s.Elems {
		out = append(out, ds...)
	}
	for _, f := range s.Fields {
		out = f.dots(out)
	}
	return out
}

// clone returns a deep copy of the store.
func (s *Store) clone() Store {
	out := Store{Type: s.Type, Entries: append([]Entry(nil), s.Entries...)}
	if s.Elems != nil {
		out.Elems = make(map[string][]vclock.Dot, len(s.Elems))
		for k, v := range s.Elems {
			out.Elems[k] = append([]vclock.Dot(nil), v...)
		}
	}
	if s.Fields != nil {
		out.Fields = make(map[Field]*Store, len(s.Fields))
		for k, v := range s.Fields {
			c := v.clone()
			out.Fields[k] = &c
		}
	}
	return out
}

// Validate checks the invariants: known types, sorted and covered dots, no
// empty element or field.
func (s State) Validate() error {
	if !s.Root.Type.topLevel() {
		return fmt.Errorf("%w: %q is not a key's type", ErrCorrupt, s.Root.Type)
	}
	if err := s.Clock.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return s.Root.validate(s.Clock, 0)
}

func (s *Store) validate(c vclock.Clock, depth int) error {
	if !s.Type.valid() || depth > MaxDepth {
		return fmt.Errorf("%w: bad type %q at depth %d", ErrCorrupt, s.Type, depth)
	}
	sorted := func(ds []vclock.Dot) error {
		for i, d := range ds {
			if !c.Covers(d) || (i > 0 && !ds[i-1].Less(d)) {
				return fmt.Errorf("%w: dot %s uncovered or out of order", ErrCorrupt, d)
			}
		}
		return nil
	}
	ds := make([]vclock.Dot, len(s.Entries))
	for i, e := range s.Entries {
		ds[i] = e.Dot
	}
	if err := sorted(ds); err != nil {
		return err
	}
	switch s.Type {
	case Set:
		if len(s.Entries) > 0 || len(s.Fields) > 0 {
			return fmt.Errorf("%w: a set with entries or fields", ErrCorrupt)
		}
		for e, ds := range s.Elems {
			if len(ds) == 0 {
				return fmt.Errorf("%w: element %q without a dot", ErrCorrupt, e)
			}
			if err := sorted(ds); err != nil {
				return err
			}
		}
	case Map:
		if len(s.Entries) > 0 || len(s.Elems) > 0 {
			return fmt.Errorf("%w: a map with entries or elements", ErrCorrupt)
		}
		for f, sub := range s.Fields {
			if f.Type != sub.Type || sub.empty() {
				return fmt.Errorf("%w: field %q empty or of the wrong type", ErrCorrupt, f.Name)
			}
			if err := sub.validate(c, depth+1); err != nil {
				return err
			}
		}
	default:
		if len(s.Elems) > 0 || len(s.Fields) > 0 {
			return fmt.Errorf("%w: a %s with elements or fields", ErrCorrupt, s.Type)
		}
		if s.Type == Flag {
			for _, e := range s.Entries {
				if e.N != 0 || e.S != "" {
					return fmt.Errorf("%w: a flag's dot with a payload", ErrCorrupt)
				}
			}
		}
	}
	return nil
}
