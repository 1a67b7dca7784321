package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TTL end to end, on the embedded store (make run) and on the AWS emulator:
// put --ttl, the serve --default-ttl, the Expires field and header, the
// 400 naming ttl, and a key that answers 404 once expired.
func TestTTLEndToEnd(t *testing.T) {
	for name, ep := range endpoints(t) {
		t.Run(name, func(t *testing.T) {
			t.Setenv("XDG_CACHE_HOME", t.TempDir())
			base := startServerWith(t, ep, func(o *serveOptions) { o.defaultTTL = time.Hour })
			kv := func(key string) string { return base + "/kv/" + url.PathEscape(key) }
			expires := func(key string) []int64 {
				t.Helper()
				code, out, errs := cli(t, base, "", "get", key, "--json")
				var g getJSON
				if (code != 0 && code != exitSiblings) || json.Unmarshal([]byte(out), &g) != nil {
					t.Fatalf("get %s: exit %d %s %s", key, code, out, errs)
				}
				var e []int64
				for _, s := range g.Siblings {
					e = append(e, s.Expires)
				}
				return e
			}
			near := func(got int64, d time.Duration) bool {
				want := time.Now().Add(d).UnixMilli()
				return got <= want && got > want-int64(time.Minute/time.Millisecond)
			}
			if code, _, errs := cli(t, base, "s", "put", "sess", "-", "--ttl", "30m"); code != 0 {
				t.Fatalf("put --ttl 30m: exit %d %s", code, errs)
			}
			if e := expires("sess"); len(e) != 1 || !near(e[0], 30*time.Minute) {
				t.Fatalf("expiry after put --ttl 30m: %v", e)
			}
			if code, _, errs := cli(t, base, "d", "put", "dflt", "-"); code != 0 {
				t.Fatalf("put: exit %d %s", code, errs)
			}
			if e := expires("dflt"); len(e) != 1 || !near(e[0], time.Hour) {
				t.Fatalf("expiry under --default-ttl 1h: %v", e)
			}
			for _, bad := range []string{"1500ms", "-1s", "87601h"} {
				if code, _, errs := cli(t, base, "x", "put", "bad", "-", "--ttl", bad); code != exitUsage || !strings.Contains(errs, "--ttl") {
					t.Fatalf("--ttl %s: exit %d %s", bad, code, errs)
				}
			}
			if r := call(t, "PUT", kv("bad")+"?ttl=0", []byte("x")); r.status != 400 || errorCode(t, r) != "bad_request" || !strings.Contains(string(r.body), "ttl") {
				t.Fatalf("?ttl=0: %d %s", r.status, r.body)
			}
			r := call(t, "PUT", kv("short")+"?ttl=1", []byte("x"))
			if r.status != 204 {
				t.Fatalf("?ttl=1: %d %s", r.status, r.body)
			}
			h := call(t, "HEAD", kv("short"), nil)
			exp, err := strconv.ParseInt(h.header.Get("X-Cartwheel-Expires"), 10, 64)
			if h.status != 200 || err != nil {
				t.Fatalf("HEAD: %d %v", h.status, h.header)
			}
			time.Sleep(time.Until(time.UnixMilli(exp + 2)))
			if r := call(t, "GET", kv("short"), nil); r.status != 404 {
				t.Fatalf("GET after the expiry: %d %s", r.status, r.body)
			}
		})
	}
}
