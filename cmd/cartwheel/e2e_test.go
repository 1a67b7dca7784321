package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/infra/awstest"
)

// startServer runs `cartwheel serve` in-process on a loopback port against
// endpoint (see endpoints) with unique resource names, and returns its base URL.
func startServer(t *testing.T, endpoint string) string {
	t.Helper()
	return startServerWith(t, endpoint, nil)
}

// startServerWith is startServer with the options edited by edit (if not nil).
func startServerWith(t *testing.T, endpoint string, edit func(*serveOptions)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)
	ready := make(chan string, 1)
	o := serveOptions{
		addr: "127.0.0.1:0", endpoint: endpoint, dataDir: t.TempDir(),
		nodes: 5, zones: "a,b,c", n: 3, r: 2, w: 2, faults: true,
		hintEvery: 200 * time.Millisecond, healthEvery: 0, repairEvery: 0,
		bucket: "cw-e2e-" + suffix, table: "cw-e2e-" + suffix, queue: "cw-e2e-" + suffix,
		ready:  func(a string) { ready <- a },
		logOut: io.Discard,
	}
	if edit != nil {
		edit(&o)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, io.Discard) }()
	select {
	case a := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		return "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("serve did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("serve did not start within 60 s")
	}
	return ""
}

// endpoints are the AWS endpoints the in-process servers run against: the test
// binary's one shared kumo server (kumo's services are process-wide: a second
// kumo.NewServer in one process rewires them under running requests, which
// the race detector rightly flags), and moto when CARTWHEEL_TEST_ENDPOINT is
// set (infra/awstest says loudly when it is not). "local" is no endpoint: the
// durable embedded store, `make run`'s default, in the test's data directory.
func endpoints(t *testing.T) map[string]string {
	eps := map[string]string{"local": ""}
	for _, b := range awstest.Backends(t) {
		eps[b.Name] = b.Endpoint
	}
	return eps
}

// kumoEndpoint is the test binary's shared in-process kumo server.
func kumoEndpoint(t *testing.T) string { return awstest.Backends(t)[0].Endpoint }

type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, u string, body []byte, headers ...string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, header: resp.Header, body: b}
}

// errorCode checks a JSON error body and returns its code.
func errorCode(t *testing.T, r httpResult) string {
	t.Helper()
	var e struct{ Error, Message string }
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" || e.Message == "" {
		t.Fatalf("status %d: want a JSON error body, got %q", r.status, r.body)
	}
	return e.Error
}

type siblingsBody struct {
	Context  string `json:"context"`
	Siblings []struct {
		Value       string `json:"value"`
		ContentType string `json:"contentType"`
	} `json:"siblings"`
}

func values(t *testing.T, r httpResult) []string {
	t.Helper()
	var b siblingsBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("bad JSON %q: %v", r.body, err)
	}
	var out []string
	for _, s := range b.Siblings {
		v, err := base64.StdEncoding.DecodeString(s.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(v))
	}
	sort.Strings(out)
	return out
}

func TestEndToEnd(t *testing.T) {
	for name, ep := range endpoints(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, ep)
			t.Run("KV", func(t *testing.T) { kvRoutes(t, base) })
			t.Run("BadInput", func(t *testing.T) { badInput(t, base) })
			t.Run("Admin", func(t *testing.T) { adminRoutes(t, base) })
			t.Run("CLI", func(t *testing.T) { cliAgainst(t, base) })
		})
	}
}

func kvRoutes(t *testing.T, base string) {
	kv := func(key string) string { return base + "/kv/" + url.PathEscape(key) }
	if r := call(t, "GET", kv("absent"), nil); r.status != 404 || errorCode(t, r) != "not_found" {
		t.Fatalf("absent key: %d %s", r.status, r.body)
	}
	r := call(t, "PUT", kv("cart/alice ü"), []byte("apple"), "Content-Type", "text/plain")
	if r.status != 204 || r.header.Get("X-Cartwheel-Context") == "" {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	r = call(t, "GET", kv("cart/alice ü"), nil)
	if r.status != 200 || string(r.body) != "apple" || r.header.Get("Content-Type") != "text/plain" || r.header.Get("X-Cartwheel-Context") == "" {
		t.Fatalf("get: %d %q %v", r.status, r.body, r.header)
	}
	j := call(t, "GET", kv("cart/alice ü"), nil, "Accept", "application/json")
	if j.status != 200 || !slices.Equal(values(t, j), []string{"apple"}) {
		t.Fatalf("get json: %d %s", j.status, j.body)
	}
	// Two writers with the same context: siblings (300), then resolved.
	ctx := r.header.Get("X-Cartwheel-Context")
	var wg sync.WaitGroup
	for _, v := range []string{"apple,pear", "apple,fig"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := call(t, "PUT", kv("cart/alice ü"), []byte(v), "X-Cartwheel-Context", ctx, "Content-Type", "text/plain"); r.status != 204 {
				t.Errorf("concurrent put: %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	s := call(t, "GET", kv("cart/alice ü")+"?r=3", nil)
	if s.status != 300 || !slices.Equal(values(t, s), []string{"apple,fig", "apple,pear"}) {
		t.Fatalf("siblings: %d %s", s.status, s.body)
	}
	var sb siblingsBody
	_ = json.Unmarshal(s.body, &sb)
	if r := call(t, "PUT", kv("cart/alice ü")+"?w=3", []byte("apple,fig,pear"), "X-Cartwheel-Context", sb.Context); r.status != 204 {
		t.Fatalf("resolve: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", kv("cart/alice ü")+"?r=3", nil); r.status != 200 || string(r.body) != "apple,fig,pear" {
		t.Fatalf("after resolve: %d %s", r.status, r.body)
	}
	// Delete with the context, then the key is gone.
	g := call(t, "GET", kv("cart/alice ü"), nil)
	if r := call(t, "DELETE", kv("cart/alice ü"), nil, "X-Cartwheel-Context", g.header.Get("X-Cartwheel-Context")); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", kv("cart/alice ü"), nil); r.status != 404 {
		t.Fatalf("after delete: %d %s", r.status, r.body)
	}
	// Binary values survive the base64 hops of the API Gateway event format.
	bin := []byte{0, 1, 2, 0xff, 0xfe, '\n'}
	if r := call(t, "PUT", kv("bin"), bin, "Content-Type", "application/octet-stream"); r.status != 204 {
		t.Fatalf("binary put: %d", r.status)
	}
	if r := call(t, "GET", kv("bin"), nil); !bytes.Equal(r.body, bin) {
		t.Fatalf("binary get: %v", r.body)
	}
}

func badInput(t *testing.T, base string) {
	kv := func(key string) string { return base + "/kv/" + url.PathEscape(key) }
	if r := call(t, "PUT", kv("keep"), []byte("safe"), "Content-Type", "text/plain"); r.status != 204 {
		t.Fatalf("setup: %d", r.status)
	}
	good := call(t, "GET", kv("keep"), nil).header.Get("X-Cartwheel-Context")
	tampered := []byte(good)
	tampered[len(tampered)/2] ^= 1
	jsonType := []string{"Content-Type", "application/json"} // as the CLI and the dashboard send
	cases := []struct {
		name, method, url string
		body              []byte
		headers           []string
		status            int
		code              string
	}{
		{"empty key", "GET", base + "/kv/", nil, nil, 400, "bad_key"},
		{"empty key put", "PUT", base + "/kv/", []byte("x"), nil, 400, "bad_key"},
		{"long key", "GET", kv(strings.Repeat("k", 1025)), nil, nil, 400, "bad_key"},
		{"non-UTF-8 key", "PUT", base + "/kv/%FF%FE", []byte("x"), nil, 400, "bad_key"},
		{"value too large", "PUT", kv("keep"), make([]byte, 1<<20+1), nil, 413, "value_too_large"},
		{"garbage context", "PUT", kv("keep"), []byte("x"), []string{"X-Cartwheel-Context", "not-a-context!"}, 400, "bad_context"},
		{"tampered context", "PUT", kv("keep"), []byte("x"), []string{"X-Cartwheel-Context", string(tampered)}, 400, "bad_context"},
		{"truncated context", "PUT", kv("keep"), []byte("x"), []string{"X-Cartwheel-Context", good[:len(good)/2]}, 400, "bad_context"},
		{"tampered context delete", "DELETE", kv("keep"), nil, []string{"X-Cartwheel-Context", string(tampered)}, 400, "bad_context"},
		{"r zero", "GET", kv("keep") + "?r=0", nil, nil, 400, "bad_request"},
		{"r text", "GET", kv("keep") + "?r=abc", nil, nil, 400, "bad_request"},
		{"r above n", "GET", kv("keep") + "?r=9", nil, nil, 400, "bad_request"},
		{"w above n", "PUT", kv("keep") + "?w=4", []byte("x"), nil, 400, "bad_request"},
		{"w negative", "DELETE", kv("keep") + "?w=-1", nil, nil, 400, "bad_request"},
		{"wrong method", "PATCH", kv("keep"), []byte("x"), nil, 405, "method_not_allowed"},
		{"unknown route", "GET", base + "/nope", nil, nil, 404, "no_route"},
		{"admin bad json", "POST", base + "/admin/nodes", []byte("{nope"), jsonType, 400, "bad_json"},
		{"admin unknown field", "POST", base + "/admin/nodes", []byte(`{"id":"x","zone":"a","evil":1}`), jsonType, 400, "bad_json"},
		{"admin bad node id", "POST", base + "/admin/nodes", []byte(`{"id":"../etc","zone":"a"}`), jsonType, 400, "bad_request"},
		{"admin remove unknown", "DELETE", base + "/admin/nodes/ghost", nil, nil, 404, "no_such_node"},
		{"admin wrong method", "PUT", base + "/admin/ring", nil, nil, 405, "method_not_allowed"},
		{"fault bad mode", "PUT", base + "/admin/faults/n1", []byte(`{"mode":"explode"}`), jsonType, 400, "bad_request"},
		{"fault bad rate", "PUT", base + "/admin/faults/n1", []byte(`{"mode":"errors","rate":2}`), jsonType, 400, "bad_request"},
		{"fault no mode", "PUT", base + "/admin/faults/n1", []byte(`{}`), jsonType, 400, "bad_request"},
		{"fault unknown node", "PUT", base + "/admin/faults/ghost", []byte(`{"mode":"down"}`), jsonType, 404, "no_such_node"},
		{"fault garbage", "PUT", base + "/admin/faults/n1", []byte("\x00\x01"), jsonType, 400, "bad_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, tc.url, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tc.status, r.body)
			}
			if code := errorCode(t, r); code != tc.code {
				t.Fatalf("error %q, want %q", code, tc.code)
			}
		})
	}
	// Nothing above changed the stored value or the cluster.
	if r := call(t, "GET", kv("keep")+"?r=3", nil); r.status != 200 || string(r.body) != "safe" {
		t.Fatalf("stored value changed: %d %q", r.status, r.body)
	}
	var nodes struct{ Nodes []struct{ ID string } }
	_ = json.Unmarshal(call(t, "GET", base+"/admin/nodes", nil).body, &nodes)
	if len(nodes.Nodes) != 5 {
		t.Fatalf("cluster changed by bad admin input: %d nodes", len(nodes.Nodes))
	}
	// "Path traversal" in a key is just a key: it is hashed into the object name.
	if r := call(t, "PUT", base+"/kv/..%2F..%2Fetc%2Fpasswd", []byte("x")); r.status != 204 {
		t.Fatalf("traversal-looking key: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", base+"/kv/..%2F..%2Fetc%2Fpasswd", nil); r.status != 200 || string(r.body) != "x" {
		t.Fatalf("traversal-looking key read: %d %s", r.status, r.body)
	}
}

func adminRoutes(t *testing.T, base string) {
	var nodes struct {
		Epoch uint64
		Nodes []struct {
			ID, Zone, State string
			Partitions      int
			Fault           *struct{ Mode string }
		}
	}
	r := call(t, "GET", base+"/admin/nodes", nil)
	if r.status != 200 || json.Unmarshal(r.body, &nodes) != nil || len(nodes.Nodes) != 5 {
		t.Fatalf("nodes: %d %s", r.status, r.body)
	}
	total := 0
	for _, n := range nodes.Nodes {
		if n.ID == "" || n.Zone == "" || n.State != "active" {
			t.Fatalf("node view incomplete: %+v", n)
		}
		total += n.Partitions
	}
	var ring struct {
		Q, N, R, W int
		Owners     []string
	}
	r = call(t, "GET", base+"/admin/ring", nil)
	if r.status != 200 || json.Unmarshal(r.body, &ring) != nil || ring.N != 3 || len(ring.Owners) != ring.Q || total != ring.Q {
		t.Fatalf("ring: %d %.200s", r.status, r.body)
	}
	// Take a node down: writes still succeed (sloppy quorum), and repair drains the hints once it is back.
	if r := call(t, "PUT", base+"/admin/faults/n1", []byte(`{"mode":"down"}`), "Content-Type", "application/json"); r.status != 200 {
		t.Fatalf("fault: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", base+"/admin/faults", nil); r.status != 200 || !strings.Contains(string(r.body), `"n1":{"mode":"down"}`) {
		t.Fatalf("faults: %d %s", r.status, r.body)
	}
	for i := 0; i < 10; i++ {
		if r := call(t, "PUT", fmt.Sprintf("%s/kv/down-%d", base, i), []byte("v")); r.status != 204 {
			t.Fatalf("put with n1 down: %d %s", r.status, r.body)
		}
	}
	if r := call(t, "DELETE", base+"/admin/faults/n1", nil); r.status != 204 {
		t.Fatalf("clear fault: %d", r.status)
	}
	if r := call(t, "POST", base+"/admin/repair", nil); r.status != 200 || !strings.Contains(string(r.body), "delivered") {
		t.Fatalf("repair: %d %s", r.status, r.body)
	}
	if r := call(t, "GET", base+"/admin/stats", nil); r.status != 200 || !strings.Contains(string(r.body), `"puts"`) {
		t.Fatalf("stats: %d %s", r.status, r.body)
	}
	// Add and remove a node: only partitions to/from it move.
	r = call(t, "POST", base+"/admin/nodes", []byte(`{"id":"n6","zone":"c"}`), "Content-Type", "application/json")
	var ch struct{ Epoch, Moved int }
	if r.status != 200 || json.Unmarshal(r.body, &ch) != nil || ch.Moved == 0 || ch.Moved > ring.Q/5 {
		t.Fatalf("add node: %d %s", r.status, r.body)
	}
	r = call(t, "DELETE", base+"/admin/nodes/n6", nil)
	if r.status != 200 {
		t.Fatalf("remove node: %d %s", r.status, r.body)
	}
	for i := 0; i < 10; i++ {
		if r := call(t, "GET", fmt.Sprintf("%s/kv/down-%d", base, i), nil); r.status != 200 {
			t.Fatalf("value lost after node changes: %d %s", r.status, r.body)
		}
	}
}

func cli(t *testing.T, base string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--url", base, "--no-cache=false"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func cliAgainst(t *testing.T, base string) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the context cache
	if code, _, errs := cli(t, base, "", "get", "cli-key"); code != exitNotFound {
		t.Fatalf("get absent: exit %d (%s)", code, errs)
	}
	if code, _, errs := cli(t, base, "hello", "put", "cli-key", "-", "--content-type", "text/plain"); code != 0 {
		t.Fatalf("put: exit %d (%s)", code, errs)
	}
	if code, out, _ := cli(t, base, "", "get", "cli-key"); code != 0 || out != "hello" {
		t.Fatalf("get: exit %d %q", code, out)
	}
	// get then put uses the cached context: a replacement, not a sibling.
	if code, _, errs := cli(t, base, "world", "put", "cli-key", "-"); code != 0 {
		t.Fatalf("put 2: exit %d (%s)", code, errs)
	}
	if code, out, _ := cli(t, base, "", "get", "cli-key", "--r", "3"); code != 0 || out != "world" {
		t.Fatalf("cached context did not supersede: exit %d %q", code, out)
	}
	// A blind put makes siblings: get prints both and exits 4; put --resolve merges.
	if code, _, _ := cli(t, base, "other", "put", "cli-key", "-", "--blind"); code != 0 {
		t.Fatal("blind put failed")
	}
	code, out, _ := cli(t, base, "", "get", "cli-key", "--r", "3")
	if code != exitSiblings || !strings.Contains(out, "world") || !strings.Contains(out, "other") || !strings.Contains(out, "sibling 1 of 2") {
		t.Fatalf("siblings: exit %d %q", code, out)
	}
	if code, _, errs := cli(t, base, "merged", "put", "--resolve", "cli-key", "-"); code != 0 {
		t.Fatalf("resolve: exit %d %s", code, errs)
	}
	if code, out, _ := cli(t, base, "", "get", "cli-key", "--r", "3"); code != 0 || out != "merged" {
		t.Fatalf("after resolve: exit %d %q", code, out)
	}
	if code, _, _ := cli(t, base, "", "del", "cli-key"); code != 0 {
		t.Fatal("del failed")
	}
	if code, _, _ := cli(t, base, "", "get", "cli-key"); code != exitNotFound {
		t.Fatalf("after del: exit %d", code)
	}
	cliContract(t, base)
	cliKeys(t, base)
	if code, out, _ := cli(t, base, "", "nodes", "--json"); code != 0 || !strings.Contains(out, `"id": "n1"`) {
		t.Fatalf("nodes: exit %d %q", code, out)
	}
	if code, out, _ := cli(t, base, "", "ring", "--json"); code != 0 || !strings.Contains(out, `"owners"`) {
		t.Fatalf("ring: exit %d", code)
	}
	if code, _, _ := cli(t, base, "", "fault", "n2", "slow=5ms"); code != 0 {
		t.Fatal("fault slow failed")
	}
	if code, out, _ := cli(t, base, "", "fault", "--json"); code != 0 || !strings.Contains(out, `"slow"`) {
		t.Fatalf("fault list: %d %q", code, out)
	}
	if code, _, _ := cli(t, base, "", "fault", "n2", "clear"); code != 0 {
		t.Fatal("fault clear failed")
	}
	if code, _, _ := cli(t, base, "", "fault", "n2", "explode"); code != exitUsage {
		t.Fatalf("bad fault: exit %d", code)
	}
	if code, _, _ := cli(t, base, "", "repair"); code != 0 {
		t.Fatal("repair failed")
	}
	if code, _, _ := cli(t, base, "", "get"); code != exitUsage {
		t.Fatalf("missing argument: exit %d", code)
	}
	if code, _, _ := cli(t, base, "", "bogus"); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
	if code, _, _ := cli(t, base, "", "get", strings.Repeat("k", 2000)); code != exitRejected {
		t.Fatalf("long key: exit %d", code)
	}
	if code, out, _ := cli(t, base, "", "--help"); code != 0 || !strings.Contains(out, "serve") {
		t.Fatalf("--help: exit %d", code)
	}
	if code, _, _ := cli(t, "http://127.0.0.1:1", "", "get", "x"); code != exitError {
		t.Fatalf("unreachable server: exit %d", code)
	}
}

// cliContract: the CLI's default path (cached contexts) never deletes a
// write it was not shown, and its conditional and quorum flags work.
func cliContract(t *testing.T, base string) {
	run := func(stdin string, want int, args ...string) string {
		t.Helper()
		code, out, errs := cli(t, base, stdin, args...)
		if code != want {
			t.Fatalf("cartwheel %v: exit %d, want %d (%s)", args, code, want, errs)
		}
		return out
	}
	run("a0", 0, "put", "cli-own", "--content-type", "text/plain") // value from standard input
	run("b0", 0, "--no-cache", "put", "cli-own", "-", "--blind")   // another client, concurrently
	run("a1", 0, "put", "cli-own")                                 // with the context a0's put returned
	run("a2", 0, "put", "cli-own")                                 // with the context a1's put returned
	out := run("", exitSiblings, "get", "cli-own", "--r", "all", "--pr", "quorum")
	if !strings.Contains(out, "a2") || !strings.Contains(out, "b0") || strings.Contains(out, "a1") {
		t.Fatalf("after cached puts over a concurrent write: %q (b0 must survive, a1 must be superseded)", out)
	}
	run("b1", 0, "--no-cache", "put", "cli-own", "--blind")         // the get above saw a2 and b0, not b1
	out = run("a3", exitSiblings, "put", "cli-own", "--returnbody") // shows a3 and b1; caches a context covering them
	if !strings.Contains(out, "a3") || !strings.Contains(out, "b1") || strings.Contains(out, "a2") {
		t.Fatalf("put --returnbody: %q", out)
	}
	run("merged", 0, "put", "cli-own")
	out = run("", 0, "get", "cli-own", "--json")
	var res struct{ ETag string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.ETag == "" || !strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("merged"))) {
		t.Fatalf("get --json after the merge: %q %v", out, err)
	}
	if out := run("", 0, "get", "cli-own", "--if-none-match", res.ETag); out != "" {
		t.Fatalf("get --if-none-match with the current ETag printed %q", out)
	}
	run("other", 0, "--no-cache", "put", "cli-own", "--blind")
	run("", exitSiblings, "get", "cli-own", "--json", "--if-none-match", res.ETag)
	run("new", 0, "put", "cli-create", "--if-none-match")
	run("again", exitRejected, "put", "cli-create", "--if-none-match")
	run("", 0, "get", "cli-create")
	run("cas", 0, "put", "cli-create", "--if-match")
	run("other", 0, "--no-cache", "put", "cli-create", "--blind")
	run("lost?", exitRejected, "put", "cli-create", "--if-match", "--w", "quorum", "--pw", "1")
	// A cached context the cluster no longer accepts (here: another key's, as
	// after the cluster's context key changed) is dropped: a put writes
	// without it (a sibling, nothing lost), a delete refuses.
	c := (&globalOptions{url: base, timeout: 10 * time.Second}).client()
	other := c.savedContext("cli-create")
	run("s0", 0, "--no-cache", "put", "cli-stale", "--blind")
	c.saveContext("cli-stale", other)
	if code, _, errs := cli(t, base, "s1", "put", "cli-stale"); code != 0 || !strings.Contains(errs, "no longer accepted") {
		t.Fatalf("put with a stale cached context: exit %d (%s)", code, errs)
	}
	if out := run("", exitSiblings, "get", "cli-stale", "--r", "all"); !strings.Contains(out, "s0") || !strings.Contains(out, "s1") {
		t.Fatalf("after a put with a stale context: %q", out)
	}
	c.saveContext("cli-stale", other)
	run("", exitRejected, "del", "cli-stale")
	if c.savedContext("cli-stale") != "" {
		t.Fatal("the stale context was not dropped")
	}
	run("", exitUsage, "get", "cli-create", "--r", "9") // a flag value the server refuses: usage
	run("", exitUsage, "get", "cli-create", "--r", "two")
}
