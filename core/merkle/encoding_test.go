package merkle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func sampleTree(shape Shape, n int) *Tree {
	t := New(shape)
	for i := range n {
		t.Insert(md5Hash("key-%d", i), md5Hash("v-%d", i))
	}
	return t
}

func encode(t *testing.T, tr *Tree) []byte {
	t.Helper()
	enc, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, shape := range []Shape{{2, 1}, {4, 3}, DefaultShape()} {
		tr := sampleTree(shape, 100)
		enc := encode(t, tr)
		if want := 4 + 16*shape.Segments(); len(enc) != want {
			t.Fatalf("%+v: %d bytes, want %d", shape, len(enc), want)
		}
		var dec Tree
		if err := dec.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if !dec.Equal(tr) || dec.Root() != tr.Root() || dec.Shape() != shape {
			t.Fatalf("%+v: round trip changed the tree", shape)
		}
		if !bytes.Equal(encode(t, &dec), enc) {
			t.Fatalf("%+v: re-encoding differs", shape)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	valid := encode(t, sampleTree(Shape{Width: 4, Depth: 2}, 20))
	header := func(version byte, width uint16, depth byte) []byte {
		b := []byte{version, 0, 0, depth}
		binary.BigEndian.PutUint16(b[1:3], width)
		return b
	}
	for name, tc := range map[string]struct {
		data  []byte
		shape bool // the error must also wrap ErrInvalidShape
	}{
		"nil":              {data: nil},
		"short header":     {data: []byte{1, 0, 4}},
		"bad version":      {data: append([]byte{2}, valid[1:]...)},
		"version zero":     {data: append([]byte{0}, valid[1:]...)},
		"width 3":          {data: header(1, 3, 2), shape: true},
		"width 0":          {data: header(1, 0, 2), shape: true},
		"width 2048":       {data: header(1, 2048, 1), shape: true},
		"depth 0":          {data: header(1, 4, 0), shape: true},
		"oversized 1024^3": {data: header(1, 1024, 3), shape: true},
		"oversized 2^255":  {data: header(1, 2, 255), shape: true},
		"header only":      {data: valid[:4]},
		"truncated":        {data: valid[:len(valid)-1]},
		"trailing byte":    {data: append(bytes.Clone(valid), 0)},
	} {
		t.Run(name, func(t *testing.T) {
			tr := sampleTree(Shape{Width: 2, Depth: 1}, 3)
			before := encode(t, tr)
			err := tr.UnmarshalBinary(tc.data)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("UnmarshalBinary = %v, want ErrMalformed", err)
			}
			if tc.shape && !errors.Is(err, ErrInvalidShape) {
				t.Fatalf("UnmarshalBinary = %v, want ErrInvalidShape too", err)
			}
			if !bytes.Equal(encode(t, tr), before) {
				t.Fatal("failed UnmarshalBinary modified the tree")
			}
		})
	}
}

func TestMarshalZeroTree(t *testing.T) {
	var z Tree
	if _, err := z.MarshalBinary(); !errors.Is(err, ErrInvalidShape) {
		t.Fatalf("MarshalBinary of a zero Tree = %v, want ErrInvalidShape", err)
	}
	if !z.Equal(&Tree{}) || z.Equal(New(DefaultShape())) {
		t.Fatal("Equal on zero Trees")
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, shape := range []Shape{{2, 1}, {2, 3}, {4, 2}, {8, 1}} {
		for _, n := range []int{0, 1, 7} {
			enc, err := sampleTree(shape, n).MarshalBinary()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(enc)
		}
	}
	enc, err := sampleTree(DefaultShape(), 50).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 2, 1})
	f.Add([]byte{1, 0, 2, 1, 0xff})
	f.Add([]byte{1, 4, 0, 3})
	f.Add([]byte{1, 0, 3, 1, 0, 0})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte("junk that is not a tree at all"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tr Tree
		if err := tr.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc, err := tr.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatal("accepted a non-canonical encoding")
		}
		var again Tree
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("decode of re-encoding: %v", err)
		}
		if !again.Equal(&tr) || again.Root() != tr.Root() {
			t.Fatal("decode→encode→decode is not stable")
		}
	})
}
