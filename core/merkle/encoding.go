package merkle

import (
	"encoding/binary"
	"fmt"
)

// Encoding layout, version 1 (all integers big-endian):
//
//	byte 0     encoding version (1)
//	bytes 1-2  Width (uint16)
//	byte 3     Depth
//	then       Width^Depth segment hashes of 16 bytes each, in segment order
//
// Interior hashes are not encoded (they are derived), so the encoding is
// canonical: equal trees encode to equal bytes.
const (
	encodingVersion = 1
	headerLen       = 4
)

// MarshalBinary implements encoding.BinaryMarshaler with the canonical
// encoding described above (4 + 16*Segments bytes). It fails only for a zero
// Tree, with an error wrapping ErrInvalidShape.
func (t *Tree) MarshalBinary() ([]byte, error) {
	if err := t.shape.Validate(); err != nil {
		return nil, fmt.Errorf("merkle: marshal: %w", err)
	}
	leaves := t.levels[t.shape.Depth]
	out := make([]byte, headerLen, headerLen+len(leaves)*len(Hash{}))
	out[0] = encodingVersion
	binary.BigEndian.PutUint16(out[1:3], uint16(t.shape.Width))
	out[3] = byte(t.shape.Depth)
	for i := range leaves {
		out = append(out, leaves[i][:]...)
	}
	return out, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces t with
// the tree encoded in data (t may be a zero Tree). It returns an error wrapping
// ErrMalformed, and leaves t unchanged, if data is truncated, has trailing
// bytes, has an unknown version, or declares an invalid shape (including more
// than MaxSegments segments; that error also wraps ErrInvalidShape). It never
// allocates more than the size of a valid tree of len(data) bytes.
func (t *Tree) UnmarshalBinary(data []byte) error {
	if len(data) < headerLen {
		return fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(data), headerLen)
	}
	if data[0] != encodingVersion {
		return fmt.Errorf("%w: unknown encoding version %d", ErrMalformed, data[0])
	}
	shape := Shape{Width: int(binary.BigEndian.Uint16(data[1:3])), Depth: int(data[3])}
	if err := shape.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	body := data[headerLen:]
	if want := shape.Segments() * len(Hash{}); len(body) != want {
		return fmt.Errorf("%w: %d bytes of segments for a %dx%d tree, want %d", ErrMalformed, len(body), shape.Width, shape.Depth, want)
	}
	n := New(shape)
	leaves := n.levels[shape.Depth]
	for i := range leaves {
		copy(leaves[i][:], body[i*len(Hash{}):])
	}
	*t = *n
	return nil
}
