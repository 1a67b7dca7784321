package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestReadQuorumSameVerdictOnEveryMethod: a value of r or pr is accepted or
// refused (400 bad_request naming it) alike on GET, PUT, POST and DELETE,
// with or without a context, conditional or not: a PUT that makes no read
// does not ignore a bad r. A refusal's range starts at 0 for pr and pw.
func TestReadQuorumSameVerdictOnEveryMethod(t *testing.T) {
	h := testHandler(t)
	keys := 0
	values := []string{"-1", "0", "1", "2", "3", "4", "9", "one", "quorum", "all", "local", "x"}
	rapid.Check(t, func(rt *rapid.T) {
		name := rapid.SampledFrom([]string{"r", "pr"}).Draw(rt, "name")
		value := rapid.SampledFrom(values).Draw(rt, "value")
		query := "?" + name + "=" + value
		keys++ // a key per draw: blind puts would pile up siblings on one
		path := fmt.Sprintf("/kv/q%d", keys)
		if r := do(t, h, event(t, noAuth, "PUT", path, []byte("v"), nil)); r.StatusCode != 204 {
			rt.Fatalf("setup put: %+v", r)
		}
		h.d.Coord.Wait()
		get := do(t, h, event(t, noAuth, "GET", path+query, nil, nil))
		want := get.StatusCode == 400
		if want && !strings.Contains(get.Body, name+"=") {
			rt.Fatalf("GET %s: %s does not name %s", query, get.Body, name)
		}
		if want && strings.HasPrefix(name, "p") && strings.Contains(get.Body, "[1,") {
			rt.Fatalf("GET %s: %s: 0 is accepted for %s", query, get.Body, name)
		}
		method := rapid.SampledFrom([]string{"PUT", "POST", "DELETE"}).Draw(rt, "method")
		var headers map[string]string
		switch rapid.IntRange(0, 2).Draw(rt, "condition") {
		case 1:
			headers = map[string]string{"If-None-Match": "*"}
			if method == "DELETE" {
				headers = nil
			}
		case 2:
			headers = map[string]string{"X-Cartwheel-Context": get.Headers["X-Cartwheel-Context"]}
		}
		var body []byte
		if method != "DELETE" {
			body = []byte("v")
		}
		r := do(t, h, event(t, noAuth, method, path+query, body, headers))
		if got := r.StatusCode == 400; got != want {
			rt.Fatalf("%s %s (headers %v): %d %s; GET answered %d %s", method, query, headers, r.StatusCode, r.Body, get.StatusCode, get.Body)
		}
		if r.StatusCode == 400 && !strings.Contains(r.Body, fmt.Sprintf("%q", "bad_request")) {
			rt.Fatalf("%s %s: %s", method, query, r.Body)
		}
	})
}
