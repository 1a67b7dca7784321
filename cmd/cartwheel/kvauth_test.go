package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is a stand-in API that records each request's Authorization and
// context header by method and path, and answers with serve.
type recorder struct {
	mu    sync.Mutex
	auth  map[string]string
	ctx   map[string]string
	serve func(w http.ResponseWriter, r *http.Request)
}

func newRecorder(t *testing.T, serve func(w http.ResponseWriter, r *http.Request)) (*recorder, string) {
	rec := &recorder{auth: map[string]string{}, ctx: map[string]string{}, serve: serve}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.auth[r.Method+" "+r.URL.Path] = r.Header.Get("Authorization")
		rec.ctx[r.Method+" "+r.URL.Path] = r.Header.Get("X-Cartwheel-Context")
		rec.mu.Unlock()
		rec.serve(w, r)
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func (r *recorder) seen(k string) (auth, ctx string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.auth[k], r.ctx[k]
}

func testCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCARTWHEELTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

// The data commands are signed like the admin ones ("always" stands in for
// "auto" against an execute-api host); with CARTWHEEL_JWT the data routes
// carry the bearer token instead, and the admin routes stay signed.
func TestKvRequestsAreAuthorized(t *testing.T) {
	testCredentials(t)
	rec, base := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			_, _ = w.Write([]byte(`{"epoch":1,"nodes":[]}`))
			return
		}
		w.Header().Set("X-Cartwheel-Context", "ctx1")
		w.WriteHeader(http.StatusNoContent)
	})
	sigv4 := "AWS4-HMAC-SHA256 Credential=AKIDCARTWHEELTEST/"
	if code, _, errs := cli(t, base, "v", "--sign", "always", "put", "k", "-"); code != 0 {
		t.Fatalf("put: exit %d %s", code, errs)
	}
	if code, _, errs := cli(t, base, "", "--sign", "always", "del", "k"); code != 0 {
		t.Fatalf("del: exit %d %s", code, errs)
	}
	for _, k := range []string{"PUT /kv/k", "DELETE /kv/k"} {
		if a, _ := rec.seen(k); !strings.HasPrefix(a, sigv4) {
			t.Errorf("%s: Authorization %q, want SigV4", k, a)
		}
	}
	t.Setenv(TokenEnv, "header.payload.sig")
	if code, _, errs := cli(t, base, "v", "--sign", "always", "put", "j", "-"); code != 0 {
		t.Fatalf("put with a token: exit %d %s", code, errs)
	}
	if a, _ := rec.seen("PUT /kv/j"); a != "Bearer header.payload.sig" {
		t.Errorf("put with %s: Authorization %q", TokenEnv, a)
	}
	if code, _, errs := cli(t, base, "", "--sign", "always", "nodes"); code != 0 {
		t.Fatalf("nodes: exit %d %s", code, errs)
	}
	if a, _ := rec.seen("GET /admin/nodes"); !strings.HasPrefix(a, sigv4) {
		t.Errorf("admin with %s set: Authorization %q, want SigV4", TokenEnv, a)
	}
	// Against the local server (auto, not execute-api) nothing is sent.
	t.Setenv(TokenEnv, "")
	if code, _, _ := cli(t, base, "v", "put", "l", "-"); code != 0 {
		t.Fatal("local put failed")
	}
	if a, _ := rec.seen("PUT /kv/l"); a != "" {
		t.Errorf("local put: Authorization %q", a)
	}
}

// A get answered with a listing (a sibling set too large for one Lambda
// response) is completed sibling by sibling, and its context is the one a
// following put --resolve sends.
func TestGetFillsOmittedSiblings(t *testing.T) {
	testCredentials(t)
	values := map[string]string{"id1": "first value", "id2": "second value"}
	rec, base := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Get("sibling") != "":
			v, ok := values[r.URL.Query().Get("sibling")]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"error":"no_such_sibling","message":"gone"}`))
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(v))
		case r.Method == http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Cartwheel-Context", "listing-ctx")
			w.WriteHeader(http.StatusMultipleChoices)
			_ = json.NewEncoder(w).Encode(map[string]any{"context": "listing-ctx", "valuesOmitted": true, "siblings": []map[string]any{
				{"id": "id1", "size": 11, "contentType": "text/plain", "timestamp": 1},
				{"id": "id2", "size": 12, "contentType": "text/plain", "timestamp": 2},
			}})
		default:
			w.Header().Set("X-Cartwheel-Context", "new")
			w.WriteHeader(http.StatusNoContent)
		}
	})
	code, out, errs := cli(t, base, "", "get", "big")
	if code != exitSiblings || !strings.Contains(out, "first value") || !strings.Contains(out, "second value") || !strings.Contains(out, "sibling 2 of 2") {
		t.Fatalf("get: exit %d %q %s", code, out, errs)
	}
	if code, _, errs := cli(t, base, "merged", "put", "big", "-", "--resolve"); code != 0 {
		t.Fatalf("put --resolve: exit %d %s", code, errs)
	}
	if _, ctx := rec.seen("PUT /kv/big"); ctx != "listing-ctx" {
		t.Fatalf("put --resolve sent context %q, want the listing's", ctx)
	}
	delete(values, "id2") // superseded between the listing and its fetch
	if code, _, errs := cli(t, base, "", "get", "big"); code != exitError || !strings.Contains(errs, "get it again") {
		t.Fatalf("a sibling gone mid-read: exit %d %s", code, errs)
	}
}
