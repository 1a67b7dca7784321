//go:build linux

package contract

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/functions/httpapi"
)

// testTTL checks the time to live through the api function as shipped: a
// put with ?ttl=, the expiry header, a 400 naming ttl, and the 404 once the
// version has expired.
func (c *contractEnv) testTTL(t *testing.T, e *emulator) {
	t.Helper()
	resp := func(method, path, query string, body []byte) httpapi.Response {
		t.Helper()
		ev := apiEvent(t, method, path, body, nil)
		ev.RawQueryString = query
		ev.QueryStringParameters = map[string]string{}
		if k, v, ok := strings.Cut(query, "="); ok {
			ev.QueryStringParameters[k] = v
		}
		var r httpapi.Response
		decode(t, e.invoke(t, ev), &r)
		return r
	}
	if r := resp("PUT", "/kv/contract-ttl", "ttl=0", []byte("v")); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, `"bad_request"`) || !strings.Contains(r.Body, "ttl") {
		t.Fatalf("PUT ?ttl=0: %d %s, want 400 bad_request naming ttl", r.StatusCode, r.Body)
	}
	if r := resp("PUT", "/kv/contract-ttl", "ttl=1", []byte("v")); r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT ?ttl=1: %d %s", r.StatusCode, r.Body)
	}
	r := resp("HEAD", "/kv/contract-ttl", "", nil)
	exp, err := strconv.ParseInt(r.Headers[client.ExpiresHeader], 10, 64)
	if r.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("HEAD: %d %v, want 200 with %s", r.StatusCode, r.Headers, client.ExpiresHeader)
	}
	r = resp("GET", "/kv/contract-ttl", "", nil)
	if r.Headers[client.ExpiresHeader] != strconv.FormatInt(exp, 10) {
		t.Fatalf("GET: %v", r.Headers)
	}
	time.Sleep(time.Until(time.UnixMilli(exp + 2)))
	r = resp("GET", "/kv/contract-ttl", "", nil)
	var msg client.ErrorBody
	if r.StatusCode != http.StatusNotFound || json.Unmarshal([]byte(r.Body), &msg) != nil || msg.Code != client.CodeNotFound {
		t.Fatalf("GET after the expiry: %d %s, want 404 not_found", r.StatusCode, r.Body)
	}
}
