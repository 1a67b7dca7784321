package coordtest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
)

// The client contract: a put with a context supersedes exactly the versions
// the context covers, and the options of a request are honoured or rejected.

// mustPut puts and fails the test on error.
func mustPut(t *testing.T, co *coordinator.Coordinator, key, token, v string, opt coordinator.Options) coordinator.PutResult {
	t.Helper()
	p, err := co.Put(context.Background(), key, token, val(v), opt)
	if err != nil {
		t.Fatalf("put %q=%q: %v", key, v, err)
	}
	co.Wait()
	return p
}

// mustValues reads key from all N replicas and returns its sorted live values.
func mustValues(t *testing.T, co *coordinator.Coordinator, key string) []string {
	t.Helper()
	g, err := co.Get(context.Background(), key, coordinator.Options{R: coordinator.QuorumAll})
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return Values(g)
}

// PutContextCoversOnlyWhatItsHolderSaw: client A reuses the context its own
// put returned, after client B wrote concurrently; B's write survives as a
// sibling, for a put and for a delete. (Before the fix, a put answered with
// the coordinating replica's whole clock, which covered B's version.)
func PutContextCoversOnlyWhatItsHolderSaw(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{})
	coA, coB := c.Coordinator(), c.Coordinator()
	for _, del := range []bool{false, true} {
		key := "cart:reuse"
		if del {
			key += ":delete"
		}
		a0 := mustPut(t, coA, key, "", "A0", coordinator.Options{})
		mustPut(t, coB, key, "", "B0", coordinator.Options{}) // blind: concurrent with A0
		a1 := mustPut(t, coA, key, a0.Context, "A1", coordinator.Options{})
		if got := mustValues(t, coA, key); !slices.Equal(got, []string{"A1", "B0"}) {
			t.Fatalf("after A1: %v, want [A1 B0]", got)
		}
		want := []string{"A2", "B0"}
		if del {
			if _, err := coA.Delete(context.Background(), key, a1.Context, coordinator.Options{}); err != nil {
				t.Fatal(err)
			}
			coA.Wait()
			want = []string{"B0"}
		} else {
			mustPut(t, coA, key, a1.Context, "A2", coordinator.Options{})
		}
		if got := mustValues(t, coB, key); !slices.Equal(got, want) {
			t.Fatalf("delete=%v with the context A's put returned: %v, want %v (B's write was never shown to A)", del, got, want)
		}
	}
}

// ForgedContextRejected: a client re-signs a real context with an empty clock
// and a real replica's ETag, which would let the fast path overwrite every
// version. The MAC rejects it and nothing changes.
func ForgedContextRejected(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co := c.Coordinator()
	key := "cart:forge"
	mustPut(t, co, key, "", "mine", coordinator.Options{})
	mustPut(t, co, key, "", "theirs", coordinator.Options{})
	g, err := co.Get(ctx, key, coordinator.Options{R: coordinator.QuorumAll})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := env.Members.Load(ctx)
	if err != nil || cl.ContextKeys == nil {
		t.Fatalf("membership has no context keys: %v", err)
	}
	real, err := kv.DecodeContext(*cl.ContextKeys, key, g.Context, kv.DefaultLimits(), c.now())
	if err != nil || len(real.Seen) == 0 {
		t.Fatalf("decode a real context: %+v %v", real, err)
	}
	forged := kv.Context{Seen: real.Seen} // empty clock: "I saw nothing, overwrite it all"
	guess := kv.NewContextKeys([]byte(strings.Repeat("g", kv.MinContextSecret)), c.now())
	for name, tok := range map[string]string{
		"signed with a guessed secret":   kv.EncodeContext(guess, key, forged),
		"real context of another key":    kv.EncodeContext(*cl.ContextKeys, "cart:other", real),
		"real context, one byte flipped": flip(g.Context),
	} {
		if _, err := co.Put(ctx, key, tok, val("overwrite"), coordinator.Options{}); !errors.Is(err, kv.ErrBadContext) {
			t.Fatalf("%s: put answered %v, want ErrBadContext", name, err)
		}
		if _, err := co.Delete(ctx, key, tok, coordinator.Options{}); !errors.Is(err, kv.ErrBadContext) {
			t.Fatalf("%s: delete answered %v, want ErrBadContext", name, err)
		}
	}
	co.Wait()
	if got := mustValues(t, co, key); !slices.Equal(got, []string{"mine", "theirs"}) {
		t.Fatalf("after rejected forgeries: %v", got)
	}
}

func flip(tok string) string {
	b := []byte(tok)
	b[len(b)/2] ^= 1
	return string(b)
}

// ConditionalWrites: If-None-Match is create-only (a tombstone counts as
// absent); If-Match succeeds only while nothing was written since its
// context, for puts and deletes.
func ConditionalWrites(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co, other := c.Coordinator(), c.Coordinator()
	create := coordinator.Options{IfNoneMatch: true}
	key := "cart:cond"
	mustPut(t, co, key, "", "first", create)
	if _, err := co.Put(ctx, key, "", val("second"), create); !errors.Is(err, coordinator.ErrConditionFailed) {
		t.Fatalf("create-only over a live key: %v, want ErrConditionFailed", err)
	}
	if _, err := co.Put(ctx, key, "x", val("second"), create); !errors.Is(err, kv.ErrBadRequest) {
		t.Fatalf("create-only with a context: %v, want ErrBadRequest", err)
	}
	g, _ := co.Get(ctx, key, coordinator.Options{})
	if _, err := co.Delete(ctx, key, g.Context, coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	mustPut(t, co, key, "", "again", create) // tombstones only: absent
	if got := mustValues(t, co, key); !slices.Equal(got, []string{"again"}) {
		t.Fatalf("create-only after a delete: %v", got)
	}

	g, _ = co.Get(ctx, key, coordinator.Options{})
	p := mustPut(t, co, key, "", "cas-1", coordinator.Options{IfMatch: g.Context})
	if _, err := co.Put(ctx, key, "", val("stale"), coordinator.Options{IfMatch: g.Context}); !errors.Is(err, coordinator.ErrConditionFailed) {
		t.Fatalf("If-Match with a stale context: %v", err)
	}
	mustPut(t, co, key, "", "cas-2", coordinator.Options{IfMatch: p.Context}) // the put's own context is current
	g, _ = co.Get(ctx, key, coordinator.Options{})
	mustPut(t, other, key, "", "concurrent", coordinator.Options{})
	if _, err := co.Put(ctx, key, "", val("lost?"), coordinator.Options{IfMatch: g.Context}); !errors.Is(err, coordinator.ErrConditionFailed) {
		t.Fatalf("If-Match after a concurrent write: %v", err)
	}
	if _, err := co.Delete(ctx, key, "", coordinator.Options{IfMatch: g.Context}); !errors.Is(err, coordinator.ErrConditionFailed) {
		t.Fatalf("delete If-Match after a concurrent write: %v", err)
	}
	if _, err := co.Put(ctx, key, "other", val("x"), coordinator.Options{IfMatch: g.Context}); !errors.Is(err, kv.ErrBadRequest) {
		t.Fatalf("If-Match and a different context: %v", err)
	}
	if got := mustValues(t, co, key); !slices.Equal(got, []string{"cas-2", "concurrent"}) {
		t.Fatalf("after failed conditions: %v", got)
	}
	g, _ = co.Get(ctx, key, coordinator.Options{})
	if _, err := co.Delete(ctx, key, "", coordinator.Options{IfMatch: g.Context}); err != nil {
		t.Fatalf("delete If-Match current: %v", err)
	}
	co.Wait()
	if got := mustValues(t, co, key); len(got) != 0 {
		t.Fatalf("after a conditional delete: %v", got)
	}
}

// ReturnBody: a put answers every sibling after the write with a context
// covering exactly them, so a put with that context resolves them all.
func ReturnBody(t *testing.T, env Env) {
	c := NewCluster(t, env, Options{})
	coA, coB := c.Coordinator(), c.Coordinator()
	key := "cart:body"
	a := mustPut(t, coA, key, "", "A0", coordinator.Options{})
	mustPut(t, coB, key, "", "B0", coordinator.Options{})
	p := mustPut(t, coA, key, a.Context, "A1", coordinator.Options{ReturnBody: true})
	if p.Body == nil || !slices.Equal(Values(*p.Body), []string{"A1", "B0"}) {
		t.Fatalf("returnbody: %+v", p.Body)
	}
	if p.Context == p.Body.Context {
		t.Fatal("the body's context must cover the siblings; the put's context must not")
	}
	mustPut(t, coA, key, p.Body.Context, "merged", coordinator.Options{})
	if got := mustValues(t, coA, key); !slices.Equal(got, []string{"merged"}) {
		t.Fatalf("after a put with the body's context: %v", got)
	}
}

// PrimaryQuorums: pr and pw count primaries only; a sloppy fallback does
// not satisfy them. Symbolic sizes resolve against N.
func PrimaryQuorums(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co := c.Coordinator()
	key := "cart:primaries"
	mustPut(t, co, key, "", "v", coordinator.Options{W: coordinator.QuorumAll, PW: coordinator.QuorumAll})
	if _, err := co.Get(ctx, key, coordinator.Options{PR: coordinator.QuorumAll}); err != nil {
		t.Fatalf("pr=all, all up: %v", err)
	}
	c.Down(c.Primaries(key)[2], true)
	if _, err := co.Get(ctx, key, coordinator.Options{PR: 3}); !errors.Is(err, kv.ErrQuorum) {
		t.Fatalf("pr=3 with a primary down: %v, want ErrQuorum", err)
	}
	if _, err := co.Get(ctx, key, coordinator.Options{PR: 2, R: coordinator.QuorumOne}); err != nil {
		t.Fatalf("pr=2 with two primaries up: %v", err)
	}
	if _, err := co.Put(ctx, key, "", val("w"), coordinator.Options{PW: 3}); !errors.Is(err, kv.ErrQuorum) {
		t.Fatalf("pw=3 with a primary down: %v, want ErrQuorum", err)
	}
	co.Wait()
	// w=3 is met by a fallback (sloppy quorum), pw=2 by the two primaries.
	if _, err := co.Put(ctx, key, "", val("w"), coordinator.Options{W: 3, PW: 2}); err != nil {
		t.Fatalf("w=3 pw=2 with a fallback: %v", err)
	}
	co.Wait()
}
