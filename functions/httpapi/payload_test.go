package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// bigHandler is testHandler whose coordinator accepts replica objects of
// 16 MiB, standing in for a read that merges divergent replicas (each under
// the 4 MiB put cap) into a sibling set too large for one Lambda response.
func bigHandler(t *testing.T) *Handler {
	t.Helper()
	members := kvmem.NewMembership()
	var nodes []kv.Node
	for i, z := range []string{"a", "b", "c"} {
		id := string(rune('1' + i))
		nodes = append(nodes, kv.Node{ID: "n" + id, Zone: z, Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n" + id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 8
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := members.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	cfg := coordinator.DefaultConfig()
	cfg.Limits.MaxObjectBytes = 16 << 20
	var n atomic.Uint64
	co, err := coordinator.New(cfg, coordinator.Deps{
		Store: kvmem.NewStore(), Hints: kvmem.NewHintQueue(50*time.Millisecond, 10), Members: members,
		Now: time.Now, Rand: func() uint64 { return n.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Coord: co, Members: members, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// TestFullGetSizeIsExact checks the size FullGetSize predicts against the
// response the handler builds, for a raw value, JSON, and siblings.
func TestFullGetSizeIsExact(t *testing.T) {
	h := testHandler(t)
	const ev = "apigw-v2-request-no-authorizer.json"
	put := func(v string, ct string) {
		if r := do(t, h, event(t, ev, "PUT", "/kv/s", []byte(v), map[string]string{"Content-Type": ct})); r.StatusCode != 204 {
			t.Fatalf("put: %+v", r)
		}
		h.d.Coord.Wait() // every replica holds it: each get's context then lists the same replicas
	}
	check := func(siblings int) {
		g, err := h.d.Coord.Get(context.Background(), "s", coordinator.Options{})
		if err != nil || len(g.Siblings) != siblings {
			t.Fatalf("get: %v, %d siblings, want %d", err, len(g.Siblings), siblings)
		}
		for _, asJSON := range []bool{false, true} {
			hdr := map[string]string{}
			if asJSON {
				hdr["Accept"] = "application/json"
			}
			r := do(t, h, event(t, ev, "GET", "/kv/s", nil, hdr))
			if want := responseSize(r); FullGetSize(g, asJSON) != want {
				t.Errorf("%d siblings, json %v: FullGetSize %d, response %d bytes", siblings, asJSON, FullGetSize(g, asJSON), want)
			}
		}
	}
	put("v\x00\"<>&é"+strings.Repeat("x", 1000), `text/plain; q="<&>"`)
	check(1)
	put("second", "")
	put(strings.Repeat("\xff", 4097), "application/x-\u2028")
	check(3)
}

// TestLargeSiblingSetIsListed writes siblings whose values together would not
// fit one Lambda response: the get answers 300 with ids and sizes, each value
// comes alone with ?sibling=<id>, and the listing's context resolves them.
func TestLargeSiblingSetIsListed(t *testing.T) {
	h := bigHandler(t)
	const ev = "apigw-v2-request-no-authorizer.json"
	values := map[string][]byte{}
	for i := range 5 {
		v := bytes.Repeat([]byte{byte('a' + i)}, 1<<20)
		values[string(v[:1])] = v
		if r := do(t, h, event(t, ev, "PUT", "/kv/big", v, map[string]string{"Content-Type": "text/x-" + string(v[:1])})); r.StatusCode != 204 {
			t.Fatalf("put %d: %d %s", i, r.StatusCode, r.Body)
		}
	}
	for _, hdr := range []map[string]string{nil, {"Accept": "application/json"}} {
		r := do(t, h, event(t, ev, "GET", "/kv/big", nil, hdr))
		if n := responseSize(r); r.StatusCode != 300 || n > MaxResponseBytes {
			t.Fatalf("get: %d, %d bytes", r.StatusCode, n)
		}
		var l listingBody
		if err := json.Unmarshal([]byte(r.Body), &l); err != nil || !l.ValuesOmitted || len(l.Siblings) != 5 || l.Context == "" || r.Headers[ContextHeader] != l.Context {
			t.Fatalf("listing: %v %s", err, r.Body)
		}
		for _, s := range l.Siblings {
			one := do(t, h, event(t, ev, "GET", "/kv/big?sibling="+s.ID, nil, hdr))
			got, _ := base64.StdEncoding.DecodeString(one.Body)
			if one.StatusCode != 200 || len(got) != s.Size || !bytes.Equal(got, values[string(got[:1])]) ||
				one.Headers["Content-Type"] != s.ContentType || one.Headers[SiblingHeader] != s.ID || one.Headers[ContextHeader] != "" {
				t.Fatalf("sibling %s: %d, %d bytes, headers %v", s.ID, one.StatusCode, len(got), one.Headers)
			}
		}
	}
	r := do(t, h, event(t, ev, "GET", "/kv/big?sibling=0123456789abcdef", nil, nil))
	if !strings.Contains(r.Body, `"no_such_sibling"`) || r.StatusCode != 404 {
		t.Fatalf("unknown sibling: %d %s", r.StatusCode, r.Body)
	}
	// Resolve with the listing's context: one value remains, returned whole.
	l := do(t, h, event(t, ev, "GET", "/kv/big", nil, nil))
	if r := do(t, h, event(t, ev, "PUT", "/kv/big", []byte("merged"), map[string]string{ContextHeader: l.Headers[ContextHeader]})); r.StatusCode != 204 {
		t.Fatalf("resolve: %d %s", r.StatusCode, r.Body)
	}
	if r := do(t, h, event(t, ev, "GET", "/kv/big", nil, nil)); r.StatusCode != 200 || r.Body != base64.StdEncoding.EncodeToString([]byte("merged")) {
		t.Fatalf("after resolve: %d %.80s", r.StatusCode, r.Body)
	}
}

// TestListingThresholdEdge checks the decision at its edge: a sibling set
// whose full answer is exactly MaxResponseBytes-ListingMargin bytes is
// answered whole; one byte more is listed.
func TestListingThresholdEdge(t *testing.T) {
	limit := MaxResponseBytes - ListingMargin
	g := coordinator.GetResult{Context: strings.Repeat("c", 300)}
	for i := range 5 {
		g.Siblings = append(g.Siblings, vclock.Sibling{Dot: vclock.Dot{Actor: "n1", Counter: uint64(i + 1)}, Time: 1, Value: make([]byte, 900_000)})
	}
	// Fill to the edge with the content type of the last sibling: it adds
	// one byte per byte; base64 moves in steps of 4.
	last := &g.Siblings[len(g.Siblings)-1]
	last.Value = make([]byte, len(last.Value)+(limit-FullGetSize(g, true))/4*3)
	last.ContentType = strings.Repeat("t", limit-FullGetSize(g, true))
	if FullGetSize(g, true) != limit {
		t.Fatalf("setup: %d bytes, want %d", FullGetSize(g, true), limit)
	}
	json := event(t, "apigw-v2-request-no-authorizer.json", "GET", "/kv/k", nil, map[string]string{"Accept": "application/json"})
	if _, listed := largeGet(g, json); listed {
		t.Fatalf("a full answer of exactly %d bytes was listed", limit)
	}
	last.ContentType += "t"
	if r, listed := largeGet(g, json); !listed || r.StatusCode != 300 {
		t.Fatalf("a full answer of %d bytes was not listed", limit+1)
	}
}

// TestFitLambdaBackstop: a response over MaxResponseBytes becomes 413
// response_too_large; one of exactly MaxResponseBytes passes.
func TestFitLambdaBackstop(t *testing.T) {
	r := Response{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/octet-stream"}, IsBase64Encoded: true}
	r.Body = strings.Repeat("A", MaxResponseBytes-responseSize(r))
	if got := fitLambda(r); got.StatusCode != 200 || responseSize(got) != MaxResponseBytes {
		t.Fatalf("exactly at the limit: %d, %d bytes", got.StatusCode, responseSize(got))
	}
	r.Body += "A"
	got := fitLambda(r)
	var e struct{ Error, Message string }
	if got.StatusCode != 413 || json.Unmarshal([]byte(got.Body), &e) != nil || e.Error != "response_too_large" {
		t.Fatalf("over the limit: %d %s", got.StatusCode, got.Body)
	}
	// Escaping counts: a body of quotes doubles in JSON.
	r.Body = strings.Repeat(`"`, MaxResponseBytes/2)
	if got := fitLambda(r); got.StatusCode != 413 {
		t.Fatalf("escaped body over the limit: %d", got.StatusCode)
	}
}
