package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/client"
)

// contract sends requests to a local server and validates each answer (and
// each request meant to be valid) against openapi.json with kin-openapi's
// openapi3filter, which also refuses a status the document does not list.
type contract struct {
	t   *testing.T
	doc *openapi3.T
	url string
}

// call sends one request for the operation tmpl (an openapi.json path) with
// the raw path params, and validates it. It returns the answer.
func (c contract) call(tmpl, method, rawPath, query string, headers map[string]string, body []byte, params map[string]string, validRequest bool) (*http.Response, []byte, error) {
	u := c.url + rawPath
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	item := c.doc.Paths.Value(tmpl)
	if item == nil || item.GetOperation(method) == nil {
		return resp, got, fmt.Errorf("openapi.json has no %s %s", method, tmpl)
	}
	vreq, _ := http.NewRequest(method, u, bytes.NewReader(body))
	vreq.Header = req.Header.Clone()
	decoded := map[string]string{}
	for k, v := range params {
		decoded[k], _ = url.PathUnescape(v)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: decoded,
		Route:   &routers.Route{Spec: c.doc, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)},
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if validRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return resp, got, fmt.Errorf("%s %s?%s %v: the request is refused by openapi.json: %w", method, rawPath, query, headers, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(got)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return resp, got, fmt.Errorf("%s %s?%s %v answered %d %.300s, which openapi.json does not allow: %w", method, rawPath, query, headers, resp.StatusCode, got, err)
	}
	return resp, got, nil
}

// TestResponsesMatchOpenAPI: real answers of the handler, to generated
// key-value requests (good and bad keys, parameters, conditions, contexts,
// content types) and to every admin route, validate against openapi.json.
func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	srv := httptest.NewServer(&Local{H: testHandler(t), MaxBody: 1 << 20})
	defer srv.Close()
	c := contract{t: t, doc: doc, url: srv.URL}
	contexts := []string{""}
	rapid.Check(t, func(rt *rapid.T) {
		key := rapid.SampledFrom([]string{"a", "b", ".", "x y", "caf\u00e9", "%2F"}).Draw(rt, "key")
		method := rapid.SampledFrom([]string{"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"}).Draw(rt, "method")
		valid := true
		var q []string
		for _, name := range []string{client.ParamR, client.ParamW, client.ParamPR, client.ParamPW, client.ParamReturnBody, client.ParamTTL, "bogus"} {
			if !rapid.Bool().Draw(rt, "has "+name) || rapid.IntRange(0, 2).Draw(rt, "skip "+name) > 0 {
				continue
			}
			v := rapid.SampledFrom([]string{"1", "2", "3", "one", "quorum", "all", "local", "0", "9", "true", "x"}).Draw(rt, name)
			q = append(q, name+"="+v)
			valid = false // the handler, not the document, is the judge of values and of which method takes which
		}
		headers := map[string]string{}
		switch rapid.IntRange(0, 3).Draw(rt, "condition") {
		case 1:
			headers[client.ContextHeader] = rapid.SampledFrom(contexts).Draw(rt, "context")
		case 2:
			headers["If-None-Match"] = "*"
		case 3:
			headers["If-Match"] = rapid.SampledFrom(append(contexts, "forged")).Draw(rt, "if-match")
		}
		if rapid.Bool().Draw(rt, "json") {
			headers["Accept"] = "application/json"
		}
		var body []byte
		if method == "PUT" || method == "POST" {
			headers["Content-Type"] = rapid.SampledFrom([]string{"text/plain", "application/octet-stream", "application/json", "image/png"}).Draw(rt, "content type")
			body = []byte(rapid.SampledFrom([]string{"v", "{}", "not json", ""}).Draw(rt, "value"))
		}
		if headers[client.ContextHeader] == "" {
			delete(headers, client.ContextHeader)
		}
		if headers["If-Match"] == "" {
			delete(headers, "If-Match")
		}
		raw := client.PathSegment(key)
		resp, _, err := c.call("/kv/{key}", method, "/kv/"+raw, strings.Join(q, "&"), headers, body, map[string]string{"key": raw}, valid && method != "DELETE" && headers["If-None-Match"] == "")
		if err != nil {
			rt.Fatal(err)
		}
		if ctx := resp.Header.Get(client.ContextHeader); ctx != "" && len(contexts) < 20 {
			contexts = append(contexts, ctx)
		}
	})

	// Every admin route, with good and bad input.
	adminCalls := []struct{ tmpl, method, path, body string }{
		{"/admin/nodes", "GET", "/admin/nodes", ""},
		{"/admin/ring", "GET", "/admin/ring", ""},
		{"/admin/stats", "GET", "/admin/stats", ""},
		{"/admin/hints", "GET", "/admin/hints", ""},
		{"/admin/preflist/{key}", "GET", "/admin/preflist/a", ""},
		{"/admin/faults", "GET", "/admin/faults", ""},
		{"/admin/faults/{node}", "PUT", "/admin/faults/n1", `{"mode":"slow","latencyMs":5}`},
		{"/admin/faults/{node}", "PUT", "/admin/faults/n1", `{"mode":"warp"}`},
		{"/admin/faults/{node}", "DELETE", "/admin/faults/n1", ""},
		{"/admin/nodes", "POST", "/admin/nodes", `{"id":"n2","zone":"b"}`},
		{"/admin/nodes", "POST", "/admin/nodes", `{"id":"n9","zone":"b"}`},
		{"/admin/nodes", "POST", "/admin/nodes", `{"id":`},
		{"/admin/plan", "GET", "/admin/plan", ""},
		{"/admin/transfers", "GET", "/admin/transfers", ""},
		{"/admin/commit", "POST", "/admin/commit", ""},
		{"/admin/plan", "DELETE", "/admin/plan", ""},
		{"/admin/plan", "DELETE", "/admin/plan", ""},
		{"/admin/nodes/{id}", "DELETE", "/admin/nodes/ghost", ""},
		{"/admin/nodes/{id}/state", "PUT", "/admin/nodes/n3/state", `{"state":"down"}`},
		{"/admin/nodes/{id}/state", "PUT", "/admin/nodes/n3/state", `{"state":"active"}`},
		{"/admin/nodes/{id}", "DELETE", "/admin/nodes/n4", ""},
		{"/admin/plan", "DELETE", "/admin/plan", ""},
		{"/admin/cleanups/{node}", "DELETE", "/admin/cleanups/n1", ""},
		{"/admin/cleanups/{node}", "DELETE", "/admin/cleanups/gone", ""},
		{"/admin/context-key/rotate", "POST", "/admin/context-key/rotate", ""},
		{"/admin/reap", "POST", "/admin/reap", ""},
		{"/admin/repair", "POST", "/admin/repair", ""},
		{"/openapi.json", "GET", "/openapi.json", ""},
		{"/keys", "GET", "/keys", ""},
		{"/healthz", "GET", "/healthz", ""},
		{"/readyz", "GET", "/readyz", ""},
		{"/crdt/{key}", "GET", "/crdt/cart", ""},
		{"/crdt/{key}", "POST", "/crdt/cart", `{"type":"counter","increment":2}`},
		{"/crdt/{key}", "GET", "/crdt/cart", ""},
		{"/crdt/{key}", "POST", "/crdt/cart", `{"type":"set","add":["x"]}`},
		{"/crdt/{key}", "POST", "/crdt/tags", `{"type":"set","remove":["x"]}`},
		{"/crdt/{key}", "POST", "/crdt/tags", `{"type":`},
		{"/crdt/{key}", "GET", "/crdt/a", ""},
		{"/ui", "GET", "/ui", ""},
		{"/ui", "HEAD", "/ui", ""},
		{"/ui/{path}", "GET", "/ui/app.js", ""},
		{"/ui/{path}", "GET", "/ui/nope.txt", ""},
	}
	for _, a := range adminCalls {
		params := map[string]string{}
		tp, pp := strings.Split(a.tmpl, "/"), strings.Split(a.path, "/")
		for i := range tp {
			if strings.HasPrefix(tp[i], "{") && i < len(pp) {
				params[strings.Trim(tp[i], "{}")] = pp[i]
			}
		}
		var body []byte
		headers := map[string]string{}
		if a.body != "" {
			body, headers["Content-Type"] = []byte(a.body), "application/json"
		}
		if _, _, err := c.call(a.tmpl, a.method, a.path, "", headers, body, params, false); err != nil {
			t.Error(err)
		}
	}
}
