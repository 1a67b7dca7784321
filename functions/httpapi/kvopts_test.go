package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/client"
)

// TestOptionsHonouredOrRejected: every query parameter of the API table is
// accepted with its documented values, and anything else is a 400 naming it.
func TestOptionsHonouredOrRejected(t *testing.T) {
	h := testHandler(t)
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/opt", []byte("v"), nil)); r.StatusCode != 204 {
		t.Fatalf("setup put: %+v", r)
	}
	h.d.Coord.Wait() // every replica holds it, so r=1 finds it wherever it reads
	ok := []struct{ method, query string }{
		{"GET", "r=1"}, {"GET", "r=one"}, {"GET", "r=quorum"}, {"GET", "r=all"}, {"GET", "pr=2"}, {"GET", "pr=0"},
		{"GET", "r=one&pr=quorum"}, {"PUT", "w=all"}, {"PUT", "pw=2"}, {"PUT", "w=one&pw=0"},
		{"PUT", "returnbody=false"}, {"GET", "r=local"}, {"PUT", "w=local"}, {"PUT", "w=local&pw=1"},
		{"DELETE", "w=quorum&pw=one"}, // last: the key is gone after it
	}
	for _, c := range ok {
		var body []byte
		if c.method == "PUT" {
			body = []byte("v")
		}
		r := do(t, h, event(t, noAuth, c.method, "/kv/opt?"+c.query, body, nil))
		if r.StatusCode >= 400 {
			t.Errorf("%s ?%s: %d %s", c.method, c.query, r.StatusCode, r.Body)
		}
	}
	bad := []struct{ method, query, names string }{
		{"GET", "x=1", "'x'"},
		{"GET", "w=2", "'w'"},
		{"GET", "returnbody=true", "'returnbody'"},
		{"GET", "r=0", "r="},
		{"GET", "r=4", "r=4"},
		{"GET", "r=two", "r="},
		{"GET", "r=+1", "r="},
		{"GET", "pr=4", "pr=4"},
		{"PUT", "w=-1", "w="},
		{"PUT", "pw=9", "pw=9"},
		{"GET", "pr=local", "pr=local"},
		{"PUT", "pw=local", "pw=local"},
		{"PUT", "w=LOCAL", "w="},
		{"PUT", "returnbody=yes", "returnbody"},
		{"PUT", "consistency=strong", "'consistency'"},
		{"DELETE", "sync=1", "'sync'"},
	}
	for _, c := range bad {
		var body []byte
		if c.method == "PUT" {
			body = []byte("v")
		}
		r := do(t, h, event(t, noAuth, c.method, "/kv/opt?"+c.query, body, nil))
		if r.StatusCode != 400 || !strings.Contains(r.Body, `"bad_request"`) || !strings.Contains(r.Body, c.names) {
			t.Errorf("%s ?%s: %d %s; want 400 bad_request naming %s", c.method, c.query, r.StatusCode, r.Body, c.names)
		}
	}
}

// TestConditionalRequests: If-None-Match: * is create-only (412), If-Match
// takes a context (412 when stale), GET answers an ETag and 304 on a match.
func TestConditionalRequests(t *testing.T) {
	h := testHandler(t)
	create := map[string]string{"If-None-Match": "*"}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/c", []byte("one"), create)); r.StatusCode != 204 {
		t.Fatalf("create: %+v", r)
	}
	r := do(t, h, event(t, noAuth, "PUT", "/kv/c", []byte("two"), create))
	if r.StatusCode != http.StatusPreconditionFailed || !strings.Contains(r.Body, `"precondition_failed"`) {
		t.Fatalf("create over an existing key: %d %s", r.StatusCode, r.Body)
	}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/c", []byte("two"), map[string]string{"If-None-Match": `"abc"`})); r.StatusCode != 400 {
		t.Fatalf("If-None-Match with an ETag on PUT: %d %s", r.StatusCode, r.Body)
	}
	g := do(t, h, event(t, noAuth, "GET", "/kv/c", nil, nil))
	etag, ctx := g.Headers["ETag"], g.Headers[ContextHeader]
	if g.StatusCode != 200 || etag == "" || ctx == "" {
		t.Fatalf("get: %+v", g)
	}
	if r := do(t, h, event(t, noAuth, "GET", "/kv/c", nil, map[string]string{"If-None-Match": etag})); r.StatusCode != http.StatusNotModified || r.Body != "" || r.Headers["ETag"] != etag {
		t.Fatalf("If-None-Match with the current ETag: %+v", r)
	}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/c", []byte("cas"), map[string]string{"If-Match": ctx})); r.StatusCode != 204 {
		t.Fatalf("If-Match current: %d %s", r.StatusCode, r.Body)
	}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/c", []byte("stale"), map[string]string{"If-Match": ctx})); r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("If-Match stale: %d %s", r.StatusCode, r.Body)
	}
	if r := do(t, h, event(t, noAuth, "DELETE", "/kv/c", nil, map[string]string{"If-Match": ctx})); r.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("DELETE If-Match stale: %d %s", r.StatusCode, r.Body)
	}
	g2 := do(t, h, event(t, noAuth, "GET", "/kv/c", nil, map[string]string{"If-None-Match": etag}))
	if g2.StatusCode != 200 || g2.Headers["ETag"] == etag {
		t.Fatalf("the ETag must change with the versions: %+v", g2)
	}
	// If-None-Match on DELETE is refused as unsupported (not as a bad value),
	// and If-Match on a read is refused rather than ignored.
	for _, v := range []string{"*", etag} {
		r := do(t, h, event(t, noAuth, "DELETE", "/kv/c", nil, map[string]string{"If-None-Match": v}))
		if r.StatusCode != 400 || !strings.Contains(r.Body, `"bad_request"`) || !strings.Contains(r.Body, "not supported on DELETE") ||
			strings.Contains(r.Body, "only *") {
			t.Fatalf("DELETE If-None-Match: %s: %d %s; want 400 saying If-None-Match is not supported on DELETE", v, r.StatusCode, r.Body)
		}
	}
	for _, m := range []string{"GET", "HEAD"} {
		r := do(t, h, event(t, noAuth, m, "/kv/c", nil, map[string]string{"If-Match": ctx}))
		if r.StatusCode != 400 || !strings.Contains(r.Body, `"bad_request"`) || !strings.Contains(r.Body, "If-Match") {
			t.Fatalf("%s with If-Match: %d %s; want 400 bad_request naming If-Match", m, r.StatusCode, r.Body)
		}
	}
	// A context is bound to its key.
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/other", []byte("x"), map[string]string{ContextHeader: ctx})); r.StatusCode != 400 || !strings.Contains(r.Body, "bad_context") {
		t.Fatalf("a context of another key: %d %s", r.StatusCode, r.Body)
	}
	// Deleting a missing key omits the context header rather than sending it empty.
	if r := do(t, h, event(t, noAuth, "DELETE", "/kv/never", nil, nil)); r.StatusCode != 204 {
		t.Fatalf("delete missing: %+v", r)
	} else if v, ok := r.Headers[ContextHeader]; ok {
		t.Fatalf("delete of a missing key sent %s: %q", ContextHeader, v)
	}
}

// TestReturnBody: a put with returnbody=true answers 200 with the JSON a get
// gives: every sibling after the write.
func TestReturnBody(t *testing.T) {
	h := testHandler(t)
	first := do(t, h, event(t, noAuth, "PUT", "/kv/rb", []byte("mine"), nil))
	do(t, h, event(t, noAuth, "PUT", "/kv/rb", []byte("theirs"), nil)) // blind: a sibling
	r := do(t, h, event(t, noAuth, "PUT", "/kv/rb?returnbody=true", []byte("mine2"), map[string]string{ContextHeader: first.Headers[ContextHeader]}))
	if r.StatusCode != 200 || r.Headers["Content-Type"] != "application/json" {
		t.Fatalf("returnbody: %d %+v", r.StatusCode, r)
	}
	var b client.GetBody
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, s := range b.Siblings {
		vals = append(vals, string(s.Value))
	}
	if len(vals) != 2 || !strings.Contains(strings.Join(vals, ","), "mine2") || !strings.Contains(strings.Join(vals, ","), "theirs") {
		t.Fatalf("returnbody siblings: %v", vals)
	}
	if b.Context == "" || r.Headers[ContextHeader] != b.Context {
		t.Fatalf("returnbody context: header %q body %q", r.Headers[ContextHeader], b.Context)
	}
}

// TestGetBodyIsTheClientShape: the JSON get answer decodes strictly into
// client.GetBody, and an empty value is "" on the wire (not null), so every
// client of the shape sees an empty value as such.
func TestGetBodyIsTheClientShape(t *testing.T) {
	h := testHandler(t)
	do(t, h, event(t, noAuth, "PUT", "/kv/empty", []byte{}, nil))
	do(t, h, event(t, noAuth, "PUT", "/kv/empty", []byte("x"), nil)) // blind: a sibling
	r := do(t, h, event(t, noAuth, "GET", "/kv/empty", nil, map[string]string{"Accept": "application/json"}))
	if r.StatusCode != http.StatusMultipleChoices || !strings.Contains(r.Body, `"value":""`) || strings.Contains(r.Body, "null") {
		t.Fatalf("get: %d %s", r.StatusCode, r.Body)
	}
	dec := json.NewDecoder(strings.NewReader(r.Body))
	dec.DisallowUnknownFields()
	var b client.GetBody
	if err := dec.Decode(&b); err != nil || len(b.Siblings) != 2 || b.Context == "" {
		t.Fatalf("decode %s: %+v %v", r.Body, b, err)
	}
}
