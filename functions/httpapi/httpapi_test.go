package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/infra/recent"
)

// testHandler wires the handler over the in-memory ports (the AWS adapters
// are covered by the end-to-end suite in cmd/cartwheel).
func testHandler(t *testing.T) *Handler {
	t.Helper()
	store := kvmem.NewStore()
	hints := kvmem.NewHintQueue(50*time.Millisecond, 10)
	members := kvmem.NewMembership()
	var nodes []kv.Node
	for i, z := range []string{"a", "b", "c", "a"} {
		id := string(rune('1' + i))
		nodes = append(nodes, kv.Node{ID: "n" + id, Zone: z, Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n" + id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 64
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := members.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	f := faults.New(store, func() float64 { return 0.5 }, nil)
	var n atomic.Uint64
	rec := recent.New(time.Now) // the dashboard's series, fed by the coordinator as in production
	co, err := coordinator.New(coordinator.DefaultConfig(), coordinator.Deps{
		Store: f, Hints: hints, Members: members, Now: time.Now, Rand: func() uint64 { return n.Add(1) }, Observer: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Coord: co, Members: members, Hints: hints, Faults: f, Recent: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// event loads a sample API Gateway v2 event (from aws-lambda-go's testdata)
// and points it at method and rawPath.
func event(t *testing.T, file, method, rawPath string, body []byte, headers map[string]string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(rawPath, "?")
	ev.RawPath = path
	ev.RawQueryString = query
	ev.QueryStringParameters = map[string]string{}
	for _, kv := range strings.Split(query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			ev.QueryStringParameters[k] = v
		}
	}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.HTTP.Path = path
	if body != nil {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
		if strings.HasPrefix(path, "/admin/") {
			ev.Headers["content-type"] = "application/json" // as the CLI and the dashboard send
		}
	}
	for k, v := range headers {
		ev.Headers[strings.ToLower(k)] = v
	}
	return ev
}

func do(t *testing.T, h *Handler, ev events.APIGatewayV2HTTPRequest) Response {
	t.Helper()
	r, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle returned an error (it must answer with HTTP): %v", err)
	}
	return r
}

func TestRealEventPayloads(t *testing.T) {
	h := testHandler(t)
	put := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/kv/caf%C3%A9", []byte("crème"), map[string]string{"Content-Type": "text/plain"}))
	if put.StatusCode != 204 || put.Headers[ContextHeader] == "" {
		t.Fatalf("put: %+v", put)
	}
	get := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/kv/caf%C3%A9", nil, nil))
	body, _ := base64.StdEncoding.DecodeString(get.Body)
	if get.StatusCode != 200 || !get.IsBase64Encoded || string(body) != "crème" || get.Headers["Content-Type"] != "text/plain" {
		t.Fatalf("get: %+v", get)
	}
	// A plain-text body (IsBase64Encoded false), as API Gateway sends for text types.
	ev := event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/kv/plain", nil, nil)
	ev.Body, ev.IsBase64Encoded = "text body", false
	if r := do(t, h, ev); r.StatusCode != 204 {
		t.Fatalf("plain put: %+v", r)
	}
	// The admin routes work with the IAM-authorized sample (auth is API Gateway's job).
	nodes := do(t, h, event(t, "apigw-v2-request-iam.json", "GET", "/admin/nodes", nil, nil))
	if nodes.StatusCode != 200 || !strings.Contains(nodes.Body, `"id":"n1"`) {
		t.Fatalf("nodes: %+v", nodes)
	}
	js := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/kv/caf%C3%A9", nil, map[string]string{"Accept": "application/json"}))
	var g struct {
		Context  string
		Siblings []struct{ Value, ContentType string }
	}
	if js.StatusCode != 200 || json.Unmarshal([]byte(js.Body), &g) != nil || len(g.Siblings) != 1 || g.Context == "" {
		t.Fatalf("json get: %+v", js)
	}
}

func TestErrorsAreJSON(t *testing.T) {
	h := testHandler(t)
	cases := []struct {
		method, path string
		body         []byte
		headers      map[string]string
		status       int
		code         string
	}{
		{"GET", "/kv/%zz", nil, nil, 400, "bad_key"},
		{"GET", "/kv/", nil, nil, 400, "bad_key"},
		{"GET", "/kv", nil, nil, 400, "bad_key"},
		{"GET", "/kv/%FF", nil, nil, 400, "bad_key"},
		{"PUT", "/kv/a", []byte("x"), map[string]string{ContextHeader: "@@@"}, 400, "bad_context"},
		{"PUT", "/kv/a", make([]byte, kv.DefaultLimits().MaxValueBytes+1), nil, 413, "value_too_large"},
		{"GET", "/kv/a?r=0", nil, nil, 400, "bad_request"},
		{"GET", "/kv/a?r=5", nil, nil, 400, "bad_request"},
		{"PATCH", "/kv/a", nil, nil, 405, "method_not_allowed"},
		{"GET", "/elsewhere", nil, nil, 404, "no_route"},
		{"GET", "/admin/unknown", nil, nil, 404, "no_route"},
		{"POST", "/admin/nodes", []byte("[1,2]"), nil, 400, "bad_json"},
		{"POST", "/admin/nodes", []byte(`{"id":"n9","zone":"a"} {}`), nil, 400, "bad_json"},
		{"PUT", "/admin/nodes/n1/state", []byte(`{"state":"joining"}`), nil, 400, "bad_request"},
		{"PUT", "/admin/faults/n1", []byte(`{"mode":"slow","latencyMs":-5}`), nil, 400, "bad_request"},
		{"POST", "/admin/faults", nil, nil, 405, "method_not_allowed"},
		{"GET", "/admin/faults/n1/x", nil, nil, 404, "no_route"},
	}
	for _, tc := range cases {
		r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", tc.method, tc.path, tc.body, tc.headers))
		var e struct{ Error, Message string }
		if r.StatusCode != tc.status || json.Unmarshal([]byte(r.Body), &e) != nil || e.Error != tc.code || e.Message == "" {
			t.Errorf("%s %s: got %d %s, want %d %s", tc.method, tc.path, r.StatusCode, r.Body, tc.status, tc.code)
		}
	}
}

func TestQuorumFailureIs503(t *testing.T) {
	h := testHandler(t)
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/admin/faults/"+id, []byte(`{"mode":"down"}`), nil)); r.StatusCode != 200 {
			t.Fatalf("fault: %+v", r)
		}
	}
	r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/kv/a", []byte("x"), nil))
	var e struct {
		Error     string
		Message   string
		Got, Need int
	}
	if r.StatusCode != 503 || json.Unmarshal([]byte(r.Body), &e) != nil || e.Error != "quorum_failed" || e.Need != 2 || !strings.Contains(e.Message, "0 of 2") {
		t.Fatalf("want 503 quorum_failed 0 of 2, got %d %s", r.StatusCode, r.Body)
	}
}

func TestNodeStateAndMembershipChanges(t *testing.T) {
	h := testHandler(t)
	r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/admin/nodes/n2/state", []byte(`{"state":"down"}`), nil))
	if r.StatusCode != 200 {
		t.Fatalf("set state: %+v", r)
	}
	nodes := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/admin/nodes", nil, nil))
	if !strings.Contains(nodes.Body, `"id":"n2","zone":"b","weight":1,"state":"down"`) {
		t.Fatalf("state not shown: %s", nodes.Body)
	}
	if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/kv/k", []byte("v"), nil)); r.StatusCode != 204 {
		t.Fatalf("put with a node down: %+v", r)
	}
	if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/admin/nodes/ghost/state", []byte(`{"state":"down"}`), nil)); r.StatusCode != 404 {
		t.Fatalf("unknown node: %+v", r)
	}
	if r := do(t, h, event(t, "apigw-v2-request-no-authorizer.json", "GET", "/admin/ring", nil, nil)); r.StatusCode != 200 || !strings.Contains(r.Body, `"q":64`) {
		t.Fatalf("ring: %+v", r)
	}
}

func TestLocalAdapter(t *testing.T) {
	srv := httptest.NewServer(&Local{H: testHandler(t), MaxBody: 1 << 10})
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/kv/x", "text/plain", strings.NewReader(strings.Repeat("a", 2000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/kv/none", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || len(b) != 0 {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, b)
	}
}

// TestAddExistingNodeIsConflict: adding a node whose id is a member answers
// 409 node_exists (a conflict with the cluster's state, not a malformed
// request) and changes nothing.
func TestAddExistingNodeIsConflict(t *testing.T) {
	h := testHandler(t)
	before := do(t, h, event(t, noAuth, "GET", "/admin/nodes", nil, nil))
	r := do(t, h, event(t, noAuth, "POST", "/admin/nodes", []byte(`{"id":"n2","zone":"b"}`), nil))
	if r.StatusCode != http.StatusConflict || !strings.Contains(r.Body, `"node_exists"`) || !strings.Contains(r.Body, "n2") {
		t.Fatalf("add an existing node: %d %s; want 409 node_exists naming n2", r.StatusCode, r.Body)
	}
	if after := do(t, h, event(t, noAuth, "GET", "/admin/nodes", nil, nil)); after.Body != before.Body {
		t.Fatalf("membership changed:\n%s\n%s", before.Body, after.Body)
	}
}

// TestMembershipChangeCountsWhatThePlanMoves: the answer to adding or
// removing a node counts the partitions that move ("moves": those whose
// replicas change) exactly as GET /admin/plan does, whatever the change.
func TestMembershipChangeCountsWhatThePlanMoves(t *testing.T) {
	h := testHandler(t)
	for _, step := range []struct{ method, path, body string }{
		{"POST", "/admin/nodes", `{"id":"n5","zone":"b"}`},
		{"POST", "/admin/nodes", `{"id":"n6","zone":"c","weight":3}`},
		{"DELETE", "/admin/nodes/n1", ""},
	} {
		var body []byte
		if step.body != "" {
			body = []byte(step.body)
		}
		r := do(t, h, event(t, noAuth, step.method, step.path, body, nil))
		var change, plan struct{ Moves *int }
		if err := json.Unmarshal([]byte(r.Body), &change); err != nil || r.StatusCode != 200 || change.Moves == nil {
			t.Fatalf("%s %s: %d %s; want 200 with moves", step.method, step.path, r.StatusCode, r.Body)
		}
		p := do(t, h, event(t, noAuth, "GET", "/admin/plan", nil, nil))
		if err := json.Unmarshal([]byte(p.Body), &plan); err != nil || plan.Moves == nil {
			t.Fatalf("plan: %s", p.Body)
		}
		if *change.Moves != *plan.Moves || *plan.Moves == 0 {
			t.Errorf("%s %s answered moves=%d; the plan says %d", step.method, step.path, *change.Moves, *plan.Moves)
		}
	}
}
