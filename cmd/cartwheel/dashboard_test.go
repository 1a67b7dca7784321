package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// The dashboard proxy forwards everything to the API and signs the admin
// calls, never forwarding the browser's own Authorization header.
func TestDashboardProxySignsAdminCalls(t *testing.T) {
	testCredentials(t) // fake static AWS credentials, region eu-west-1
	var mu sync.Mutex
	auths := map[string]string{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths[r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
		_, _ = io.WriteString(w, "path="+r.URL.Path)
	}))
	defer api.Close()
	target, _ := url.Parse(api.URL)
	// "always" stands in for "auto", which signs only execute-api hosts.
	proxy := httptest.NewServer(newDashboardProxy(target, "always"))
	defer proxy.Close()
	for _, p := range []string{"/ui", "/admin/nodes"} {
		req, _ := http.NewRequest(http.MethodGet, proxy.URL+p, nil)
		req.Header.Set("Authorization", "Bearer browser-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "path="+p {
			t.Fatalf("%s through the proxy: %d %q", p, resp.StatusCode, b)
		}
	}
	snapshot := func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]string{}
		for k, v := range auths {
			out[k] = v
		}
		return out
	}
	seen := snapshot()
	for p, a := range seen {
		if strings.Contains(a, "browser-secret") || !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDCARTWHEELTEST/") {
			t.Errorf("%s reached the API with Authorization %q", p, a)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("requests seen: %v", seen)
	}
	// In auto mode a local target is not signed.
	local := httptest.NewServer(newDashboardProxy(target, "auto"))
	defer local.Close()
	resp, err := http.Get(local.URL + "/admin/ring")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a, ok := snapshot()["/admin/ring"]; !ok || a != "" {
		t.Fatalf("auto mode and a local target: seen=%v Authorization=%q", ok, a)
	}
}
