package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// startDashboard runs `cartwheel dashboard --url api --addr 127.0.0.1:0` in
// process and returns the URL of the page it prints.
func startDashboard(t *testing.T, api string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dashboard", "--url", api, "--sign", "always", "--addr", "127.0.0.1:0"}, strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Cleanup(func() { cancel(); <-done })
	if err != nil {
		t.Fatalf("dashboard printed no URL: %v", err)
	}
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("dashboard printed %q, want its URL", line)
	}
	return strings.TrimSpace(line[i:])
}

// TestDashboardProxyIsNotAnOpenSigner (issue 29, finding 1): the dashboard
// proxy signs with the operator's credentials, so it forwards only the
// dashboard's own requests: those carrying the per-run token of the URL it
// prints, from its own origin, to the page and the admin calls the page
// makes. A web page (cross-site, or after DNS rebinding), a request without
// the token, and paths the dashboard never calls (the data API, a context-key
// rotation) never reach the API.
func TestDashboardProxyIsNotAnOpenSigner(t *testing.T) {
	testCredentials(t)
	var mu sync.Mutex
	var reached []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Method+" "+r.URL.Path)
		mu.Unlock()
		_, _ = io.WriteString(w, "{}")
	}))
	defer api.Close()
	page := startDashboard(t, api.URL)
	u, _ := url.Parse(page)
	if !strings.HasSuffix(u.Path, "/ui") || len(strings.Trim(strings.TrimSuffix(u.Path, "/ui"), "/")) < 20 {
		t.Errorf("dashboard URL %s: want a per-run token before /ui", page)
	}
	own := "http://" + u.Host
	base := strings.TrimSuffix(page, "/ui") // with the token
	refused := []struct {
		name, method, url, host string
		headers                 []string
	}{
		{"no token: rotate the context key", "POST", own + "/admin/context-key/rotate", "", []string{"Content-Type", "text/plain"}},
		{"no token: read the nodes", "GET", own + "/admin/nodes", "", nil},
		{"no token: the page", "GET", own + "/ui", "", nil},
		{"wrong token", "GET", own + "/" + strings.Repeat("x", 43) + "/admin/nodes", "", nil},
		{"cross-site write", "POST", base + "/admin/nodes", "", []string{"Content-Type", "text/plain", "Origin", "https://evil.example"}},
		{"cross-site fetch metadata", "DELETE", base + "/admin/nodes/n1", "", []string{"Sec-Fetch-Site", "cross-site"}},
		{"rebound Host", "GET", base + "/admin/nodes", "evil.example:" + u.Port(), nil},
		{"the data API", "PUT", base + "/kv/k", "", []string{"Content-Type", "text/plain"}},
		{"a data read", "GET", base + "/kv/k", "", nil},
		{"a context-key rotation", "POST", base + "/admin/context-key/rotate", "", []string{"Content-Type", "application/json"}},
		{"a reap", "POST", base + "/admin/reap", "", nil},
		{"a node state change", "PUT", base + "/admin/nodes/n1/state", "", []string{"Content-Type", "application/json"}},
	}
	for _, c := range refused {
		r := request(t, c.method, c.url, "", c.host, []byte("{}"), c.headers...)
		if r.status != http.StatusForbidden && r.status != http.StatusNotFound {
			t.Errorf("%s: %s %s answered %d %s, want 403 or 404", c.name, c.method, c.url, r.status, r.body)
			continue
		}
		errorCode(t, r)
	}
	mu.Lock()
	if len(reached) > 0 {
		t.Errorf("refused requests reached the API: %v", reached)
	}
	reached = nil
	mu.Unlock()
	for _, p := range []string{"/ui", "/ui/app.js", "/admin/nodes", "/admin/preflist/a%2Fb"} {
		if r := request(t, "GET", base+p, "", "", nil, "Sec-Fetch-Site", "same-origin"); r.status != 200 {
			t.Errorf("GET %s through the proxy: %d %s", p, r.status, r.body)
		}
	}
	if r := request(t, "POST", base+"/admin/nodes", "", "", []byte(`{"id":"n9"}`), "Content-Type", "application/json", "Origin", own); r.status != 200 {
		t.Errorf("the page adding a node: %d %s", r.status, r.body)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "GET /ui GET /ui/app.js GET /admin/nodes GET /admin/preflist/a/b POST /admin/nodes"
	if got := strings.Join(reached, " "); got != want {
		t.Errorf("forwarded %q, want %q", got, want)
	}
}

// TestDashboardListensOnLoopbackOnly: like serve, the proxy refuses an
// --addr beyond loopback (a usage error), and it has no --allow-remote.
func TestDashboardListensOnLoopbackOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a proxy that did start stops at once
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		var errOut strings.Builder
		code := run(ctx, []string{"dashboard", "--url", "https://abc.execute-api.eu-west-1.amazonaws.com/", "--addr", addr},
			strings.NewReader(""), io.Discard, &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), "loopback") {
			t.Errorf("dashboard --addr %s: exit %d %q, want a usage error naming loopback", addr, code, errOut.String())
		}
	}
}

// TestDashboardForwardsOnlyThePagesCalls: the forward list, path by path.
func TestDashboardForwardsOnlyThePagesCalls(t *testing.T) {
	yes := []string{"GET /ui", "GET /ui/", "GET /ui/app.js", "HEAD /ui", "GET /admin/nodes", "GET /admin/preflist/a%2Fb",
		"GET /admin/preflist/a/b", "POST /admin/nodes", "DELETE /admin/nodes/n1", "PUT /admin/faults/n1",
		"DELETE /admin/faults/n1", "POST /admin/commit", "DELETE /admin/plan", "POST /admin/repair", "GET /admin/transfers"}
	no := []string{"POST /ui", "GET /kv/k", "PUT /kv/k", "GET /admin/preflist/", "DELETE /admin/nodes/", "DELETE /admin/nodes/n1/x",
		"PUT /admin/nodes/n1/state", "POST /admin/context-key/rotate", "POST /admin/reap", "DELETE /admin/cleanups/n1",
		"PUT /admin/faults/", "GET /admin/faults", "GET /admin/nodesx", "GET /uix", "GET /", "PATCH /admin/nodes"}
	for _, c := range yes {
		m, p, _ := strings.Cut(c, " ")
		if !dashboardForwarded(m, p) {
			t.Errorf("%s is not forwarded", c)
		}
	}
	for _, c := range no {
		m, p, _ := strings.Cut(c, " ")
		if dashboardForwarded(m, p) {
			t.Errorf("%s is forwarded", c)
		}
	}
}
