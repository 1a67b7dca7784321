package kv_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
)

func TestDefaultsAreValid(t *testing.T) {
	p := kv.DefaultParams()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultParams invalid: %v", err)
	}
	if p.N != 3 || p.R != 2 || p.W != 2 || p.Q != 4096 || p.LWW {
		t.Fatalf("DefaultParams = %+v, want N=3 R=2 W=2 Q=4096 siblings kept", p)
	}
	if p.R+p.W <= p.N {
		t.Fatalf("default quorums do not overlap: R+W=%d, N=%d", p.R+p.W, p.N)
	}
	l := kv.DefaultLimits()
	if err := l.Validate(); err != nil {
		t.Fatalf("DefaultLimits invalid: %v", err)
	}
	if l.WarnSiblings >= l.MaxSiblings {
		t.Fatalf("WarnSiblings %d should be below MaxSiblings %d", l.WarnSiblings, l.MaxSiblings)
	}
}

func TestParamsValidateTable(t *testing.T) {
	ok := kv.Params{Q: 64, N: 3, R: 2, W: 2}
	cases := []struct {
		name  string
		edit  func(*kv.Params)
		field string // "" = valid
	}{
		{"valid", func(*kv.Params) {}, ""},
		{"q=1", func(p *kv.Params) { p.Q = 1 }, ""},
		{"q=16384", func(p *kv.Params) { p.Q = kv.MaxQ }, ""},
		{"q=32768", func(p *kv.Params) { p.Q = 2 * kv.MaxQ }, "q="},
		{"q=0", func(p *kv.Params) { p.Q = 0 }, "q="},
		{"q negative", func(p *kv.Params) { p.Q = -4 }, "q="},
		{"q not power of two", func(p *kv.Params) { p.Q = 48 }, "q="},
		{"q too large", func(p *kv.Params) { p.Q = 1 << 17 }, "q="},
		{"n=0", func(p *kv.Params) { p.N, p.R, p.W = 0, 0, 0 }, "n="},
		{"n=16", func(p *kv.Params) { p.N = 16 }, ""},
		{"n=17", func(p *kv.Params) { p.N = 17 }, "n="},
		{"r=0", func(p *kv.Params) { p.R = 0 }, "r="},
		{"r>n", func(p *kv.Params) { p.R = 4 }, "r="},
		{"r=n", func(p *kv.Params) { p.R = 3 }, ""},
		{"w=0", func(p *kv.Params) { p.W = 0 }, "w="},
		{"w>n", func(p *kv.Params) { p.W = 4 }, "w="},
		{"w=n", func(p *kv.Params) { p.W = 3 }, ""},
		{"lww", func(p *kv.Params) { p.LWW = true }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.edit(&p)
			err := p.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate(%+v) = %v, want nil", p, err)
			case tc.field != "" && err == nil:
				t.Fatalf("Validate(%+v) = nil, want an error about %s", p, tc.field)
			case tc.field != "" && !strings.Contains(err.Error(), tc.field):
				t.Fatalf("Validate(%+v) = %q, want it to name %s", p, err, tc.field)
			}
		})
	}
}

// Validate accepts exactly the documented ranges.
func TestParamsValidateProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := kv.Params{
			Q:   rapid.IntRange(-2, 1<<17+1).Draw(t, "q"),
			N:   rapid.IntRange(-1, 18).Draw(t, "n"),
			R:   rapid.IntRange(-1, 18).Draw(t, "r"),
			W:   rapid.IntRange(-1, 18).Draw(t, "w"),
			LWW: rapid.Bool().Draw(t, "lww"),
		}
		if rapid.Bool().Draw(t, "pow2") {
			p.Q = 1 << rapid.IntRange(0, 17).Draw(t, "qbits")
		}
		pow2 := p.Q > 0 && p.Q&(p.Q-1) == 0
		want := pow2 && p.Q <= kv.MaxQ && p.N >= 1 && p.N <= 16 && p.R >= 1 && p.R <= p.N && p.W >= 1 && p.W <= p.N
		if got := p.Validate() == nil; got != want {
			t.Fatalf("Validate(%+v) ok=%v, want %v", p, got, want)
		}
	})
}

func TestLimitsValidateTable(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*kv.Limits)
		field string
	}{
		{"defaults", func(*kv.Limits) {}, ""},
		{"key 0", func(l *kv.Limits) { l.MaxKeyBytes = 0 }, "MaxKeyBytes"},
		{"key 4096", func(l *kv.Limits) { l.MaxKeyBytes = 4096 }, ""},
		{"key 4097", func(l *kv.Limits) { l.MaxKeyBytes = 4097 }, "MaxKeyBytes"},
		{"value -1", func(l *kv.Limits) { l.MaxValueBytes = -1 }, "MaxValueBytes"},
		{"value 0", func(l *kv.Limits) { l.MaxValueBytes = 0 }, ""},
		{"value 64MiB", func(l *kv.Limits) { l.MaxValueBytes, l.MaxObjectBytes = 64<<20, 64<<20 }, ""},
		{"value over 64MiB", func(l *kv.Limits) { l.MaxValueBytes, l.MaxObjectBytes = 64<<20+1, 128<<20 }, "MaxValueBytes"},
		{"siblings 0", func(l *kv.Limits) { l.MaxSiblings = 0 }, "MaxSiblings"},
		{"siblings 4096", func(l *kv.Limits) { l.MaxSiblings = 4096 }, ""},
		{"siblings 4097", func(l *kv.Limits) { l.MaxSiblings = 4097 }, "MaxSiblings"},
		{"object below value", func(l *kv.Limits) { l.MaxObjectBytes = l.MaxValueBytes - 1 }, "MaxObjectBytes"},
		{"object equals value", func(l *kv.Limits) { l.MaxObjectBytes = l.MaxValueBytes }, ""},
		{"context 255", func(l *kv.Limits) { l.MaxContextBytes = 255 }, "MaxContextBytes"},
		{"context 256", func(l *kv.Limits) { l.MaxContextBytes = 256 }, ""},
		{"content type 0", func(l *kv.Limits) { l.MaxContentTypeBytes = 0 }, "MaxContentTypeBytes"},
		{"content type 1", func(l *kv.Limits) { l.MaxContentTypeBytes = 1 }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := kv.DefaultLimits()
			tc.edit(&l)
			err := l.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate(%+v) = %v, want nil", l, err)
			case tc.field != "" && err == nil:
				t.Fatalf("Validate(%+v) = nil, want an error about %s", l, tc.field)
			case tc.field != "" && !strings.Contains(err.Error(), tc.field):
				t.Fatalf("Validate(%+v) = %q, want it to name %s", l, err, tc.field)
			}
		})
	}
}

func TestLimitsValidateProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l := kv.Limits{
			MaxKeyBytes:         rapid.IntRange(-1, 5000).Draw(t, "key"),
			MaxValueBytes:       rapid.IntRange(-1, 64<<20+1).Draw(t, "value"),
			MaxContentTypeBytes: rapid.IntRange(-1, 300).Draw(t, "ct"),
			MaxSiblings:         rapid.IntRange(-1, 5000).Draw(t, "siblings"),
			WarnSiblings:        rapid.IntRange(-1, 5000).Draw(t, "warn"),
			MaxObjectBytes:      rapid.IntRange(-1, 65<<20).Draw(t, "object"),
			MaxContextBytes:     rapid.IntRange(0, 9000).Draw(t, "context"),
		}
		want := l.MaxKeyBytes >= 1 && l.MaxKeyBytes <= 4096 &&
			l.MaxValueBytes >= 0 && l.MaxValueBytes <= 64<<20 &&
			l.MaxSiblings >= 1 && l.MaxSiblings <= 4096 &&
			l.MaxObjectBytes >= l.MaxValueBytes &&
			l.MaxContextBytes >= 256 &&
			l.MaxContentTypeBytes >= 1
		if got := l.Validate() == nil; got != want {
			t.Fatalf("Validate(%+v) ok=%v, want %v", l, got, want)
		}
	})
}

func TestCheckKey(t *testing.T) {
	l := kv.DefaultLimits()
	l.MaxKeyBytes = 8
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"", false},
		{"a", true},
		{"12345678", true},
		{"123456789", false},
		{"héllo", true},  // 6 bytes of UTF-8
		{"ééééé", false}, // 5 runes, 10 bytes: the limit is in bytes
		{"\xff", false},
		{"ok\xc3", false}, // truncated UTF-8 sequence
	} {
		err := l.CheckKey(tc.key)
		if tc.ok != (err == nil) {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
		if err != nil && !errors.Is(err, kv.ErrBadKey) {
			t.Errorf("CheckKey(%q) = %v, does not wrap ErrBadKey", tc.key, err)
		}
	}
}

func TestCheckValue(t *testing.T) {
	l := kv.DefaultLimits()
	l.MaxValueBytes = 4
	l.MaxContentTypeBytes = 3
	for _, tc := range []struct {
		value []byte
		ct    string
		ok    bool
	}{
		{nil, "", true},
		{[]byte("1234"), "abc", true},
		{[]byte("12345"), "", false},
		{nil, "abcd", false},
	} {
		err := l.CheckValue(tc.value, tc.ct)
		if tc.ok != (err == nil) {
			t.Errorf("CheckValue(%q, %q) = %v, want ok=%v", tc.value, tc.ct, err, tc.ok)
		}
		if err != nil && !errors.Is(err, kv.ErrValueTooLarge) {
			t.Errorf("CheckValue(%q, %q) = %v, does not wrap ErrValueTooLarge", tc.value, tc.ct, err)
		}
	}
}

func TestQuorumError(t *testing.T) {
	e := &kv.QuorumError{Op: "put", Got: 1, Need: 2}
	if got, want := e.Error(), "put: 1 of 2 required replicas answered"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	e.Errs = []error{errors.New("n1 timed out"), errors.New("n2 refused")}
	msg := e.Error()
	for _, want := range []string{"put: 1 of 2 required replicas answered: ", "n1 timed out", "n2 refused"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("Error() = %q, missing %q", msg, want)
		}
	}
	var err error = fmt.Errorf("wrapped: %w", e)
	if !errors.Is(err, kv.ErrQuorum) {
		t.Fatal("a wrapped QuorumError is not ErrQuorum")
	}
	if errors.Is(err, kv.ErrBadRequest) || errors.Is(err, kv.ErrNotFound) {
		t.Fatal("QuorumError matches unrelated sentinels")
	}
	var qe *kv.QuorumError
	if !errors.As(err, &qe) || qe.Got != 1 || qe.Need != 2 {
		t.Fatalf("errors.As = %+v", qe)
	}
}

func TestNames(t *testing.T) {
	key := "cart:alice"
	sum := md5.Sum([]byte(key))
	hexSum := hex.EncodeToString(sum[:])
	if kv.KeyHash(key) != sum {
		t.Fatal("KeyHash is not the MD5 of the key")
	}
	if got := kv.DataName(key); got != "data/"+hexSum {
		t.Fatalf("DataName = %q", got)
	}
	if got := kv.HintKeyPrefix(key); got != "hints/"+hexSum+"/" {
		t.Fatalf("HintKeyPrefix = %q", got)
	}
	if got := kv.HintName("n3", key); got != "hints/"+hexSum+"/n3" {
		t.Fatalf("HintName = %q", got)
	}
	if !strings.HasPrefix(kv.DataName(key), kv.DataPrefix) || !strings.HasPrefix(kv.HintName("x", key), kv.HintPrefix) {
		t.Fatal("names do not start with their prefixes")
	}
	// Any key, however long or odd, gives a fixed-size name.
	long := strings.Repeat("ü", 2000)
	if len(kv.DataName(long)) != len(kv.DataName("a")) {
		t.Fatal("DataName length depends on the key")
	}
}

func TestActorRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		node := rapid.StringMatching(`[A-Za-z0-9_-]{1,64}`).Draw(t, "node")
		inc := rapid.Uint64().Draw(t, "incarnation")
		nonce := rapid.Uint64().Draw(t, "nonce")
		a := kv.ActorFor(node, inc, nonce)
		gotNode, gotInc, err := kv.ParseActor(a)
		if err != nil || gotNode != node || gotInc != inc {
			t.Fatalf("ParseActor(%q) = %q, %d, %v; want %q, %d", a, gotNode, gotInc, err, node, inc)
		}
		if kv.ActorFor(node, inc, nonce) != a {
			t.Fatal("ActorFor is not deterministic")
		}
		if other := rapid.Uint64().Draw(t, "other"); other != nonce && kv.ActorFor(node, inc, other) == a {
			t.Fatalf("nonces %d and %d give the same actor", nonce, other)
		}
	})
}

func TestActorFormat(t *testing.T) {
	if got := kv.ActorFor("n1", 2, 36); got != "n1.2.10" {
		t.Fatalf("ActorFor = %q, want n1.2.10 (nonce in base 36)", got)
	}
	for _, bad := range []string{"", "n1", "n1.7", "n1.x.1", "n1..1", "n1.-1.5", "n1.99999999999999999999.1"} {
		if node, inc, err := kv.ParseActor(bad); err == nil {
			t.Errorf("ParseActor(%q) = %q, %d, nil; want an error", bad, node, inc)
		}
	}
}

func TestValidNodeID(t *testing.T) {
	for id, want := range map[string]bool{
		"":                      false,
		"n1":                    true,
		"Node_B-2":              true,
		strings.Repeat("a", 64): true,
		strings.Repeat("a", 65): false,
		"n.1":                   false, // '.' separates actor fields
		"n 1":                   false,
		"n/1":                   false,
		"nö":                    false,
	} {
		if got := kv.ValidNodeID(id); got != want {
			t.Errorf("ValidNodeID(%q) = %v, want %v", id, got, want)
		}
	}
	// ValidNodeID agrees with the documented pattern, and every valid id
	// survives as the node part of an actor.
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.OneOf(rapid.String(), rapid.StringMatching(`[A-Za-z0-9_./ -]{0,70}`)).Draw(t, "id")
		if got, want := kv.ValidNodeID(id), pattern.MatchString(id); got != want {
			t.Fatalf("ValidNodeID(%q) = %v, want %v", id, got, want)
		}
		if !kv.ValidNodeID(id) {
			return
		}
		if node, _, err := kv.ParseActor(kv.ActorFor(id, 1, 1)); err != nil || node != id {
			t.Fatalf("valid id %q does not round-trip through an actor: %q, %v", id, node, err)
		}
	})
}

func TestClusterNode(t *testing.T) {
	c := kv.Cluster{Nodes: []kv.Node{{ID: "a", Zone: "z1"}, {ID: "b", Zone: "z2"}}}
	n, err := c.Node("b")
	if err != nil || n.Zone != "z2" {
		t.Fatalf("Node(b) = %+v, %v", n, err)
	}
	_, err = c.Node("c")
	if !errors.Is(err, kv.ErrNoNode) || !strings.Contains(err.Error(), `"c"`) {
		t.Fatalf("Node(c) = %v, want ErrNoNode naming c", err)
	}
}

func TestFaultModeValidate(t *testing.T) {
	good := []kv.FaultMode{{}, {Kind: "down"}, {Kind: "slow", LatencyMs: 200}, {Kind: "errors", Rate: 0.3}}
	bad := []kv.FaultMode{{Kind: "explode"}, {Kind: "slow", LatencyMs: -1}, {Kind: "slow", LatencyMs: 60_001}, {Kind: "errors", Rate: 1.5}, {Kind: "errors", Rate: -0.1}}
	for _, m := range good {
		if err := m.Validate(); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
	for _, m := range bad {
		if m.Validate() == nil {
			t.Errorf("%+v accepted", m)
		}
	}
}
