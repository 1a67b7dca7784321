package coordinator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

// fallbackWrites is how many writes TestFallbackChurnKeepsContextSmall makes:
// 1,000 by default, CARTWHEEL_CLOCK_WRITES (e.g. 10000) on demand.
func fallbackWrites(t *testing.T) int {
	if s := os.Getenv("CARTWHEEL_CLOCK_WRITES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CARTWHEEL_CLOCK_WRITES=%q must be a positive integer", s)
		}
		return n
	}
	return 1000
}

// Issue 22, defect 4: a key written again and again through a fallback
// (its primaries down for each write, the hint delivered in between) must
// keep a small clock. Each write used to land in a fresh hinted replica
// object that minted with a new actor, so the key's clock grew by one actor
// per write: after about 400 writes a get's context passed 8 KB and the
// next put rejected it as bad_context.
func TestFallbackChurnKeepsContextSmall(t *testing.T) {
	e := newEnv(t, 4) // three primaries and one fallback per key
	co := e.coord()
	key := "cart"
	prim := e.primaries(key)
	ctx := context.Background()
	largest := 0
	n := fallbackWrites(t)
	for i := 0; i < n; i++ {
		g := mustGet(t, co, key, Options{R: 3})
		largest = max(largest, len(g.Context))
		if len(g.Context) > 1024 {
			t.Fatalf("after %d fallback writes a get's context is %d bytes (over 1 KB)", i, len(g.Context))
		}
		for _, id := range prim {
			e.setState(id, kv.StateDown)
		}
		_, err := co.Put(ctx, key, g.Context, val(fmt.Sprint("v", i)), Options{W: 1})
		if errors.Is(err, kv.ErrBadContext) {
			t.Fatalf("write %d: the context of a get (%d bytes) is rejected: %v", i, len(g.Context), err)
		}
		if err != nil {
			t.Fatalf("write %d through the fallback: %v", i, err)
		}
		co.Wait()
		for _, id := range prim {
			e.setState(id, kv.StateActive)
		}
		if res, err := co.DrainHints(ctx, 0); err != nil || res.Delivered != 1 {
			t.Fatalf("write %d: drain = %+v, %v; want its hint delivered", i, res, err)
		}
	}
	g := mustGet(t, co, key, Options{R: 3})
	if got := liveValues(g.Siblings); len(got) != 1 || got[0] != fmt.Sprint("v", n-1) {
		t.Fatalf("after %d writes the key holds %v, want only the last write", n, got)
	}
	t.Logf("%d fallback writes: largest context %d bytes, last %d bytes", n, largest, len(g.Context))
}
