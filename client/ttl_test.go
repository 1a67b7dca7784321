package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/client"
)

// Options.TTL travels as ttl in whole seconds, rounded up; the get shows
// each version's Expires (absent without a TTL); ReturnBody too.
func TestClientTTL(t *testing.T) {
	c, co := server(t)
	ctx := context.Background()
	before := time.Now()
	if _, err := c.Put(ctx, "s", "", []byte("a"), "text/plain", client.Options{TTL: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	v, err := c.Put(ctx, "s", "", []byte("b"), "text/plain", client.Options{ReturnBody: true})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	g, err := c.Get(ctx, "s", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range []client.Versions{v, g} {
		exp := map[string]int64{}
		for _, s := range vs.Siblings {
			exp[string(s.Value)] = s.Expires
		}
		lo, hi := before.Add(2*time.Second).UnixMilli(), after.Add(2*time.Second).UnixMilli()
		if len(exp) != 2 || exp["b"] != 0 || exp["a"] < lo || exp["a"] > hi {
			t.Fatalf("expiries %v, want a in [%d, %d] (1.5 s rounded up to 2 s) and none for b", exp, lo, hi)
		}
	}
}
