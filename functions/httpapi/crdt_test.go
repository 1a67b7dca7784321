package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/cartwheel/cartwheel/client"
)

// TestCRDTRoutes drives /crdt/{key} through the Lambda handler: each
// operation's answer, the context check of a remove, and type_mismatch both
// ways (which changes nothing).
func TestCRDTRoutes(t *testing.T) {
	h := testHandler(t)
	call := func(method, path, body string) (int, client.TypedValue, string) {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", method, path, b, nil))
		var v client.TypedValue
		if r.StatusCode == 200 {
			if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, r.Body)
			}
		} else if r.StatusCode != 204 {
			var e struct{ Error, Message string }
			if json.Unmarshal([]byte(r.Body), &e) != nil || e.Message == "" {
				t.Fatalf("%s %s: %d without a JSON error: %s", method, path, r.StatusCode, r.Body)
			}
			return r.StatusCode, v, e.Error
		}
		return r.StatusCode, v, ""
	}
	want := func(what string, got, wantStatus int, gotCode, wantCode string) {
		t.Helper()
		if got != wantStatus || gotCode != wantCode {
			t.Fatalf("%s: %d %s, want %d %s", what, got, gotCode, wantStatus, wantCode)
		}
	}

	st, _, code := call("GET", "/crdt/hits", "")
	want("get absent", st, 404, code, "not_found")
	st, _, code = call("POST", "/crdt/hits", `{"type":"counter","increment":5}`)
	want("incr", st, 204, code, "")
	st, v, _ := call("POST", "/crdt/hits?returnbody=true&w=all", `{"type":"counter","increment":-2}`)
	if n, err := v.Counter(); st != 200 || err != nil || n != 3 || v.Type != "counter" {
		t.Fatalf("returnbody: %d %+v %v", st, v, err)
	}

	st, _, code = call("POST", "/crdt/hits?ttl=0", `{"type":"counter","increment":1}`)
	want("ttl=0", st, 400, code, "bad_request")
	st, _, code = call("POST", "/crdt/session?ttl=60", `{"type":"counter","increment":1}`)
	want("ttl=60", st, 204, code, "")

	call("POST", "/crdt/tags", `{"type":"set","add":["b","a","c"]}`)
	st, v, _ = call("GET", "/crdt/tags?r=quorum", "")
	if s, _ := v.Set(); st != 200 || len(s) != 3 || s[0] != "a" || v.Context == "" {
		t.Fatalf("get set: %d %+v", st, v)
	}
	ctx := v.Context
	st, _, code = call("POST", "/crdt/tags", `{"type":"set","remove":["zzz"],"context":"`+ctx+`"}`)
	want("remove unseen", st, 412, code, "precondition_failed")
	st, _, code = call("POST", "/crdt/tags", `{"type":"set","remove":["a"]}`)
	want("remove without context", st, 412, code, "precondition_failed")
	st, v, _ = call("POST", "/crdt/tags?returnbody=true", `{"type":"set","remove":["a"],"context":"`+ctx+`"}`)
	if s, _ := v.Set(); st != 200 || len(s) != 2 || s[0] != "b" {
		t.Fatalf("remove: %d %+v", st, v)
	}
	st, _, code = call("POST", "/crdt/other", `{"type":"set","remove":["b"],"context":"`+ctx+`"}`)
	want("context of another key", st, 400, code, "bad_context")

	st, v, _ = call("POST", "/crdt/cart?returnbody=true", `{"type":"map","update":{"apple":{"type":"counter","increment":2},"note":{"type":"register","assign":"ring twice"},"checkout":{"type":"flag","enable":false}}}`)
	if m, _ := v.Map(); st != 200 || m["apple"] != float64(2) || m["note"] != "ring twice" || len(m) != 2 {
		t.Fatalf("map: %d %+v", st, v)
	}

	// type_mismatch both ways, nothing changed.
	call("PUT", "/kv/plain", "x")
	st, _, code = call("POST", "/crdt/plain", `{"type":"set","add":["a"]}`)
	want("crdt on opaque", st, 409, code, "type_mismatch")
	st, _, code = call("GET", "/crdt/plain", "")
	want("crdt get on opaque", st, 409, code, "type_mismatch")
	if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/kv/plain", nil, nil)); r.StatusCode != 200 || r.Body != base64.StdEncoding.EncodeToString([]byte("x")) {
		t.Fatalf("opaque value changed: %d %s", r.StatusCode, r.Body)
	}
	st, _, code = call("PUT", "/kv/tags", "y")
	want("kv put on typed", st, 409, code, "type_mismatch")
	st, _, code = call("GET", "/kv/tags", "")
	want("kv get on typed", st, 409, code, "type_mismatch")
	st, _, code = call("POST", "/crdt/tags", `{"type":"counter","increment":1}`)
	want("counter on a set", st, 409, code, "type_mismatch")
	st, _, code = call("POST", "/crdt/cart", `{"type":"map","update":{"apple":{"type":"set","add":["x"]}}}`)
	want("field of another type", st, 409, code, "type_mismatch")
	if st, v, _ = call("GET", "/crdt/tags", ""); st != 200 || string(v.Value) != `["b","c"]` {
		t.Fatalf("typed value changed: %d %s", st, v.Value)
	}
	r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/kv/forged", []byte("x"), map[string]string{"Content-Type": "application/vnd.cartwheel.crdt"}))
	if r.StatusCode != 400 {
		t.Fatalf("reserved content type on /kv: %d %s", r.StatusCode, r.Body)
	}

	for _, bad := range []string{`{"type":"list"}`, `{"type":"counter"}`, `{"type":"set","add":["a"],"bogus":1}`, `[1]`, `{"type":"counter","increment":1} {}`} {
		st, _, code = call("POST", "/crdt/bad", bad)
		if st != 400 || (code != "bad_request" && code != "bad_json") {
			t.Fatalf("%s: %d %s", bad, st, code)
		}
	}
	st, _, code = call("GET", "/crdt/tags?sibling=1", "")
	want("unknown parameter", st, 400, code, "bad_request")
	// A deleted typed key is absent; a new operation starts it again.
	if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "DELETE", "/kv/hits", nil, nil)); r.StatusCode != 204 {
		t.Fatalf("delete typed key: %d %s", r.StatusCode, r.Body)
	}
	st, _, code = call("GET", "/crdt/hits", "")
	want("deleted", st, 404, code, "not_found")
}
