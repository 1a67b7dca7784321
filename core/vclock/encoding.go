package vclock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unicode/utf8"
)

// Encoding format version 1 of a replica object (all integers are unsigned
// varints unless noted; "svarint" is a zig-zag signed varint):
//
//	"CW" 0x01 'O'
//	key        uvarint length, UTF-8 bytes
//	clock      uvarint count, then per entry (sorted by actor, no duplicates):
//	           actor (uvarint length, bytes), counter (>= 1), time (svarint)
//	siblings   uvarint count, then per sibling (sorted by dot, no duplicates):
//	           actor index into clock, counter (1..clock counter), time (svarint),
//	           flags byte (bit 0 tombstone, bit 1 expires; other bits zero),
//	           expires (uvarint Unix ms > 0, present exactly when bit 1 is set),
//	           content type (uvarint length, bytes), value (uvarint length, bytes)
//	checksum   CRC-32C (Castagnoli) of everything before it, 4 bytes big-endian
//
// Format version 2 is the same but for one addition to every clock entry,
// after its time: the number of events seen beyond a gap (Entry.Extra), then
// each as the distance from the previous one less one (the first from
// Counter+1, less one). Version 2 is used exactly when some clock entry has
// such events, so every object without them keeps its version-1 bytes.
//
// The flags byte is how a version gains a field without a new format
// version: a flag bit says the field is present and its value follows the
// flags byte, in bit order, so a version without it keeps its bytes (the
// expiry of a time to live is bit 1; a convergent data type's tag, issue 24,
// is meant to be the next bit, its tag after the expiry). A decoder rejects
// flags it does not know, so an older reader fails loudly on a newer field
// instead of dropping it.
//
// The encoding is canonical: equal objects encode to equal bytes, and Decode
// accepts only canonical input, so replicas that converge hold identical bytes
// (and S3 ETags) and the checksum detects corrupted replica objects.

const (
	magic0, magic1 = 'C', 'W'
	formatV1       = 1
	formatV2       = 2 // clocks with events beyond a gap (Entry.Extra)
	kindObject     = 'O'
	kindClock      = 'K'
	flagTombstone  = 1
	flagExpires    = 2 // an expiry (Sibling.Expires) follows the flags byte
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every decoding error: the input is truncated,
// oversized, malformed, non-canonical or fails its checksum.
var ErrCorrupt = errors.New("vclock: corrupt encoding")

// Limits bound what Decode accepts, so hostile or corrupted input cannot make a
// decoder allocate without bound.
type Limits struct {
	MaxKeyBytes   int // longest key
	MaxActorBytes int // longest actor id
	MaxEntries    int // most clock entries
	MaxSiblings   int // most siblings (including tombstones)
	MaxValueBytes int // largest single value
	MaxBytes      int // largest whole encoding
}

// DecodeLimits are generous bounds for reading replica objects: far above what
// a put may create (kv.Limits), because repairs must never reject data that an
// older configuration accepted.
func DecodeLimits() Limits {
	return Limits{
		MaxKeyBytes:   4096,
		MaxActorBytes: 255,
		MaxEntries:    4096,
		MaxSiblings:   4096,
		MaxValueBytes: 64 << 20,
		MaxBytes:      256 << 20,
	}
}

// Encode returns the canonical encoding of o. o must satisfy Validate (Encode
// sorts nothing and panics on an uncovered sibling, a programming error).
func Encode(o Object) []byte {
	size := 8 + len(o.Key) + 16*len(o.Clock)
	for _, e := range o.Clock {
		size += len(e.Actor)
	}
	for _, s := range o.Siblings {
		size += 24 + len(s.ContentType) + len(s.Value)
	}
	b := make([]byte, 0, size)
	b = append(b, magic0, magic1, o.Clock.format(), kindObject)
	b = appendBytes(b, []byte(o.Key))
	b = appendClockBody(b, o.Clock)
	b = binary.AppendUvarint(b, uint64(len(o.Siblings)))
	for _, s := range o.Siblings {
		idx, ok := o.Clock.find(s.Dot.Actor)
		if !ok {
			panic(fmt.Sprintf("vclock: Encode: sibling %s not covered by clock", s.Dot))
		}
		b = binary.AppendUvarint(b, uint64(idx))
		b = binary.AppendUvarint(b, s.Dot.Counter)
		b = binary.AppendVarint(b, s.Time)
		var flags byte
		if s.Tombstone {
			flags |= flagTombstone
		}
		if s.Expires != 0 {
			flags |= flagExpires
		}
		b = append(b, flags)
		if s.Expires != 0 {
			b = binary.AppendUvarint(b, uint64(s.Expires))
		}
		b = appendBytes(b, []byte(s.ContentType))
		b = appendBytes(b, s.Value)
	}
	return appendCRC(b)
}

func appendCRC(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// Decode parses a canonical encoding made by Encode, within lim. The returned
// values alias data; the caller must not modify data afterwards.
func Decode(data []byte, lim Limits) (Object, error) {
	if len(data) > lim.MaxBytes {
		return Object{}, fmt.Errorf("%w: %d bytes exceeds %d", ErrCorrupt, len(data), lim.MaxBytes)
	}
	if len(data) < 8 {
		return Object{}, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(data))
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return Object{}, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	r := &reader{b: body, lim: lim}
	r.header(kindObject)
	var o Object
	o.Key = string(r.bytes(lim.MaxKeyBytes, "key"))
	if r.err == nil && !utf8.ValidString(o.Key) {
		r.fail("key is not UTF-8")
	}
	o.Clock = r.clock()
	n := r.count(lim.MaxSiblings, "siblings")
	if n > 0 {
		o.Siblings = make([]Sibling, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		idx := r.uvarint()
		if r.err == nil && idx >= uint64(len(o.Clock)) {
			r.fail("sibling actor index out of range")
			break
		}
		var s Sibling
		s.Dot.Counter = r.uvarint()
		s.Time = r.varint()
		flags := r.byte()
		if flags&flagExpires != 0 {
			s.Expires = r.expires()
		}
		ct := r.bytes(lim.MaxValueBytes, "content type")
		val := r.bytes(lim.MaxValueBytes, "value")
		if r.err != nil {
			break
		}
		s.Dot.Actor = o.Clock[idx].Actor
		if flags&^(flagTombstone|flagExpires) != 0 {
			r.fail("unknown sibling flags")
			break
		}
		s.Tombstone = flags&flagTombstone != 0
		s.ContentType = string(ct)
		if len(val) > 0 {
			s.Value = val
		}
		o.Siblings = append(o.Siblings, s)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return Object{}, r.err
	}
	if err := o.Validate(); err != nil {
		return Object{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return o, nil
}

// AppendClock appends the canonical encoding of a clock alone (used inside the
// client context) to b.
func AppendClock(b []byte, c Clock) []byte {
	b = append(b, magic0, magic1, c.format(), kindClock)
	return appendClockBody(b, c)
}

// ReadClock decodes a clock written by AppendClock at the start of b and
// returns the rest of b.
func ReadClock(b []byte, lim Limits) (Clock, []byte, error) {
	r := &reader{b: b, lim: lim}
	r.header(kindClock)
	c := r.clock()
	if r.err != nil {
		return nil, nil, r.err
	}
	return c, r.b, nil
}

// format is the encoding version a clock needs: 2 if any entry has events
// beyond a gap, else 1.
func (c Clock) format() byte {
	for _, e := range c {
		if len(e.Extra) > 0 {
			return formatV2
		}
	}
	return formatV1
}

func appendClockBody(b []byte, c Clock) []byte {
	v2 := c.format() == formatV2
	b = binary.AppendUvarint(b, uint64(len(c)))
	for _, e := range c {
		b = appendBytes(b, []byte(e.Actor))
		b = binary.AppendUvarint(b, e.Counter)
		b = binary.AppendVarint(b, e.Time)
		if v2 {
			b = binary.AppendUvarint(b, uint64(len(e.Extra)))
			prev := e.Counter + 1
			for _, x := range e.Extra {
				b = binary.AppendUvarint(b, x-prev-1)
				prev = x
			}
		}
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// reader decodes with sticky errors: after the first failure every read
// returns zero values.
type reader struct {
	b      []byte
	lim    Limits
	err    error
	format byte // the version read by header
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, msg)
	}
}

func (r *reader) header(kind byte) {
	if len(r.b) < 4 || r.b[0] != magic0 || r.b[1] != magic1 {
		r.fail("bad magic")
		return
	}
	if r.b[2] != formatV1 && r.b[2] != formatV2 {
		r.fail(fmt.Sprintf("unknown format version %d", r.b[2]))
		return
	}
	r.format = r.b[2]
	if r.b[3] != kind {
		r.fail(fmt.Sprintf("kind %q, want %q", r.b[3], kind))
		return
	}
	r.b = r.b[4:]
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong varint")
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		r.fail("non-minimal varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint() // zig-zag, same bytes as binary.AppendVarint
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) count(limit int, what string) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(limit) {
		r.fail(fmt.Sprintf("%d %s exceeds limit %d", n, what, limit))
		return 0
	}
	if r.err == nil && n > uint64(len(r.b)) { // every item takes at least one byte
		r.fail(fmt.Sprintf("%d %s in %d bytes", n, what, len(r.b)))
		return 0
	}
	return int(n)
}

func (r *reader) bytes(limit int, what string) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) {
		r.fail(fmt.Sprintf("%s of %d bytes exceeds limit %d", what, n, limit))
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(fmt.Sprintf("truncated %s", what))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) clock() Clock {
	n := r.count(r.lim.MaxEntries, "clock entries")
	var c Clock
	if n > 0 {
		c = make(Clock, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		a := r.bytes(r.lim.MaxActorBytes, "actor")
		e := Entry{Actor: Actor(a), Counter: r.uvarint(), Time: r.varint()}
		if r.format == formatV2 {
			e.Extra = r.extra(e.Counter)
		}
		if r.err != nil {
			break
		}
		c = append(c, e)
	}
	if r.err == nil {
		if err := c.Validate(); err != nil {
			r.fail(err.Error())
		} else if c.format() != r.format {
			r.fail("format version 2 without events beyond a gap")
		}
	}
	if r.err != nil {
		return nil
	}
	return c
}

// extra reads the events beyond a gap of one clock entry (format version 2).
func (r *reader) extra(counter uint64) []uint64 {
	n := r.count(r.lim.MaxEntries, "extra events")
	if n == 0 || r.err != nil {
		return nil
	}
	out := make([]uint64, 0, n)
	prev := counter + 1
	for i := 0; i < n && r.err == nil; i++ {
		d := r.uvarint()
		x := prev + d + 1
		if x <= prev || d > 1<<62 {
			r.fail("extra event overflows")
			return nil
		}
		out = append(out, x)
		prev = x
	}
	return out
}
