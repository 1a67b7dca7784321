package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/internal/testclock"
)

// clockHandler is testHandler's wiring with a manual clock.
func clockHandler(t *testing.T, clock *testclock.Clock) *Handler {
	t.Helper()
	members := kvmem.NewMembership()
	var nodes []kv.Node
	for i := 1; i <= 3; i++ {
		id := fmt.Sprint("n", i)
		nodes = append(nodes, kv.Node{ID: id, Zone: id, Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 8
	c, err := membership.Bootstrap(p, nodes)
	if err == nil {
		err = members.Save(context.Background(), c, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Uint64
	hints := kvmem.NewHintQueue(time.Minute, 0)
	co, err := coordinator.New(coordinator.DefaultConfig(), coordinator.Deps{
		Store: kvmem.NewStore(), Hints: hints, Members: members, Now: clock.Now, Rand: func() uint64 { return n.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(co.Wait)
	return New(Deps{Coord: co, Members: members, Hints: hints})
}

// PUT ?ttl=SECONDS: the expiry shows in the single-value header, on HEAD, in
// the JSON form's Expires field, and the key answers 404 from the first
// millisecond after it.
func TestTTLOverHTTP(t *testing.T) {
	clock := testclock.New(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	h := clockHandler(t, clock)
	want := strconv.FormatInt(clock.Now().Add(30*time.Second).UnixMilli(), 10)
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/s?ttl=30", []byte("v"), nil)); r.StatusCode != 204 {
		t.Fatalf("put: %d %s", r.StatusCode, r.Body)
	}
	for _, m := range []string{"GET", "HEAD"} {
		if r := do(t, h, event(t, noAuth, m, "/kv/s", nil, nil)); r.StatusCode != 200 || r.Headers[client.ExpiresHeader] != want {
			t.Fatalf("%s: %d %v, want %s %s", m, r.StatusCode, r.Headers, client.ExpiresHeader, want)
		}
	}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/s", []byte("w"), nil)); r.StatusCode != 204 { // a sibling, no TTL
		t.Fatalf("put: %d %s", r.StatusCode, r.Body)
	}
	r := do(t, h, event(t, noAuth, "GET", "/kv/s", nil, map[string]string{"Accept": "application/json"}))
	if !strings.Contains(r.Body, `"Expires":`+want) || strings.Count(r.Body, `"Expires"`) != 1 {
		t.Fatalf("JSON get: %s", r.Body)
	}
	var body client.GetBody
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || len(body.Siblings) != 2 {
		t.Fatalf("JSON get: %s %v", r.Body, err)
	}
	clock.Advance(30 * time.Second)
	if r := do(t, h, event(t, noAuth, "GET", "/kv/s", nil, nil)); r.StatusCode != 300 {
		t.Fatalf("at the expiry millisecond: %d", r.StatusCode)
	}
	clock.Advance(time.Millisecond)
	r = do(t, h, event(t, noAuth, "GET", "/kv/s", nil, nil))
	if r.StatusCode != 200 || r.Headers[client.ExpiresHeader] != "" {
		t.Fatalf("after the expiry: %d %v", r.StatusCode, r.Headers)
	}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/gone?ttl=1", []byte("v"), nil)); r.StatusCode != 204 {
		t.Fatalf("put: %d", r.StatusCode)
	}
	clock.Advance(time.Second + time.Millisecond)
	for _, m := range []string{"GET", "HEAD"} {
		if r := do(t, h, event(t, noAuth, m, "/kv/gone", nil, nil)); r.StatusCode != 404 {
			t.Fatalf("%s expired key: %d", m, r.StatusCode)
		}
	}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/gone", []byte("v"), map[string]string{"If-None-Match": "*"})); r.StatusCode != 204 {
		t.Fatalf("If-None-Match: * over an expired key: %d %s", r.StatusCode, r.Body)
	}
}

// Any ttl value is accepted exactly when it is a canonical whole number of
// seconds in 1..MaxTTLSeconds, and otherwise answers 400 bad_request naming
// ttl; only PUT and POST take it. The coordinator's limit agrees.
func TestTTLParameter(t *testing.T) {
	if coordinator.MaxTTL != client.MaxTTLSeconds*time.Second {
		t.Fatalf("coordinator.MaxTTL %v, client.MaxTTLSeconds %d", coordinator.MaxTTL, client.MaxTTLSeconds)
	}
	h := testHandler(t)
	base := event(t, noAuth, "PUT", "/kv/ttl", []byte("v"), nil)
	check := func(t interface{ Fatalf(string, ...any) }, method, v string) {
		ev := base
		ev.RequestContext.HTTP.Method = method
		ev.RawQueryString, ev.QueryStringParameters = "ttl="+v, map[string]string{"ttl": v}
		r, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		n, err := strconv.Atoi(v)
		valid := (method == "PUT" || method == "POST") && err == nil && n >= 1 && n <= client.MaxTTLSeconds && strconv.Itoa(n) == v
		if valid != (r.StatusCode == 204) || (!valid && (r.StatusCode != 400 || !strings.Contains(r.Body, `"bad_request"`) || !strings.Contains(r.Body, "ttl"))) {
			t.Fatalf("%s ?ttl=%q: %d %s (valid %v)", method, v, r.StatusCode, r.Body, valid)
		}
	}
	for _, v := range []string{"1", "30", "315360000", "0", "-1", "1.5", "abc", "", "315360001", "+5", "05", "1e3", "99999999999999999999"} {
		check(t, "PUT", v)
	}
	for _, m := range []string{"POST", "GET", "DELETE"} {
		check(t, m, "30")
	}
	rapid.Check(t, func(rt *rapid.T) {
		v := rapid.OneOf(rapid.StringMatching(`[-+0-9.e]{0,12}`), rapid.Custom(func(t *rapid.T) string {
			return strconv.Itoa(rapid.IntRange(-5, client.MaxTTLSeconds+5).Draw(t, "n"))
		})).Draw(rt, "ttl")
		check(rt, "PUT", v)
	})
}
