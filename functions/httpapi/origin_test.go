package httpapi

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestSameOriginProperty: whatever Host, Origin and Sec-Fetch-Site a request
// carries, SameOrigin passes it only if its Host names a loopback address (or
// an allowed host) and neither header marks it as coming from another site;
// and a request as curl sends it (loopback Host, no Origin) always passes.
func TestSameOriginProperty(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	rapid.Check(t, func(t *rapid.T) {
		hostname := rapid.SampledFrom([]string{"127.0.0.1", "localhost", "[::1]", "127.9.9.9", "evil.example", "10.0.0.5", "", "LOCALHOST", "127.0.0.1.evil.example"}).Draw(t, "host")
		host := hostname + rapid.SampledFrom([]string{"", ":8080", ":1"}).Draw(t, "port")
		allowed := rapid.SampledFrom([][]string{nil, {"10.0.0.5"}, {"*"}}).Draw(t, "allowed")
		origin := rapid.SampledFrom([]string{"", "null", "http://" + host, "https://" + host, "http://evil.example", "http://" + host + "/x"}).Draw(t, "origin")
		site := rapid.SampledFrom([]string{"", "none", "same-origin", "same-site", "cross-site"}).Draw(t, "Sec-Fetch-Site")
		method := rapid.SampledFrom([]string{"GET", "POST", "PUT", "DELETE"}).Draw(t, "method")
		r := httptest.NewRequest(method, "/kv/k", nil)
		r.Host = host
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		w := httptest.NewRecorder()
		SameOrigin(next, allowed...).ServeHTTP(w, r)
		passed := w.Code == http.StatusTeapot
		if !passed && (w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"error":"forbidden"`)) {
			t.Fatalf("refused with %d %s", w.Code, w.Body)
		}
		h := strings.Trim(hostname, "[]")
		ip := net.ParseIP(h)
		hostOK := strings.EqualFold(h, "localhost") || (ip != nil && ip.IsLoopback()) ||
			(len(allowed) > 0 && (allowed[0] == "*" || allowed[0] == h) && h != "")
		originOK := origin == "" || origin == "http://"+host
		siteOK := site != "same-site" && site != "cross-site"
		if passed != (hostOK && originOK && siteOK) {
			t.Fatalf("Host %q Origin %q Sec-Fetch-Site %q allowed %v: passed=%v", host, origin, site, allowed, passed)
		}
	})
}
