package httpapi

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/client"
)

// TestAnyUTF8KeyThroughTheGoClient: every UTF-8 key of 1 to 1024 bytes,
// "." and ".." (dot segments that URL cleaning would remove) and keys of
// slashes, percents and spaces among them, is stored and read back under
// itself through the Go client and the local server, and a different key
// never answers for it.
func TestAnyUTF8KeyThroughTheGoClient(t *testing.T) {
	srv := httptest.NewServer(&Local{H: testHandler(t), MaxBody: 1 << 20})
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		key := rapid.OneOf(
			rapid.SampledFrom([]string{".", "..", "...", "./", "/..", "%2E", "%", " ", "a/../b", "?", "#", "\u00e9"}),
			rapid.StringOfN(rapid.SampledFrom([]rune{'.', '/', '%', ' ', '?', '#', 'a', '\u00e9', '\u65e5'}), 1, 12, -1),
			rapid.StringN(1, 40, -1),
		).Filter(func(s string) bool { return utf8.ValidString(s) && len(s) <= 1024 }).Draw(rt, "key")
		value := []byte("value of " + key)
		if _, err := c.Put(ctx, key, "", value, "text/plain", client.Options{}); err != nil {
			rt.Fatalf("put %q: %v", key, err)
		}
		v, err := c.Get(ctx, key, client.Options{})
		if err != nil {
			rt.Fatalf("get %q: %v", key, err)
		}
		for _, s := range v.Siblings {
			if !bytes.Equal(s.Value, value) {
				rt.Fatalf("get %q answered %q, another key's value", key, s.Value)
			}
		}
		if _, err := c.Delete(ctx, key, v.Context, client.Options{}); err != nil {
			rt.Fatalf("delete %q: %v", key, err)
		}
	})
}
