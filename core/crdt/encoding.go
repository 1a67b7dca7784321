package crdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// Encoding format version 1 of a State (integers are unsigned varints,
// "svarint" zig-zag signed varints):
//
//	"CD" 0x01
//	clock     vclock.AppendClock
//	root      a store
//
// A store is its type byte (1 counter, 2 set, 3 map, 4 flag, 5 register),
// then: for counter, flag and register, a count of entries (sorted by dot),
// each a dot, then a counter's net value (svarint) or a register's time
// (svarint) and text (uvarint length, bytes); for a set, a count of elements
// (sorted by bytes), each its name (uvarint length, bytes), a count of dots
// (>= 1) and the dots (sorted); for a map, a count of fields (sorted by
// name, then type byte), each its name and its store. A dot is the index of
// its actor in the clock and its counter.
//
// The encoding is canonical (equal states, equal bytes; Decode accepts only
// canonical input) so converged replicas hold identical bytes. The state
// travels inside a replica object, whose checksum covers it.

const (
	encMagic0, encMagic1 = 'C', 'D'
	encVersion           = 1
)

var typeBytes = []Type{1: Counter, 2: Set, 3: Map, 4: Flag, 5: Register}

func typeByte(t Type) byte { return byte(slices.Index(typeBytes, t)) }

// DecodeLimits bound what Decode accepts.
type DecodeLimits struct {
	MaxBytes   int // largest encoding
	MaxEntries int // most clock entries (actors)
}

// DefaultDecodeLimits are the bounds for replica values: an encoding is
// never larger than the replica object that holds it.
func DefaultDecodeLimits() DecodeLimits {
	return DecodeLimits{MaxBytes: 64 << 20, MaxEntries: 4096}
}

// Encode returns the canonical encoding of s (which must satisfy Validate).
func Encode(s State) []byte {
	b := []byte{encMagic0, encMagic1, encVersion}
	b = vclock.AppendClock(b, s.Clock)
	return s.Root.appendTo(b, s.Clock)
}

func appendDot(b []byte, d vclock.Dot, c vclock.Clock) []byte {
	i := slices.IndexFunc(c, func(e vclock.Entry) bool { return e.Actor == d.Actor })
	b = binary.AppendUvarint(b, uint64(i))
	return binary.AppendUvarint(b, d.Counter)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (s *Store) appendTo(b []byte, c vclock.Clock) []byte {
	b = append(b, typeByte(s.Type))
	switch s.Type {
	case Set:
		b = binary.AppendUvarint(b, uint64(len(s.Elems)))
		for _, e := range sortedKeys(s.Elems) {
			b = appendString(b, e)
			b = binary.AppendUvarint(b, uint64(len(s.Elems[e])))
			for _, d := range s.Elems[e] {
				b = appendDot(b, d, c)
			}
		}
	case Map:
		fs := make([]Field, 0, len(s.Fields))
		for f := range s.Fields {
			fs = append(fs, f)
		}
		slices.SortFunc(fs, cmpField)
		b = binary.AppendUvarint(b, uint64(len(fs)))
		for _, f := range fs {
			b = appendString(b, f.Name)
			b = s.Fields[f].appendTo(b, c)
		}
	default:
		b = binary.AppendUvarint(b, uint64(len(s.Entries)))
		for _, e := range s.Entries {
			b = appendDot(b, e.Dot, c)
			switch s.Type {
			case Counter:
				b = binary.AppendVarint(b, e.N)
			case Register:
				b = binary.AppendVarint(b, e.N)
				b = appendString(b, e.S)
			}
		}
	}
	return b
}

func cmpField(a, b Field) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return int(typeByte(a.Type)) - int(typeByte(b.Type))
}

// Decode parses an encoding made by Encode. Truncated, oversized,
// malformed or non-canonical input is an error wrapping ErrCorrupt; Decode
// never panics and allocates at most in proportion to len(data).
func Decode(data []byte, lim DecodeLimits) (State, error) {
	if len(data) > lim.MaxBytes {
		return State{}, fmt.Errorf("%w: %d bytes over %d", ErrCorrupt, len(data), lim.MaxBytes)
	}
	if len(data) < 3 || data[0] != encMagic0 || data[1] != encMagic1 {
		return State{}, fmt.Errorf("%w: not a data type's state", ErrCorrupt)
	}
	if data[2] != encVersion {
		return State{}, fmt.Errorf("%w: unknown version %d", ErrCorrupt, data[2])
	}
	vl := vclock.DecodeLimits()
	vl.MaxEntries = lim.MaxEntries
	clock, rest, err := vclock.ReadClock(data[3:], vl)
	if err != nil {
		return State{}, fmt.Errorf("%w: clock: %v", ErrCorrupt, err)
	}
	r := &reader{b: rest, clock: clock}
	root := r.store(0)
	if r.err != nil {
		return State{}, r.err
	}
	if len(r.b) != 0 {
		return State{}, fmt.Errorf("%w: trailing bytes", ErrCorrupt)
	}
	s := State{Clock: clock, Root: root}
	if err := s.Validate(); err != nil {
		return State{}, err
	}
	if !bytes.Equal(Encode(s), data) {
		return State{}, fmt.Errorf("%w: not in canonical form", ErrCorrupt)
	}
	return s, nil
}

// reader decodes with a sticky error.
type reader struct {
	b     []byte
	clock vclock.Clock
	err   error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, msg)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count; each counted item takes at least one byte.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("count past the end")
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.count()
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) dot() vclock.Dot {
	i := r.uvarint()
	c := r.uvarint()
	if r.err != nil {
		return vclock.Dot{}
	}
	if i >= uint64(len(r.clock)) {
		r.fail("dot of an actor not in the clock")
		return vclock.Dot{}
	}
	return vclock.Dot{Actor: r.clock[i].Actor, Counter: c}
}

func (r *reader) store(depth int) Store {
	if len(r.b) == 0 {
		r.fail("truncated")
		return Store{}
	}
	tb := r.b[0]
	r.b = r.b[1:]
	if int(tb) >= len(typeBytes) || tb == 0 {
		r.fail(fmt.Sprintf("unknown type byte %d", tb))
		return Store{}
	}
	s := Store{Type: typeBytes[tb]}
	switch s.Type {
	case Set:
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			e := r.string()
			k := r.count()
			ds := make([]vclock.Dot, 0, k)
			for j := 0; j < k && r.err == nil; j++ {
				ds = append(ds, r.dot())
			}
			if r.err == nil {
				s.setElem(e, ds)
			}
		}
	case Map:
		if depth >= MaxDepth+1 {
			r.fail("maps nested too deep")
			return Store{}
		}
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			name := r.string()
			sub := r.store(depth + 1)
			if r.err == nil {
				if s.Fields == nil {
					s.Fields = map[Field]*Store{}
				}
				s.Fields[Field{Name: name, Type: sub.Type}] = &sub
			}
		}
	default:
		n := r.count()
		for i := 0; i < n && r.err == nil; i++ {
			e := Entry{Dot: r.dot()}
			switch s.Type {
			case Counter:
				e.N = r.varint()
			case Register:
				e.N = r.varint()
				e.S = r.string()
			}
			s.Entries = append(s.Entries, e)
		}
	}
	return s
}
