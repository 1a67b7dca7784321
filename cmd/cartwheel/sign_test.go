package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestNeedsSigning(t *testing.T) {
	api, _ := url.Parse("https://abc123.execute-api.eu-west-1.amazonaws.com/admin/nodes")
	kvURL, _ := url.Parse("https://abc123.execute-api.eu-west-1.amazonaws.com/kv/a")
	local, _ := url.Parse("http://127.0.0.1:8080/admin/nodes")
	cases := []struct {
		mode string
		u    *url.URL
		want bool
	}{
		{"auto", api, true}, {"auto", kvURL, true}, {"auto", local, false},
		{"always", local, true}, {"never", api, false},
	}
	for _, c := range cases {
		if got, err := needsSigning(c.mode, c.u); err != nil || got != c.want {
			t.Errorf("needsSigning(%s, %s) = %v, %v; want %v", c.mode, c.u, got, err, c.want)
		}
	}
	if _, err := needsSigning("sometimes", api); err == nil {
		t.Error("a bad --sign value was accepted")
	}
	if r := regionOf("abc.execute-api.ap-south-1.amazonaws.com", "us-east-1"); r != "ap-south-1" {
		t.Errorf("region %q", r)
	}
	if r := regionOf("127.0.0.1", "us-east-1"); r != "us-east-1" {
		t.Errorf("fallback region %q", r)
	}
}

// The admin commands sign their requests with SigV4 for API Gateway's IAM
// authorization, with credentials from the default chain.
func TestAdminRequestsAreSigned(t *testing.T) {
	testCredentials(t) // fake static AWS credentials, region eu-west-1
	var mu sync.Mutex
	var auth, date string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth, date = r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"epoch":1,"nodes":[]}`))
	}))
	defer srv.Close()
	if code, _, errs := cli(t, srv.URL, "", "--sign", "always", "nodes"); code != 0 {
		t.Fatalf("nodes: exit %d %s", code, errs)
	}
	seen := func() (string, string) {
		mu.Lock()
		defer mu.Unlock()
		return auth, date
	}
	if a, d := seen(); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDCARTWHEELTEST/") ||
		!strings.Contains(a, "/eu-west-1/execute-api/aws4_request") || !strings.Contains(a, "Signature=") || d == "" {
		t.Fatalf("not signed for execute-api: Authorization=%q X-Amz-Date=%q", a, d)
	}
	// Without signing (the default against a local server) no Authorization is sent.
	if code, _, _ := cli(t, srv.URL, "", "nodes"); code != 0 {
		t.Fatal("unsigned nodes failed")
	}
	if a, _ := seen(); a != "" {
		t.Fatalf("signed a local request: %q", a)
	}
}

// TestCheckRequestsAreSigned: with --sign always, every request the set
// check makes (the workload's gets and puts, admin calls, the final read) is
// signed, so the check runs against a deployed stack's IAM routes.
func TestCheckRequestsAreSigned(t *testing.T) {
	testCredentials(t) // fake static AWS credentials, region eu-west-1
	target, err := url.Parse(startServer(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	signed, unsigned := map[string]int{}, map[string]int{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.Method + " " + strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		mu.Lock()
		if strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDCARTWHEELTEST/") {
			signed[route]++
		} else {
			unsigned[route]++
		}
		mu.Unlock()
		r.Header.Del("Authorization")
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	code, _, errs := cli(t, srv.URL, "", "--sign", "always", "check", "--nemesis=false", "--clients", "1", "--keys", "1", "--ops", "6", "--duration", "0", "--settle", "5s")
	if code != 0 {
		t.Fatalf("check: exit %d %s", code, errs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(unsigned) > 0 || signed["GET kv"] == 0 || signed["PUT kv"] == 0 || signed["GET admin"] == 0 {
		t.Fatalf("signed %v, unsigned %v: want every request signed, the workload's included", signed, unsigned)
	}
}
