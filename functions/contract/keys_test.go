package contract

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/functions/httpapi"
)

// checkListingAndHealth: GET /keys, /healthz and /readyz through the api
// function's bootstrap under the Runtime Interface Emulator (after testAPI
// stored "x").
func (c *contractEnv) checkListingAndHealth(t *testing.T, e *emulator) {
	t.Helper()
	ev := apiEvent(t, "GET", "/keys", nil, nil)
	ev.RawQueryString = "prefix=x&limit=5"
	ev.QueryStringParameters = map[string]string{"prefix": "x", "limit": "5"}
	var r httpapi.Response
	decode(t, e.invoke(t, ev), &r)
	var page client.KeysPage
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.Body), &page) != nil || !slices.Contains(page.Keys, "x") || page.Next != "" {
		t.Errorf("GET /keys?prefix=x&limit=5: %d %s, want 200 listing x", r.StatusCode, r.Body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		ev := apiEvent(t, "GET", path, nil, nil)
		ev.RawQueryString, ev.QueryStringParameters = "", nil
		var r httpapi.Response
		decode(t, e.invoke(t, ev), &r)
		var h client.Health
		if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.Body), &h) != nil || h.Status != "ok" {
			t.Errorf("GET %s: %d %s, want 200 ok", path, r.StatusCode, r.Body)
		}
	}
}
