package vclock

import (
	"bytes"
	"testing"
)

func FuzzDecode(f *testing.F) {
	o, _ := Update(Object{Key: "k"}, nil, "a", Sibling{Value: []byte("v"), ContentType: "text/plain"}, 1)
	o2, _ := Update(o, nil, "b", Sibling{Tombstone: true}, 2)
	f.Add(Encode(o))
	f.Add(Encode(o2))
	f.Add(Encode(Object{Key: ""}))
	o3, _ := Update(o, Merge(DotClock(Dot{Actor: "a", Counter: 3}, 4), DotClock(Dot{Actor: "c", Counter: 2}, 4)), "b", Sibling{Value: []byte("w")}, 5)
	f.Add(Encode(o3)) // format version 2: clock entries with gaps
	o4, _ := Update(o, nil, "a", Sibling{Value: []byte("x"), Expires: 99}, 6)
	f.Add(Encode(o4)) // a version with an expiry (flag bit 1)
	f.Add([]byte("CW\x01O"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := Decode(data, DecodeLimits())
		if err != nil {
			return
		}
		// Only canonical encodings decode: re-encoding gives the same bytes.
		if enc := Encode(obj); !bytes.Equal(enc, data) {
			t.Fatalf("accepted a non-canonical encoding")
		}
	})
}

func FuzzReadClock(f *testing.F) {
	f.Add(AppendClock(nil, Clock{{Actor: "a", Counter: 1, Time: 3}, {Actor: "b", Counter: 7, Time: -1}}))
	f.Add(AppendClock(nil, nil))
	f.Add(AppendClock(nil, Clock{{Actor: "a", Counter: 1, Time: 3, Extra: []uint64{3, 9}}, {Actor: "b", Time: 1, Extra: []uint64{4}}}))
	f.Add([]byte("CW\x01K\x05"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, rest, err := ReadClock(data, DecodeLimits())
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted invalid clock: %v", err)
		}
		if enc := AppendClock(nil, c); !bytes.Equal(append(enc, rest...), data) {
			t.Fatalf("accepted a non-canonical clock")
		}
	})
}
