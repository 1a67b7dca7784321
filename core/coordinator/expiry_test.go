package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/crdt"
	"github.com/cartwheel/cartwheel/core/kv"
)

// A version with a TTL is visible through its expiry millisecond and from
// the next one on never again; the expired key answers like an absent one,
// with a context whose put replaces the expired version.
func TestTTLExactOnReads(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "session"
	start := e.clock.Now()
	mustPut(t, co, key, "", "v", Options{TTL: 10 * time.Second})
	g := mustGet(t, co, key, Options{})
	if len(g.Siblings) != 1 || g.Siblings[0].Expires != start.Add(10*time.Second).UnixMilli() {
		t.Fatalf("siblings %+v, want one expiring at +10s", g.Siblings)
	}
	e.clock.Advance(10 * time.Second)
	if g := mustGet(t, co, key, Options{}); !g.Found() {
		t.Fatal("invisible at its expiry millisecond")
	}
	e.clock.Advance(time.Millisecond)
	g = mustGet(t, co, key, Options{R: QuorumAll})
	if g.Found() || g.Context == "" {
		t.Fatalf("expired version read: %+v", g)
	}
	// Every replica still holds it (nothing reaped yet), and its dot.
	for _, id := range e.primaries(key) {
		if got := e.values(id, key); !slices.Equal(got, []string{"v"}) {
			t.Fatalf("%s holds %v", id, got)
		}
	}
	// A put with the read's context (or, on a second key, the put's)
	// replaces it; without a TTL the new version never expires.
	p2 := mustPut(t, co, key+"2", "", "v", Options{TTL: time.Millisecond})
	e.clock.Advance(time.Second)
	for key, tok := range map[string]string{key: g.Context, key + "2": p2.Context} {
		mustPut(t, co, key, tok, "w", Options{})
		e.clock.Advance(24 * time.Hour)
		if got := liveValues(mustGet(t, co, key, Options{R: QuorumAll}).Siblings); !slices.Equal(got, []string{"w"}) {
			t.Fatalf("after the replacing put: %v", got)
		}
		for _, id := range e.primaries(key) {
			if got := e.values(id, key); !slices.Equal(got, []string{"w"}) {
				t.Fatalf("%s holds %v", id, got)
			}
		}
	}
}

// Concurrent writes with different TTLs are siblings: each disappears at its
// own expiry; the one without a TTL (or with a later one) survives.
func TestTTLWithSiblings(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "cart"
	mustPut(t, co, key, "", "short", Options{TTL: time.Second})
	mustPut(t, co, key, "", "long", Options{TTL: time.Minute})
	mustPut(t, co, key, "", "forever", Options{})
	steps := []struct {
		after time.Duration
		want  []string
	}{
		{0, []string{"forever", "long", "short"}},
		{time.Second + time.Millisecond, []string{"forever", "long"}},
		{time.Minute, []string{"forever"}},
	}
	for _, s := range steps {
		e.clock.Advance(s.after)
		if got := liveValues(mustGet(t, co, key, Options{}).Siblings); !slices.Equal(got, s.want) {
			t.Fatalf("after +%v: %v, want %v", s.after, got, s.want)
		}
	}
	// A blind write long after the expiries drops them from the replicas
	// (their dots stay); the survivor is still a sibling.
	e.clock.Advance(ExpirySlack + time.Millisecond)
	mustPut(t, co, key, "", "new", Options{W: QuorumAll})
	for _, id := range e.primaries(key) {
		o, _ := e.object(id, kv.DataName(key), key)
		if got := liveValues(o.Siblings); !slices.Equal(got, []string{"forever", "new"}) {
			t.Fatalf("%s holds %v", id, got)
		}
	}
}

// A replica that missed the put that replaced its version with an expiring
// one cannot bring the old version back once the new one expires: the
// expired version's dot still supersedes it, in a read and when the hint
// is delivered after the expiry.
func TestTTLStaleReplicaAndLateHint(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "stale"
	prim := e.primaries(key)
	p := mustPut(t, co, key, "", "old", Options{W: QuorumAll})
	e.setState(prim[1], kv.StateDown)
	mustPut(t, co, key, p.Context, "expiring", Options{TTL: time.Second})
	e.setState(prim[1], kv.StateActive)
	hints := e.takeHints()
	if len(hints) != 1 || hints[0].Intended != prim[1] {
		t.Fatalf("setup: hints %+v", hints)
	}
	if got := e.values(prim[1], key); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("setup: %s holds %v", prim[1], got)
	}
	e.clock.Advance(time.Hour)
	for _, r := range []int{QuorumAll, QuorumMajority} {
		if g := mustGet(t, co, key, Options{R: r}); g.Found() {
			t.Fatalf("r=%d: the stale replica's version came back: %v", r, liveValues(g.Siblings))
		}
	}
	if err := co.DeliverHint(context.Background(), hints[0]); err != nil {
		t.Fatal(err)
	}
	for _, id := range prim {
		o, _ := e.object(id, kv.DataName(key), key)
		if len(o.Visible(e.clock.Now().UnixMilli())) != 0 || slices.Contains(liveValues(o.Siblings), "old") {
			t.Fatalf("%s holds %v after the late hint", id, liveValues(o.Siblings))
		}
	}
	if g := mustGet(t, co, key, Options{R: QuorumAll}); g.Found() {
		t.Fatalf("read after the late hint: %v", liveValues(g.Siblings))
	}
}

// If-None-Match: * treats a key whose versions all expired as absent, and
// a live one (expiring later) as present.
func TestTTLIfNoneMatch(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	key := "lock"
	if _, err := co.Put(context.Background(), key, "", val("a"), Options{IfNoneMatch: true, TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	e.clock.Advance(time.Second)
	if _, err := co.Put(context.Background(), key, "", val("b"), Options{IfNoneMatch: true}); !errors.Is(err, ErrConditionFailed) {
		t.Fatalf("create over a live version: %v", err)
	}
	e.clock.Advance(time.Millisecond)
	if _, err := co.Put(context.Background(), key, "", val("b"), Options{IfNoneMatch: true, TTL: time.Hour}); err != nil {
		t.Fatalf("create over an expired version: %v", err)
	}
	co.Wait()
	if got := liveValues(mustGet(t, co, key, Options{}).Siblings); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after the create: %v", got)
	}
	for _, id := range e.primaries(key) {
		if got := e.values(id, key); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("%s holds %v: the create did not supersede the expired version", id, got)
		}
	}
}

// The cluster default applies to puts without a TTL; a bad TTL is a bad
// request; a returned body hides expired siblings too.
func TestTTLDefaultAndLimits(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord(func(c *Config) { c.DefaultTTL = time.Minute })
	now := e.clock.Now()
	mustPut(t, co, "d", "", "x", Options{})
	mustPut(t, co, "d", "", "y", Options{TTL: time.Second})
	exp := map[string]int64{}
	for _, s := range mustGet(t, co, "d", Options{}).Siblings {
		exp[string(s.Value)] = s.Expires
	}
	if exp["x"] != now.Add(time.Minute).UnixMilli() || exp["y"] != now.Add(time.Second).UnixMilli() {
		t.Fatalf("expiries %v", exp)
	}
	e.clock.Advance(2 * time.Second)
	p, err := co.Put(context.Background(), "d", "", val("z"), Options{ReturnBody: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := liveValues(p.Body.Siblings); !slices.Equal(got, []string{"x", "z"}) {
		t.Fatalf("returned body %v", got)
	}
	for _, ttl := range []time.Duration{-time.Second, MaxTTL + time.Millisecond} {
		if _, err := co.Put(context.Background(), "d", "", val("z"), Options{TTL: ttl}); !errors.Is(err, kv.ErrBadRequest) {
			t.Fatalf("ttl %v: %v", ttl, err)
		}
	}
	cfg := DefaultConfig()
	cfg.DefaultTTL = -time.Second
	if cfg.Validate() == nil {
		t.Fatal("negative DefaultTTL accepted")
	}
}

// A key listing shows a key while a version is visible and leaves it out from
// the first millisecond after every version expired, as a get answers 404;
// a concurrent version without a TTL keeps its key listed.
func TestTTLListKeys(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	mustPut(t, co, "gone", "", "v", Options{TTL: 10 * time.Second})
	mustPut(t, co, "kept", "", "v", Options{TTL: 10 * time.Second})
	mustPut(t, co, "kept", "", "w", Options{})
	list := func() []string {
		t.Helper()
		p, err := co.ListKeys(context.Background(), "", ListCursor{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		return p.Keys
	}
	if got := list(); !slices.Equal(got, []string{"gone", "kept"}) {
		t.Fatalf("before expiry: %v", got)
	}
	e.clock.Advance(10*time.Second + time.Millisecond)
	if got := list(); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("after expiry: %v, want [kept]", got)
	}
}

// A data type expires like any key (a session kept as a map): an update with
// a TTL gives the merged state that expiry; once expired, a typed read is
// not found and the next update starts from an empty state, with its own
// TTL or none.
func TestTTLDataTypes(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	ctx := context.Background()
	incr := func(n int64, ttl time.Duration) {
		t.Helper()
		if _, err := co.Update(ctx, "session", crdt.Op{Type: crdt.Counter, Increment: &n}, Options{TTL: ttl}); err != nil {
			t.Fatal(err)
		}
	}
	value := func() (string, bool) {
		t.Helper()
		r, err := co.GetTyped(ctx, "session", Options{R: QuorumAll})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(r.State.Value()), r.Found
	}
	incr(2, 10*time.Second)
	e.clock.Advance(5 * time.Second)
	incr(3, 10*time.Second) // the merged state now expires at +15 s
	e.clock.Advance(9 * time.Second)
	if v, ok := value(); !ok || v != "5" {
		t.Fatalf("at +14 s: %s, %v; want 5", v, ok)
	}
	e.clock.Advance(time.Second + time.Millisecond)
	if v, ok := value(); ok {
		t.Fatalf("expired data type read: %s", v)
	}
	incr(7, 0) // no TTL: starts from nothing and never expires
	e.clock.Advance(24 * time.Hour)
	if v, ok := value(); !ok || v != "7" {
		t.Fatalf("after an update past the expiry: %s, %v; want 7", v, ok)
	}
}
