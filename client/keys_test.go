package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/cartwheel/cartwheel/client"
)

// TestKeysIterator: the iterator lists every live key over real HTTP, keys
// with query-string and path characters included, the same for any page
// size and prefix; breaking out stops it; a bad page size yields the 400.
func TestKeysIterator(t *testing.T) {
	c, _ := server(t)
	ctx := context.Background()
	keys := []string{"a b", "x&y=z", "x&", "%", "ü", "a/b", "a+b", "?q", "#"}
	for _, k := range keys {
		if _, err := c.Put(ctx, k, "", []byte("v"), "text/plain", client.Options{}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	slices.Sort(keys)
	collect := func(prefix string, size int) []string {
		var out []string
		for k, err := range c.Keys(ctx, prefix, size) {
			if err != nil {
				t.Fatalf("Keys(%q, %d): %v", prefix, size, err)
			}
			out = append(out, k)
		}
		return out
	}
	for _, size := range []int{0, 1, 2, 4} {
		if got := collect("", size); !slices.Equal(got, keys) {
			t.Errorf("page size %d: %q, want %q", size, got, keys)
		}
	}
	if got := collect("x&", 1); !slices.Equal(got, []string{"x&", "x&y=z"}) {
		t.Errorf("prefix x&: %q", got)
	}
	n := 0
	for range c.Keys(ctx, "", 1) {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("break after 3: %d", n)
	}
	for k, err := range c.Keys(ctx, "", client.MaxKeysLimit+1) {
		var ce *client.Error
		if k != "" || !errors.As(err, &ce) || ce.Status != 400 || ce.Body.Code != client.CodeBadRequest {
			t.Errorf("page size over the maximum: %q, %v", k, err)
		}
	}
}
