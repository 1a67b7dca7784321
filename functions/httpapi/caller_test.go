package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestDeployedAdminNeedsItsRouteAndIAM (issue 29, finding 6): deployed
// (Deps.RequireIAMForAdmin, as functions/api sets it) an admin or dashboard
// request is served only when API Gateway matched it to that route and its
// IAM authorizer ran: the same path reaching the handler through $default
// (which follows DataApiAuth, maybe JWT or none) or without an IAM caller is
// 403. The data routes are unaffected, and the local server (flag off)
// serves admin requests as before.
func TestDeployedAdminNeedsItsRouteAndIAM(t *testing.T) {
	h := testHandler(t)
	h.d.RequireIAMForAdmin = true
	withKey := func(file, method, path, routeKey string) events.APIGatewayV2HTTPRequest {
		ev := event(t, file, method, path, nil, nil)
		ev.RouteKey, ev.RequestContext.RouteKey = routeKey, routeKey
		return ev
	}
	cases := []struct {
		name         string
		file         string
		method, path string
		routeKey     string
		status       int
	}{
		{"admin through $default, IAM", "apigw-v2-request-iam.json", "GET", "/admin/nodes", "$default", 403},
		{"admin through $default, no authorizer", "apigw-v2-request-no-authorizer.json", "GET", "/admin/nodes", "$default", 403},
		{"admin route without IAM", "apigw-v2-request-no-authorizer.json", "GET", "/admin/nodes", "ANY /admin/{proxy+}", 403},
		{"admin route, another route's key", "apigw-v2-request-iam.json", "GET", "/admin/nodes", "GET /kv/{key}", 403},
		{"admin route and IAM", "apigw-v2-request-iam.json", "GET", "/admin/nodes", "ANY /admin/{proxy+}", 200},
		{"dashboard through $default", "apigw-v2-request-no-authorizer.json", "GET", "/ui", "$default", 403},
		{"dashboard route and IAM", "apigw-v2-request-iam.json", "GET", "/ui", "GET /ui", 200},
		{"data route without IAM", "apigw-v2-request-no-authorizer.json", "GET", "/kv/absent", "GET /kv/{key}", 404},
	}
	for _, c := range cases {
		r := do(t, h, withKey(c.file, c.method, c.path, c.routeKey))
		if r.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.StatusCode, r.Body, c.status)
		}
	}
	h.d.RequireIAMForAdmin = false
	if r := do(t, h, withKey("apigw-v2-request-no-authorizer.json", "GET", "/admin/nodes", "$default")); r.StatusCode != 200 {
		t.Errorf("local admin request: %d %s", r.StatusCode, r.Body)
	}
}

// TestAdminActionsAreLoggedWithTheCaller (issue 29, finding 5): every request
// line names its caller (the IAM ARN, a JWT's sub, or the local client's
// address), and every admin action that changes something is logged at Info
// (visible whatever RequestLogLevel says) with who made it.
func TestAdminActionsAreLoggedWithTheCaller(t *testing.T) {
	h := testHandler(t)
	var buf bytes.Buffer
	h.d.Log = slog.New(slog.NewJSONHandler(&buf, nil))
	h.d.RequestLogLevel = slog.LevelDebug // the local server's: request lines hidden
	ev := event(t, "apigw-v2-request-iam.json", "POST", "/admin/context-key/rotate", nil, nil)
	if r := do(t, h, ev); r.StatusCode != 200 {
		t.Fatalf("rotate: %d %s", r.StatusCode, r.Body)
	}
	jwt := event(t, "apigw-v2-request-no-authorizer.json", "PUT", "/admin/faults/n1", []byte(`{"mode":"down"}`), nil)
	jwt.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"sub": "user-42"}},
	}
	do(t, h, jwt)
	do(t, h, event(t, "apigw-v2-request-iam.json", "GET", "/admin/nodes", nil, nil)) // a read: no action line
	var actions []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "admin action" {
			actions = append(actions, m)
		}
	}
	if len(actions) != 2 {
		t.Fatalf("admin action lines: %d, want 2:\n%s", len(actions), buf.String())
	}
	if actions[0]["caller"] != "arn:aws:iam::1234567890:user/Admin" || actions[0]["path"] != "/admin/context-key/rotate" || actions[0]["status"] != float64(200) {
		t.Errorf("rotation logged as %v", actions[0])
	}
	if actions[1]["caller"] != "jwt:user-42" || actions[1]["method"] != "PUT" {
		t.Errorf("fault logged as %v", actions[1])
	}
}
