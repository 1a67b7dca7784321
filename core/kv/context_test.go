package kv_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

var (
	testNow  = time.UnixMilli(1_700_000_000_000)
	testKeys = kv.NewContextKeys([]byte(strings.Repeat("s", 32)), testNow)
)

const testKey = "cart:42"

func enc(c kv.Context) string { return kv.EncodeContext(testKeys, testKey, c) }

func dec(token string, lim kv.Limits) (kv.Context, error) {
	return kv.DecodeContext(testKeys, testKey, token, lim, testNow)
}

// seal builds a token the way the format documents it, independently of
// EncodeContext: base64url (no padding) of body followed by the first 16
// bytes of HMAC-SHA256(secret, "cartwheel context\x00" key "\x00" body). It lets
// tests make correctly signed tokens whose body is not what EncodeContext
// would write.
func seal(body []byte) string { return sealWith(testKeys.Current.Secret, testKey, body) }

func sealWith(secret []byte, key string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("cartwheel context\x00" + key + "\x00"))
	m.Write(body)
	b := append(append([]byte(nil), body...), m.Sum(nil)[:16]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// header is the start of every context body: magic "CX", version 2, key id 1.
func header() []byte { return []byte{'C', 'X', 2, 1} }

func appendField(b []byte, f string) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	return append(b, f...)
}

func sampleContext() kv.Context {
	return kv.Context{
		Clock: vclock.Clock{
			{Actor: "n1.1.abcd", Counter: 3, Time: 1700000000000},
			{Actor: "n2.1.xyz", Counter: 1, Time: -5},
		},
		Seen: []kv.Seen{
			{Node: "n1", ETag: `"0123456789abcdef0123456789abcdef"`, Actor: "n1.1.abcd"},
			{Node: "n2", ETag: `"fedcba9876543210fedcba9876543210"`, Actor: "n2.1.xyz"},
		},
	}
}

// sameContext compares contexts treating nil and empty slices alike.
func sameContext(a, b kv.Context) bool {
	if len(a.Clock) != len(b.Clock) || len(a.Seen) != len(b.Seen) {
		return false
	}
	return (len(a.Clock) == 0 || reflect.DeepEqual(a.Clock, b.Clock)) &&
		(len(a.Seen) == 0 || reflect.DeepEqual(a.Seen, b.Seen))
}

func TestContextEmpty(t *testing.T) {
	for _, c := range []kv.Context{{}, {Clock: vclock.Clock{}, Seen: []kv.Seen{}}} {
		if tok := enc(c); tok != "" {
			t.Fatalf("EncodeContext(empty) = %q, want \"\"", tok)
		}
	}
	c, err := dec("", kv.DefaultLimits())
	if err != nil || len(c.Clock) != 0 || len(c.Seen) != 0 {
		t.Fatalf("DecodeContext(\"\") = %+v, %v; want the empty context", c, err)
	}
}

func TestContextRoundTripSample(t *testing.T) {
	c := sampleContext()
	tok := enc(c)
	if tok == "" || strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q is not unpadded base64url", tok)
	}
	got, err := dec(tok, kv.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip = %+v, want %+v", got, c)
	}
	// A context with only a clock, or only seen replicas, round-trips too.
	for _, part := range []kv.Context{{Clock: c.Clock}, {Seen: c.Seen}} {
		got, err := dec(enc(part), kv.DefaultLimits())
		if err != nil || !sameContext(got, part) {
			t.Fatalf("round trip of %+v = %+v, %v", part, got, err)
		}
	}
}

func genClock() *rapid.Generator[vclock.Clock] {
	return rapid.Custom(func(t *rapid.T) vclock.Clock {
		actors := rapid.SliceOfNDistinct(rapid.StringN(1, 40, 255), 0, 12, func(s string) string { return s }).Draw(t, "actors")
		sort.Strings(actors)
		var c vclock.Clock
		for _, a := range actors {
			c = append(c, vclock.Entry{
				Actor:   vclock.Actor(a),
				Counter: rapid.Uint64Min(1).Draw(t, "counter"),
				Time:    rapid.Int64().Draw(t, "time"),
			})
		}
		return c
	})
}

func genSeen() *rapid.Generator[kv.Seen] {
	field := rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOfN(rapid.Byte(), 0, 255).Draw(t, "bytes")) })
	return rapid.Custom(func(t *rapid.T) kv.Seen {
		return kv.Seen{Node: field.Draw(t, "node"), ETag: field.Draw(t, "etag"), Actor: field.Draw(t, "actor")}
	})
}

// Property: every context within the format's bounds (at most 32 seen
// replicas, fields of at most 255 bytes) decodes to itself, and its token is
// the one canonical encoding.
func TestContextRoundTripProperty(t *testing.T) {
	lim := kv.DefaultLimits()
	lim.MaxContextBytes = 1 << 20
	rapid.Check(t, func(t *rapid.T) {
		c := kv.Context{
			Clock: genClock().Draw(t, "clock"),
			Seen:  rapid.SliceOfN(genSeen(), 0, 32).Draw(t, "seen"),
		}
		tok := enc(c)
		if (tok == "") != (len(c.Clock) == 0 && len(c.Seen) == 0) {
			t.Fatalf("token %q for %+v", tok, c)
		}
		got, err := dec(tok, lim)
		if err != nil {
			t.Fatalf("DecodeContext(EncodeContext(%+v)): %v", c, err)
		}
		if !sameContext(got, c) {
			t.Fatalf("round trip = %+v, want %+v", got, c)
		}
		if again := enc(got); again != tok {
			t.Fatalf("re-encoding changed the token: %q -> %q", tok, again)
		}
		for _, s := range c.Seen {
			if _, ok := got.SeenFor(s.Node); !ok {
				t.Fatalf("SeenFor(%q) lost", s.Node)
			}
		}
	})
}

func TestSeenFor(t *testing.T) {
	c := sampleContext()
	s, ok := c.SeenFor("n2")
	if !ok || s != c.Seen[1] {
		t.Fatalf("SeenFor(n2) = %+v, %v", s, ok)
	}
	if s, ok := c.SeenFor("n9"); ok || s != (kv.Seen{}) {
		t.Fatalf("SeenFor(n9) = %+v, %v; want zero, false", s, ok)
	}
	c.Seen = append(c.Seen, kv.Seen{Node: "n2", ETag: "later"})
	if s, _ := c.SeenFor("n2"); s.ETag == "later" {
		t.Fatal("SeenFor should return the first entry of a node")
	}
}

func TestDecodeContextErrors(t *testing.T) {
	good := enc(sampleContext())
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	if len(raw)%3 == 0 {
		t.Fatal("test setup: the sample context needs base64 padding")
	}
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 0x01

	clockBody := vclock.AppendClock(header(), sampleContext().Clock)
	withSeen := func(n uint64, fields ...string) []byte {
		b := binary.AppendUvarint(append([]byte(nil), clockBody...), n)
		for _, f := range fields {
			b = appendField(b, f)
		}
		return b
	}
	version1 := append([]byte{'C', 'X', 1, 1}, clockBody[4:]...)
	tooManyEntries := binary.AppendUvarint(append(header(), 'C', 'W', 1, 'K'), 1025)

	small := kv.DefaultLimits()
	small.MaxContextBytes = 256
	cases := []struct {
		name  string
		token string
		lim   kv.Limits
	}{
		{"too long", strings.Repeat("A", 257), small},
		{"not base64", "!!!!", kv.DefaultLimits()},
		{"padded base64", base64.URLEncoding.EncodeToString(raw), kv.DefaultLimits()},
		{"too short", base64.RawURLEncoding.EncodeToString([]byte("CX\x02abc")), kv.DefaultLimits()},
		{"bad magic", seal(append([]byte{'C', 'Y', 2, 1}, clockBody[4:]...)), kv.DefaultLimits()},
		{"unknown version", seal(version1), kv.DefaultLimits()},
		{"unknown key id", seal(append([]byte{'C', 'X', 2, 7}, clockBody[4:]...)), kv.DefaultLimits()},
		{"signature mismatch", base64.RawURLEncoding.EncodeToString(flipped), kv.DefaultLimits()},
		{"truncated", good[:len(good)-2], kv.DefaultLimits()},
		{"not a clock", seal(append(header(), "garbage"...)), kv.DefaultLimits()},
		{"clock over 1024 entries", seal(tooManyEntries), kv.DefaultLimits()},
		{"no replica count", seal(clockBody), kv.DefaultLimits()},
		{"33 replicas", seal(withSeen(33)), kv.DefaultLimits()},
		{"truncated replica", seal(append(withSeen(1, "n1", "etag"), 9, 'a')), kv.DefaultLimits()},
		{"missing replica field", seal(withSeen(1, "n1", "etag")), kv.DefaultLimits()},
		{"field over 255 bytes", seal(withSeen(1, strings.Repeat("n", 256), "", "")), kv.DefaultLimits()},
		{"trailing bytes", seal(append(withSeen(1, "n1", "e", "a"), 0)), kv.DefaultLimits()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dec(tc.token, tc.lim)
			if !errors.Is(err, kv.ErrBadContext) {
				t.Fatalf("DecodeContext = %+v, %v; want ErrBadContext", c, err)
			}
			if len(c.Clock) != 0 || len(c.Seen) != 0 {
				t.Fatalf("a failed decode returned data: %+v", c)
			}
		})
	}
	// The well-formed bodies these cases were cut from do decode.
	if _, err := dec(seal(withSeen(1, "n1", "e", "a")), kv.DefaultLimits()); err != nil {
		t.Fatalf("control token: %v", err)
	}
	if _, err := dec(seal(withSeen(1, strings.Repeat("n", 255), "", "")), kv.DefaultLimits()); err != nil {
		t.Fatalf("control token with a 255-byte field: %v", err)
	}
}

// A context token is canonical: the format promises that alteration is
// caught, and any token that decodes must be the one EncodeContext makes for
// what it decodes to. These are alterations that keep the checksum valid.
func TestDecodeContextRejectsNonCanonicalTokens(t *testing.T) {
	good := enc(sampleContext())
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	if len(raw)%3 == 0 {
		t.Fatalf("sample context of %d bytes leaves no spare bits in its last base64 character", len(raw))
	}
	// The last character carries unused low bits; setting one decodes to
	// the same bytes in Go's lenient base64 decoder.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	spareBits := good[:len(good)-1] + string(alphabet[last|1])

	clockBody := vclock.AppendClock(header(), sampleContext().Clock)
	nonMinimal := append(append([]byte(nil), clockBody...), 0x80, 0x00) // replica count 0 in two bytes
	emptyClock := binary.AppendUvarint(vclock.AppendClock(header(), nil), 0)

	cases := []struct{ name, token string }{
		{"newline inside", good[:5] + "\n" + good[5:]},
		{"carriage return at the end", good + "\r"},
		{"spare bits set", spareBits},
		{"non-minimal replica count", seal(nonMinimal)},
		{"non-minimal field length", seal(append(binary.AppendUvarint(append([]byte(nil), clockBody...), 1), 0x81, 0x00, 'x', 0, 0))},
		{"empty context as a non-empty token", seal(emptyClock)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token == good {
				t.Fatal("test setup: the altered token equals the original")
			}
			c, err := dec(tc.token, kv.DefaultLimits())
			if err == nil {
				t.Fatalf("DecodeContext(%q) accepted a non-canonical token (decoded %+v, which encodes as %q)", tc.token, c, enc(c))
			}
			if !errors.Is(err, kv.ErrBadContext) {
				t.Fatalf("DecodeContext(%q) = %v, want ErrBadContext", tc.token, err)
			}
		})
	}
}

func FuzzDecodeContext(f *testing.F) {
	lim := kv.DefaultLimits()
	sample := sampleContext()
	f.Add(enc(sample))
	f.Add(enc(kv.Context{Clock: sample.Clock}))
	f.Add(enc(kv.Context{Seen: sample.Seen}))
	f.Add(enc(kv.Context{Clock: vclock.Clock{{Actor: "a", Counter: 1}}, Seen: []kv.Seen{{}}}))
	clockBody := vclock.AppendClock(header(), sample.Clock)
	f.Add(seal(binary.AppendUvarint(append([]byte(nil), clockBody...), 0)))
	f.Add(seal(append(append([]byte(nil), clockBody...), 0x80, 0x00)))
	f.Add(seal(binary.AppendUvarint(vclock.AppendClock(header(), nil), 0)))
	f.Add(seal(header()))
	f.Add("")
	f.Add("!!!!")
	f.Add("Q1gB")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := dec(token, lim)
		if err != nil {
			if !errors.Is(err, kv.ErrBadContext) {
				t.Fatalf("DecodeContext(%q) = %v, does not wrap ErrBadContext", token, err)
			}
			return
		}
		if enc := enc(c); enc != token {
			t.Fatalf("DecodeContext(%q) = %+v, which re-encodes as %q", token, c, enc)
		}
		if len(c.Seen) > 32 {
			t.Fatalf("decoded %d seen replicas, over the format's 32", len(c.Seen))
		}
		if err := c.Clock.Validate(); err != nil {
			t.Fatalf("decoded an invalid clock: %v", err)
		}
	})
}

// TestContextIsAuthenticated: a context cannot be forged, re-encoded, or moved
// to another key. The first case is the attack a CRC allowed: a real token's
// body re-encoded with an empty clock and a valid Seen ETag, its checksum
// recomputed by the client.
func TestContextIsAuthenticated(t *testing.T) {
	real := sampleContext()
	forgedBody := binary.AppendUvarint(vclock.AppendClock(header(), nil), 1)
	for _, f := range []string{real.Seen[0].Node, real.Seen[0].ETag, real.Seen[0].Actor} {
		forgedBody = appendField(forgedBody, f)
	}
	otherSecret := []byte(strings.Repeat("x", 32))
	cases := []struct{ name, token string }{
		{"empty clock with a seen ETag, signed without the secret", sealWith(otherSecret, testKey, forgedBody)},
		{"a real context of another key", kv.EncodeContext(testKeys, "cart:43", real)},
		{"signed with another secret", kv.EncodeContext(kv.NewContextKeys(otherSecret, testNow), testKey, real)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := dec(tc.token, kv.DefaultLimits()); !errors.Is(err, kv.ErrBadContext) {
				t.Fatalf("DecodeContext = %+v, %v; want ErrBadContext", c, err)
			}
		})
	}
	// The same forged body signed with the real secret decodes: the MAC, not
	// the layout, is what rejected it.
	if _, err := dec(seal(forgedBody), kv.DefaultLimits()); err != nil {
		t.Fatalf("control: %v", err)
	}
}

// TestContextKeyRotation: after a rotation new tokens use the new key, and
// tokens of the previous key are accepted for ContextKeyGrace, then rejected.
func TestContextKeyRotation(t *testing.T) {
	old := enc(sampleContext())
	rotated := testKeys.Rotate([]byte(strings.Repeat("r", 32)), testNow.Add(time.Hour))
	if err := rotated.Validate(); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) error {
		_, err := kv.DecodeContext(rotated, testKey, old, kv.DefaultLimits(), testNow.Add(time.Hour+d))
		return err
	}
	if err := at(kv.ContextKeyGrace - time.Millisecond); err != nil {
		t.Fatalf("previous key within the grace period: %v", err)
	}
	if err := at(kv.ContextKeyGrace); !errors.Is(err, kv.ErrBadContext) {
		t.Fatalf("previous key after the grace period: %v, want ErrBadContext", err)
	}
	fresh := kv.EncodeContext(rotated, testKey, sampleContext())
	if fresh == old {
		t.Fatal("a rotated key signs the same token")
	}
	if _, err := kv.DecodeContext(rotated, testKey, fresh, kv.DefaultLimits(), testNow.Add(100*kv.ContextKeyGrace)); err != nil {
		t.Fatalf("current key: %v", err)
	}
	if _, err := dec(fresh, kv.DefaultLimits()); !errors.Is(err, kv.ErrBadContext) {
		t.Fatalf("a token of a newer key before the rotation is known: %v, want ErrBadContext", err)
	}
	for _, bad := range []kv.ContextKeys{{}, kv.NewContextKeys([]byte("short"), testNow)} {
		if bad.Validate() == nil {
			t.Fatalf("Validate accepted %+v", bad)
		}
	}
}
