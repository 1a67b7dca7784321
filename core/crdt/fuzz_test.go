package crdt

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzDecode(f *testing.F) {
	n, on, txt := int64(3), true, "v"
	a := New(Map)
	a, _ = Apply(a, Op{Type: Map, Update: map[string]Op{
		"n": {Type: Counter, Increment: &n},
		"f": {Type: Flag, Enable: &on},
		"r": {Type: Register, Assign: &txt},
		"s": {Type: Set, Add: []string{"x", "y"}},
		"m": {Type: Map, Update: map[string]Op{"s": {Type: Set, Add: []string{"z"}}}},
	}}, nil, "node-1.1.abc", 7, 1)
	ctx := a
	a, _ = Apply(a, Op{Type: Map, Remove: []string{"s"}}, &ctx, "node-2.1.xyz", 3, 2)
	f.Add(Encode(a))
	f.Add(Encode(New(Set)))
	f.Add(Encode(New(Counter)))
	f.Add([]byte("CD\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data, DefaultDecodeLimits())
		if err != nil {
			return
		}
		if !bytes.Equal(Encode(s), data) {
			t.Fatalf("accepted a non-canonical encoding")
		}
		_ = s.Value()
		_ = Merge(s, s)
	})
}

// FuzzApply: any JSON operation that passes Check, on any decodable state
// and context, applies without a panic and leaves a valid state (or an
// error).
func FuzzApply(f *testing.F) {
	n := int64(2)
	s, _ := Apply(State{}, Op{Type: Map, Update: map[string]Op{"i": {Type: Counter, Increment: &n}, "s": {Type: Set, Add: []string{"a"}}}}, nil, "n1.1.x", 1, 1)
	f.Add([]byte(`{"type":"map","remove":["i"],"update":{"s":{"type":"set","remove":["a"],"add":["b"]}}}`), Encode(s))
	f.Add([]byte(`{"type":"set","add":["x"]}`), Encode(New(Set)))
	f.Add([]byte(`{"type":"counter","increment":-3}`), []byte{})
	f.Fuzz(func(t *testing.T, opJSON, state []byte) {
		var op Op
		if json.Unmarshal(opJSON, &op) != nil || op.Check() != nil {
			return
		}
		var st State
		if len(state) > 0 {
			var err error
			if st, err = Decode(state, DefaultDecodeLimits()); err != nil {
				return
			}
		}
		ctx := st
		out, err := Apply(st, op, &ctx, "n2.1.y", 7, 9)
		if err != nil {
			return
		}
		if err := out.Validate(); err != nil {
			t.Fatalf("Apply left an invalid state: %v", err)
		}
		if _, err := Decode(Encode(out), DefaultDecodeLimits()); err != nil {
			t.Fatalf("Apply left a state that does not decode: %v", err)
		}
	})
}
