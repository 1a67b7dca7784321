package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// request sends one request to base+path with Host host ("" keeps the URL's)
// and the header pairs given.
func request(t *testing.T, method, base, path, host string, body []byte, headers ...string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestServeRefusesCrossSiteRequests (issue 29, finding 2): a web page the
// operator visits cannot drive the local server. A cross-site simple POST
// (text/plain, the Origin of another site), a request after DNS rebinding
// (a Host that is not the server's) and an admin body that is not
// application/json are refused with a JSON error; curl-like requests (a
// loopback Host, no Origin) and the dashboard's same-origin calls work as
// before.
func TestServeRefusesCrossSiteRequests(t *testing.T) {
	base := startServerWith(t, "", nil)
	own, _ := url.Parse(base)
	refused := []struct {
		name         string
		method, path string
		host         string
		body         string
		headers      []string
		status       int
		code         string
	}{
		{"cross-site text/plain write", "POST", "/kv/k", "", "evil", []string{"Content-Type", "text/plain", "Origin", "https://evil.example"}, 403, "forbidden"},
		{"cross-site key rotation", "POST", "/admin/context-key/rotate", "", "", []string{"Content-Type", "text/plain", "Origin", "https://evil.example"}, 403, "forbidden"},
		{"cross-site fetch metadata", "DELETE", "/kv/k", "", "", []string{"Sec-Fetch-Site", "cross-site"}, 403, "forbidden"},
		{"null origin", "PUT", "/kv/k", "", "x", []string{"Origin", "null"}, 403, "forbidden"},
		{"rebound Host", "GET", "/admin/nodes", "evil.example:" + own.Port(), "", nil, 403, "forbidden"},
		{"rebound Host with its own Origin", "POST", "/kv/k", "evil.example:" + own.Port(), "x", []string{"Origin", "http://evil.example:" + own.Port()}, 403, "forbidden"},
		{"admin body as text/plain", "POST", "/admin/nodes", "", `{"id":"n9","zone":"a"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"admin body without a type", "PUT", "/admin/faults/n1", "", `{"mode":"down"}`, nil, 415, "unsupported_media_type"},
	}
	for _, c := range refused {
		r := request(t, c.method, base, c.path, c.host, []byte(c.body), c.headers...)
		if r.status != c.status {
			t.Errorf("%s: %s %s answered %d %s, want %d", c.name, c.method, c.path, r.status, r.body, c.status)
			continue
		}
		if code := errorCode(t, r); code != c.code {
			t.Errorf("%s: error %q, want %q", c.name, code, c.code)
		}
	}
	// What curl, the CLI and the dashboard send keeps working.
	allowed := []struct {
		method, path, host, body string
		headers                  []string
		status                   int
	}{
		{"PUT", "/kv/k", "", "v", []string{"Content-Type", "text/plain"}, 204},
		{"GET", "/kv/k", "localhost:" + own.Port(), "", nil, 200},
		{"GET", "/admin/nodes", "", "", []string{"Origin", base, "Sec-Fetch-Site", "same-origin"}, 200},
		{"GET", "/ui", "", "", []string{"Sec-Fetch-Site", "none"}, 200},
		{"PUT", "/admin/faults/n1", "", `{"mode":"down"}`, []string{"Content-Type", "application/json; charset=utf-8", "Origin", base}, 200},
		{"DELETE", "/admin/faults/n1", "", "", nil, 204},
	}
	for _, c := range allowed {
		if r := request(t, c.method, base, c.path, c.host, []byte(c.body), c.headers...); r.status != c.status {
			t.Errorf("%s %s (Host %q, %v): %d %s, want %d", c.method, c.path, c.host, c.headers, r.status, r.body, c.status)
		}
	}
}
