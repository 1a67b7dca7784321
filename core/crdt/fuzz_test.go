package crdt

import (
	"bytes"
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
