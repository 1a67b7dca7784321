package repair

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/vclock"
)

func TestReapDecisionExpired(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-3 * time.Hour).UnixMilli()
	expired := func(exp time.Time) vclock.Sibling {
		return vclock.Sibling{Value: []byte("v"), Time: old, Expires: exp.UnixMilli()}
	}
	tomb := vclock.Sibling{Tombstone: true, Time: old}
	obj := func(s ...vclock.Sibling) vclock.Object { return vclock.Object{Key: "k", Siblings: s} }
	same := []string{"e1", "e1", "e1"}
	for _, tc := range []struct {
		name string
		obj  vclock.Object
		want string
	}{
		{"expired past the grace", obj(expired(now.Add(-2 * time.Hour))), ReapOK},
		{"expired and deleted", obj(tomb, expired(now.Add(-2*time.Hour))), ReapOK},
		{"expired within the grace", obj(expired(now.Add(-30 * time.Minute))), ReapTooRecent},
		{"tombstone old, expiry within the grace", obj(tomb, expired(now.Add(-time.Minute))), ReapTooRecent},
		{"expires at now (still visible)", obj(expired(now)), ReapLive},
		{"a sibling that never expires", obj(expired(now.Add(-2*time.Hour)), vclock.Sibling{Value: []byte("w"), Time: old}), ReapLive},
	} {
		in := ReapInput{ETags: same, Object: tc.obj, Now: now, Grace: time.Hour}
		if ok, why := ReapDecision(in); why != tc.want || ok != (tc.want == ReapOK) {
			t.Errorf("%s: ReapDecision = %v %q, want %q", tc.name, ok, why, tc.want)
		}
		if in.Hinted = 1; tc.want == ReapOK {
			if ok, why := ReapDecision(in); ok || why != ReapHinted {
				t.Errorf("%s with a hinted replica: %v %q", tc.name, ok, why)
			}
		}
	}
}

// Reclamation of expired keys, measured: keys written with a TTL are
// reaped by the first reap scan after their expiry plus the grace, never
// before, with a fixed number of requests per key; keys that never expire
// and keys with a live sibling stay. CARTWHEEL_TTL_KEYS sets how many
// expiring keys (default 60).
func TestReapExpiredKeys(t *testing.T) {
	n := 60
	if v, err := strconv.Atoi(os.Getenv("CARTWHEEL_TTL_KEYS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	h := newHarness(t, 5)
	put := func(key, value string, ttl time.Duration) {
		t.Helper()
		if _, err := h.co.Put(ctx, key, "", coordinator.Value{Data: []byte(value)}, coordinator.Options{W: 3, TTL: ttl}); err != nil {
			t.Fatal(err)
		}
		h.co.Wait()
	}
	for i := 0; i < n; i++ {
		put(fmt.Sprint("session", i), "s", time.Minute)
	}
	put("forever", "v", 0)
	put("mixed", "short", time.Second)
	put("mixed", "long", 0)
	r := h.repairer(func(c *Config) { c.ReapScanEvery = 0 }) // a reap scan every run
	grace := DefaultConfig().ReapGrace

	h.clock.Advance(time.Minute + grace - time.Second) // expired, but within the grace
	if rep := h.run(r); rep.AntiEntropy.Reaped != 0 {
		t.Fatalf("reaped within the grace: %+v", rep.AntiEntropy)
	}
	h.clock.Advance(time.Second + time.Millisecond)
	rep := h.run(r)
	if rep.AntiEntropy.Reaped != n {
		t.Fatalf("first pass after expiry+grace reaped %d of %d: %+v", rep.AntiEntropy.Reaped, n, rep.AntiEntropy)
	}
	c := rep.Requests
	t.Logf("reclaimed %d expired keys (of %d) in 1 pass: %d requests (%d LIST, %d GET, %d DELETE, %d PUT), %.1f per reaped key",
		n, n+2, c.Total(), c.List, c.Get, c.Delete, c.Put, float64(c.Total())/float64(n))
	// Per reaped key: one GET (the scan), one hint LIST per node (5), one
	// DELETE per replica (3); the rest is the partitions' listings.
	if perKey := c.Get + c.Delete; perKey > (1+3)*n+2 {
		t.Fatalf("%d GETs and DELETEs for %d keys", perKey, n)
	}
	if rep := h.run(r); rep.AntiEntropy.Reaped != 0 {
		t.Fatalf("second pass reaped again: %+v", rep.AntiEntropy)
	}
	for i := 0; i < n; i++ {
		for _, id := range h.primaries(fmt.Sprint("session", i)) {
			if _, ok := h.raw(id, fmt.Sprint("session", i)); ok {
				t.Fatalf("session%d still on %s", i, id)
			}
		}
	}
	for _, key := range []string{"forever", "mixed"} {
		g, err := h.co.Get(ctx, key, coordinator.Options{})
		if err != nil || len(g.Siblings) != 1 {
			t.Fatalf("%s after reaping: %+v %v", key, g.Siblings, err)
		}
	}
}
