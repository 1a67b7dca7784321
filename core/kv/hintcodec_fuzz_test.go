package kv_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

// FuzzDecodeHint: a hint message body never panics the decoder, and whatever
// it accepts is a complete hint that round-trips through EncodeHint.
func FuzzDecodeHint(f *testing.F) {
	good, _ := json.Marshal(kv.Hint{Key: "k", Intended: "n1", Fallback: "n4", Created: 1})
	f.Add(string(good))
	f.Add(`{"key":"","intended":"n1","fallback":"n2"}`)
	f.Add(`{bad`)
	f.Add(``)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		h, err := kv.DecodeHint([]byte(body))
		if err != nil {
			if h != (kv.Hint{}) {
				t.Fatalf("rejected body gave a non-zero hint %+v", h)
			}
			return
		}
		if h.Key == "" || h.Intended == "" || h.Fallback == "" {
			t.Fatalf("accepted an incomplete hint %+v", h)
		}
		b, err := kv.EncodeHint(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := kv.DecodeHint(b)
		if err != nil || h2 != h {
			t.Fatalf("round trip: %+v -> %+v (%v)", h, h2, err)
		}
	})
}

// TestHintCodecRejectsIncompleteHints: every hint missing one of its three
// names is refused on both sides with ErrBadHint.
func TestHintCodecRejectsIncompleteHints(t *testing.T) {
	full := kv.Hint{Key: "k", Intended: "n1", Fallback: "n2"}
	for _, h := range []kv.Hint{{Intended: "n1", Fallback: "n2"}, {Key: "k", Fallback: "n2"}, {Key: "k", Intended: "n1"}} {
		if _, err := kv.EncodeHint(h); !errors.Is(err, kv.ErrBadHint) {
			t.Fatalf("EncodeHint(%+v) = %v, want ErrBadHint", h, err)
		}
		b, _ := json.Marshal(h)
		if _, err := kv.DecodeHint(b); !errors.Is(err, kv.ErrBadHint) {
			t.Fatalf("DecodeHint(%s) = %v, want ErrBadHint", b, err)
		}
	}
	if b, err := kv.EncodeHint(full); err != nil || string(b) != `{"key":"k","intended":"n1","fallback":"n2","created":0}` {
		t.Fatalf("EncodeHint(full) = %s, %v", b, err)
	}
}
