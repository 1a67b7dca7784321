package crdt

import (
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// Limits of one operation and of a state's nesting.
const (
	MaxDepth      = 8        // nested maps below the root
	MaxOpItems    = 1000     // elements, fields and nested operations in one operation
	MaxNameBytes  = 1024     // one element or field name
	MaxTextBytes  = 64 << 10 // one register's text
	MaxIncrement  = 1 << 53  // |increment|, and |counter| after it
	dotsPerCommit = 1 << 16  // dots one commit may mint (see Apply)
)

// Op is one operation, in the JSON shape of the HTTP API. Only the members
// of its Type may be set: counter Increment; set Add and Remove (elements);
// map Update and Remove (field names); flag Enable; register Assign. Context
// (the signed context of a read) belongs to the top-level operation only;
// the caller decodes it and passes it to Apply as a State.
type Op struct {
	Type      Type          `json:"type"`
	Increment *int64        `json:"increment,omitempty"`
	Add       []string      `json:"add,omitempty"`
	Remove    []string      `json:"remove,omitempty"`
	Enable    *bool         `json:"enable,omitempty"`
	Assign    *string       `json:"assign,omitempty"`
	Update    map[string]Op `json:"update,omitempty"`
	Context   string        `json:"context,omitempty"`
}

// Check validates an operation against its type and the limits; every
// error wraps ErrBadOp and names the problem.
func (op Op) Check() error {
	if !op.Type.topLevel() {
		return fmt.Errorf("%w: type %q: want counter, set or map", ErrBadOp, op.Type)
	}
	items := 0
	return op.check("", 0, &items)
}

// NeedsContext reports whether the operation removes something (and so
// needs the context of a read).
func (op Op) NeedsContext() bool {
	if len(op.Remove) > 0 {
		return true
	}
	for _, sub := range op.Update {
		if sub.NeedsContext() {
			return true
		}
	}
	return false
}

func (op Op) check(path string, depth int, items *int) error {
	bad := func(format string, a ...any) error {
		where := ""
		if path != "" {
			where = " (field " + path + ")"
		}
		return fmt.Errorf("%w: %s%s", ErrBadOp, fmt.Sprintf(format, a...), where)
	}
	if depth > 0 && op.Context != "" {
		return bad("a context belongs to the top-level operation only")
	}
	names := func(what string, l []string) error {
		for _, n := range l {
			*items++
			if len(n) > MaxNameBytes || !utf8.ValidString(n) {
				return bad("%s %.40q: not UTF-8 or over %d bytes", what, n, MaxNameBytes)
			}
		}
		if *items > MaxOpItems {
			return bad("more than %d elements, fields and operations", MaxOpItems)
		}
		return nil
	}
	only := func(ok bool, which string) error {
		if !ok {
			return bad("a %s operation takes only %s", op.Type, which)
		}
		return nil
	}
	switch op.Type {
	case Counter:
		if err := only(op.Add == nil && op.Remove == nil && op.Enable == nil && op.Assign == nil && op.Update == nil, `"increment"`); err != nil {
			return err
		}
		if op.Increment == nil {
			return bad(`a counter operation needs "increment"`)
		}
		if n := *op.Increment; n > MaxIncrement || n < -MaxIncrement {
			return bad("increment %d: over %d", n, int64(MaxIncrement))
		}
	case Set:
		if err := only(op.Increment == nil && op.Enable == nil && op.Assign == nil && op.Update == nil, `"add" and "remove"`); err != nil {
			return err
		}
		if len(op.Add) == 0 && len(op.Remove) == 0 {
			return bad(`a set operation needs "add" or "remove"`)
		}
		if err := names("element", op.Add); err != nil {
			return err
		}
		return names("element", op.Remove)
	case Flag:
		if err := only(op.Increment == nil && op.Add == nil && op.Remove == nil && op.Assign == nil && op.Update == nil, `"enable"`); err != nil {
			return err
		}
		if op.Enable == nil {
			return bad(`a flag operation needs "enable"`)
		}
	case Register:
		if err := only(op.Increment == nil && op.Add == nil && op.Remove == nil && op.Enable == nil && op.Update == nil, `"assign"`); err != nil {
			return err
		}
		if op.Assign == nil {
			return bad(`a register operation needs "assign"`)
		}
		if len(*op.Assign) > MaxTextBytes || !utf8.ValidString(*op.Assign) {
			return bad("register text: not UTF-8 or over %d bytes", MaxTextBytes)
		}
	case Map:
		if err := only(op.Increment == nil && op.Add == nil && op.Enable == nil && op.Assign == nil, `"update" and "remove"`); err != nil {
			return err
		}
		if len(op.Update) == 0 && len(op.Remove) == 0 {
			return bad(`a map operation needs "update" or "remove"`)
		}
		if depth >= MaxDepth {
			return bad("maps nested deeper than %d", MaxDepth)
		}
		if err := names("field", op.Remove); err != nil {
			return err
		}
		for _, name := range sortedKeys(op.Update) {
			if err := names("field", []string{name}); err != nil {
				return err
			}
			if err := op.Update[name].check(path+"/"+name, depth+1, items); err != nil {
				return err
			}
		}
	default:
		return bad("unknown type %q", op.Type)
	}
	return nil
}

// minter hands out the dots of one commit: (actor, k*2^16 + i) for the
// commit's vclock dot (actor, k), so they are unique wherever vclock dots
// are, and every earlier dot of the actor has a smaller counter.
type minter struct {
	actor vclock.Actor
	base  uint64
	next  uint64
}

func (m *minter) mint() (vclock.Dot, error) {
	if m.next >= dotsPerCommit {
		return vclock.Dot{}, fmt.Errorf("%w: more than %d new dots in one operation", ErrBadOp, dotsPerCommit)
	}
	d := vclock.Dot{Actor: m.actor, Counter: m.base + m.next}
	m.next++
	return d, nil
}

// Apply applies op (already checked) to s, the state held by the replica
// that commits the write: a is that replica object's actor and k the
// counter of the vclock dot the commit mints, now its time (Unix ms). ctx is
// the state the client's context carries (nil without a context); removes
// drop only the dots it saw, and fail with ErrNotSeen for an element or
// field it never saw. s may be the zero State (an absent key). s is not
// modified.
//
// Safety: the new dots are unique because (a, k) is; and the result claims
// every dot of a up to the new ones, which is true because a's dots are only
// minted at this replica object, whose state (serialized by conditional
// writes) holds every earlier one or saw it removed.
func Apply(s State, op Op, ctx *State, a vclock.Actor, k uint64, now int64) (State, error) {
	if s.Root.Type == "" {
		s = New(op.Type)
	}
	if s.Root.Type != op.Type {
		return State{}, fmt.Errorf("%w: the key holds a %s, not a %s", ErrTypeMismatch, s.Root.Type, op.Type)
	}
	if k == 0 || k >= math.MaxUint64/dotsPerCommit {
		return State{}, fmt.Errorf("%w: commit counter %d out of range", ErrBadOp, k)
	}
	var cs *Store
	if ctx != nil {
		if ctx.Root.Type != op.Type {
			return State{}, fmt.Errorf("%w: the context is of a %s, not a %s", ErrTypeMismatch, ctx.Root.Type, op.Type)
		}
		cs = &ctx.Root
	}
	m := &minter{actor: a, base: k * dotsPerCommit}
	root := s.Root.clone()
	var seen []vclock.Dot
	if err := root.apply(op, cs, m, now, "", &seen); err != nil {
		return State{}, err
	}
	clock := vclock.Merge(s.Clock, vclock.Clock{{Actor: a, Counter: m.base + dotsPerCommit - 1}})
	for _, d := range seen { // removed dots the replica may not have seen yet
		clock = vclock.Merge(clock, vclock.DotClock(d, 0))
	}
	return State{Clock: clock, Root: root}, nil
}

func (s *Store) apply(op Op, cs *Store, m *minter, now int64, path string, seen *[]vclock.Dot) error {
	if cs != nil && cs.Type != s.Type {
		cs = nil
	}
	notSeen := func(what, name string) error {
		return fmt.Errorf("%w: the context never saw %s %q%s", ErrNotSeen, what, name, atPath(path))
	}
	switch op.Type {
	case Counter:
		var v int64
		for _, e := range s.Entries {
			if e.Dot.Actor == m.actor {
				v = e.N
			}
		}
		n := *op.Increment
		if (n > 0 && v > MaxIncrement-n) || (n < 0 && v < -MaxIncrement-n) {
			return fmt.Errorf("%w: the counter would pass %d%s", ErrBadOp, int64(MaxIncrement), atPath(path))
		}
		d, err := m.mint()
		if err != nil {
			return err
		}
		s.Entries = slices.DeleteFunc(s.Entries, func(e Entry) bool { return e.Dot.Actor == m.actor })
		s.Entries = sortEntries(append(s.Entries, Entry{Dot: d, N: v + n}))
	case Set:
		for _, e := range op.Remove {
			var ds []vclock.Dot
			if cs != nil {
				ds = cs.Elems[e]
			}
			if len(ds) == 0 {
				return notSeen("element", e)
			}
			*seen = append(*seen, ds...)
			if local, ok := s.Elems[e]; ok {
				s.setElem(e, local)
				s.dropDots(ds)
			}
		}
		for _, e := range op.Add {
			d, err := m.mint()
			if err != nil {
				return err
			}
			s.setElem(e, []vclock.Dot{d})
		}
	case Flag:
		s.Entries = nil
		if *op.Enable {
			d, err := m.mint()
			if err != nil {
				return err
			}
			s.Entries = []Entry{{Dot: d}}
		}
	case Register:
		d, err := m.mint()
		if err != nil {
			return err
		}
		s.Entries = []Entry{{Dot: d, N: now, S: *op.Assign}}
	case Map:
		for _, name := range op.Remove {
			var ds []vclock.Dot
			if cs != nil {
				for f, sub := range cs.Fields {
					if f.Name == name {
						ds = sub.dots(ds)
					}
				}
			}
			if len(ds) == 0 {
				return notSeen("field", name)
			}
			slices.SortFunc(ds, cmpDot)
			*seen = append(*seen, ds...)
			for f, sub := range s.Fields {
				if f.Name == name {
					sub.dropDots(ds)
					if sub.empty() {
						delete(s.Fields, f)
					}
				}
			}
		}
		for _, name := range sortedKeys(op.Update) {
			sop := op.Update[name]
			f := Field{Name: name, Type: sop.Type}
			for g := range s.Fields {
				if g.Name == name && g.Type != f.Type {
					return fmt.Errorf("%w: field %q holds a %s, not a %s%s", ErrTypeMismatch, name, g.Type, f.Type, atPath(path))
				}
			}
			sub := Store{Type: f.Type}
			if old, ok := s.Fields[f]; ok {
				sub = old.clone()
			}
			var csub *Store
			if cs != nil {
				csub = cs.Fields[f]
			}
			if err := sub.apply(sop, csub, m, now, path+"/"+name, seen); err != nil {
				return err
			}
			s.setField(f, sub)
		}
	}
	return nil
}

func atPath(path string) string {
	if path == "" {
		return ""
	}
	return " in field " + path
}

func sortEntries(es []Entry) []Entry {
	slices.SortFunc(es, func(a, b Entry) int { return cmpDot(a.Dot, b.Dot) })
	return es
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
