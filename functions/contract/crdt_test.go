//go:build linux

package contract

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cartwheel/cartwheel/functions/httpapi"
)

// testCRDT drives a data type through the api function as shipped: an
// operation, then a read of the merged value, and a 409 through /kv.
func (c *contractEnv) testCRDT(t *testing.T, e *emulator) {
	t.Helper()
	call := func(method, path string, body []byte) httpapi.Response {
		var r httpapi.Response
		decode(t, e.invoke(t, apiEvent(t, method, path, body, nil)), &r)
		return r
	}
	if r := call("POST", "/crdt/contract-cart", []byte(`{"type":"map","update":{"apple":{"type":"counter","increment":2}}}`)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /crdt/contract-cart: %d %s", r.StatusCode, r.Body)
	}
	r := call("GET", "/crdt/contract-cart", nil)
	var v struct {
		Type    string         `json:"type"`
		Value   map[string]int `json:"value"`
		Context string         `json:"context"`
	}
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.Body), &v) != nil || v.Type != "map" || v.Value["apple"] != 2 || v.Context == "" {
		t.Fatalf("GET /crdt/contract-cart: %d %s", r.StatusCode, r.Body)
	}
	if r := call("GET", "/kv/contract-cart", nil); r.StatusCode != http.StatusConflict {
		t.Fatalf("GET /kv/contract-cart: %d %s, want 409 type_mismatch", r.StatusCode, r.Body)
	}
}
