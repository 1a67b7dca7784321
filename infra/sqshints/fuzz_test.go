package sqshints

import (
	"encoding/json"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

// FuzzDecode: a hint message body never panics the decoder, and whatever it
// accepts is a complete hint that round-trips through JSON.
func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal(kv.Hint{Key: "k", Intended: "n1", Fallback: "n4", Created: 1})
	f.Add(string(good))
	f.Add(`{"key":"","intended":"n1","fallback":"n2"}`)
	f.Add(`{bad`)
	f.Add(``)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, body string) {
		h, err := Decode(body)
		if err != nil {
			return
		}
		if h.Key == "" || h.Intended == "" || h.Fallback == "" {
			t.Fatalf("accepted an incomplete hint %+v", h)
		}
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := Decode(string(b))
		if err != nil || h2 != h {
			t.Fatalf("round trip: %+v -> %+v (%v)", h, h2, err)
		}
	})
}
