package localstore

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// record is one stored replica object as kept in bbolt. Its encoding:
//
//	version byte (1) | md5 [16] | uvarint len(actor) | actor |
//	kind byte: 0 inline, then the data; 1 blob, then uvarint size and the blob id (hex).
type record struct {
	md5    [16]byte
	actor  string
	inline []byte // kind 0
	blob   string // kind 1: the blob id
	size   int    // kind 1: the blob's length
}

const recordVersion = 1

// etag is the object's ETag: S3's quoted hex MD5.
func (r record) etag() string { return etagOfSum(r.md5) }

func etagOfSum(sum [16]byte) string { return `"` + hex.EncodeToString(sum[:]) + `"` }

// ETag returns the entity tag S3 gives a single-part object holding data: its
// hex MD5 in double quotes. Every object this package stores has this ETag.
func ETag(data []byte) string { return etagOfSum(md5.Sum(data)) }

func (r record) encode() []byte {
	b := make([]byte, 0, 1+16+binary.MaxVarintLen64+len(r.actor)+1+len(r.inline)+binary.MaxVarintLen64+len(r.blob))
	b = append(b, recordVersion)
	b = append(b, r.md5[:]...)
	b = binary.AppendUvarint(b, uint64(len(r.actor)))
	b = append(b, r.actor...)
	if r.blob == "" {
		b = append(b, 0)
		return append(b, r.inline...)
	}
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(r.size))
	return append(b, r.blob...)
}

var errCorrupt = errors.New("corrupt record")

// decodeRecord decodes b; inline data is copied (b belongs to bbolt's mmap).
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 1+16+1 || b[0] != recordVersion {
		return r, errCorrupt
	}
	copy(r.md5[:], b[1:17])
	b = b[17:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n+1 {
		return r, errCorrupt
	}
	r.actor = string(b[k : k+int(n)])
	b = b[k+int(n):]
	switch b[0] {
	case 0:
		r.inline = append([]byte{}, b[1:]...)
	case 1:
		size, k := binary.Uvarint(b[1:])
		if k <= 0 || len(b) <= 1+k {
			return r, errCorrupt
		}
		r.size = int(size)
		r.blob = string(b[1+k:])
	default:
		return r, fmt.Errorf("%w: kind %d", errCorrupt, b[0])
	}
	return r, nil
}
