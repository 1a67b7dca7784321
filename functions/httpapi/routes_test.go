package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// templateRoute is one AWS::ApiGatewayV2::Route of template.yaml, with its
// authorization as the test understands it.
type templateRoute struct {
	id   string
	key  string
	auth AuthClass
	jwt  bool // AuthorizerId is the JWT authorizer exactly when DataApiAuth=jwt
}

// cfnNode is a YAML node with CloudFormation's short-form tags (!Ref, !If,
// !FindInMap, ...) kept as the node's tag.
type cfnNode = yaml.Node

func child(n *cfnNode, key string) *cfnNode {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// seqValues returns the scalar values of a sequence node (tags ignored).
func seqValues(n *cfnNode) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, c.Tag+" "+c.Value)
	}
	return out
}

// loadTemplateRoutes parses template.yaml and classifies every route's
// authorization: a literal AWS_IAM is AuthAdmin; the DataApiAuthTypes
// mapping keyed by DataApiAuth (with the JWT authorizer exactly in jwt mode)
// is AuthData. Anything else fails the test.
func loadTemplateRoutes(t *testing.T) ([]templateRoute, *cfnNode) {
	t.Helper()
	b, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc cfnNode
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	root := doc.Content[0]
	res := child(root, "Resources")
	if res == nil {
		t.Fatal("template.yaml has no Resources")
	}
	var out []templateRoute
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if child(r, "Type").Value != "AWS::ApiGatewayV2::Route" {
			continue
		}
		p := child(r, "Properties")
		tr := templateRoute{id: id, key: child(p, "RouteKey").Value}
		if api := child(p, "ApiId"); api == nil || api.Tag != "!Ref" || api.Value != "HttpApi" {
			t.Errorf("%s: ApiId is not !Ref HttpApi", id)
		}
		if tg := child(p, "Target"); tg == nil || tg.Tag != "!Sub" || tg.Value != "integrations/${ApiIntegration}" {
			t.Errorf("%s: Target is not the api function's integration", id)
		}
		at := child(p, "AuthorizationType")
		authz := child(p, "AuthorizerId")
		cond := child(r, "Condition")
		switch {
		case at != nil && at.Tag == "!!str" && at.Value == "NONE" && authz == nil && cond != nil && cond.Value == "CorsEnabled":
			tr.auth = AuthPreflight // only when the user lists CORS origins
		case cond != nil:
			t.Errorf("%s (%s): only the CORS preflight route may have a Condition", id, tr.key)
			continue
		case at != nil && at.Tag == "!!str" && at.Value == "AWS_IAM" && authz == nil:
			tr.auth = AuthAdmin
		case at != nil && at.Tag == "!FindInMap" &&
			slices.Equal(seqValues(at), []string{"!!str DataApiAuthTypes", "!Ref DataApiAuth", "!!str AuthorizationType"}) &&
			authz != nil && authz.Tag == "!If" &&
			slices.Equal(seqValues(authz), []string{"!!str DataAuthJwt", "!Ref JwtAuthorizer", "!Ref AWS::NoValue"}):
			tr.auth, tr.jwt = AuthData, true
		default:
			t.Errorf("%s (%s): authorization is neither AWS_IAM nor the DataApiAuth mapping", id, tr.key)
			continue
		}
		out = append(out, tr)
	}
	return out, root
}

// TestTemplateRoutesMatchTable checks that template.yaml declares exactly
// the handler's route table, each route with its auth class, so the deployed
// API and the local server accept the same methods and paths.
func TestTemplateRoutesMatchTable(t *testing.T) {
	routes, root := loadTemplateRoutes(t)
	got := map[string]AuthClass{}
	for _, r := range routes {
		if _, dup := got[r.key]; dup {
			t.Errorf("route %q declared twice", r.key)
		}
		got[r.key] = r.auth
	}
	want := map[string]AuthClass{}
	for _, r := range Routes() {
		want[r.Key()] = r.Auth
	}
	for k, a := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("route %q (%s) is in the handler's table but not in template.yaml", k, a)
		} else if g != a {
			t.Errorf("route %q: template auth %s, table auth %s", k, g, a)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("route %q is in template.yaml but not in the handler's table", k)
		}
	}

	// The mapping behind AuthData: iam is the default and means AWS_IAM.
	params := child(root, "Parameters")
	da := child(params, "DataApiAuth")
	if da == nil || child(da, "Default").Value != "iam" {
		t.Fatalf("DataApiAuth must exist with default iam")
	}
	if !strings.Contains(strings.ToLower(child(da, "Description").Value), "public") {
		t.Errorf("DataApiAuth's description must say that none makes the API public")
	}
	m := child(child(root, "Mappings"), "DataApiAuthTypes")
	wantTypes := map[string]string{"iam": "AWS_IAM", "jwt": "JWT", "none": "NONE"}
	var allowed []string
	for _, v := range child(da, "AllowedValues").Content {
		allowed = append(allowed, v.Value)
	}
	slices.Sort(allowed)
	if !slices.Equal(allowed, []string{"iam", "jwt", "none"}) {
		t.Errorf("DataApiAuth allows %v, want iam, jwt, none", allowed)
	}
	for mode, typ := range wantTypes {
		if g := child(child(m, mode), "AuthorizationType"); g == nil || g.Value != typ {
			t.Errorf("DataApiAuthTypes[%s] is not %s", mode, typ)
		}
	}
	res := child(root, "Resources")
	if a := child(res, "JwtAuthorizer"); a == nil || child(a, "Condition").Value != "DataAuthJwt" ||
		child(child(a, "Properties"), "AuthorizerType").Value != "JWT" {
		t.Errorf("JwtAuthorizer must be a JWT authorizer created only when DataAuthJwt")
	}

	// Throttling comes from parameters.
	st := child(child(child(res, "HttpApiStage"), "Properties"), "DefaultRouteSettings")
	for prop, param := range map[string]string{"ThrottlingRateLimit": "ThrottleRateLimit", "ThrottlingBurstLimit": "ThrottleBurstLimit"} {
		if v := child(st, prop); v == nil || v.Tag != "!Ref" || v.Value != param {
			t.Errorf("HttpApiStage DefaultRouteSettings.%s is not !Ref %s", prop, param)
		}
		if child(params, param) == nil {
			t.Errorf("parameter %s missing", param)
		}
	}
}

// TestRouteDispatch checks how the table dispatches: the routes answer, POST
// is PUT, a raw slash in a key is 400 bad_key, other methods are 405 with the
// table's methods in Allow.
func TestRouteDispatch(t *testing.T) {
	h := testHandler(t)
	const ev = "apigw-v2-request-no-authorizer.json"
	if r := do(t, h, event(t, ev, "POST", "/kv/p", []byte("posted"), nil)); r.StatusCode != 204 {
		t.Fatalf("POST /kv/p: %d %s", r.StatusCode, r.Body)
	}
	if r := do(t, h, event(t, ev, "GET", "/kv/p", nil, nil)); r.StatusCode != 200 || r.Body != "cG9zdGVk" {
		t.Fatalf("GET after POST: %d %s", r.StatusCode, r.Body)
	}
	if r := do(t, h, event(t, ev, "HEAD", "/kv/p", nil, nil)); r.StatusCode != 200 {
		t.Fatalf("HEAD: %d", r.StatusCode)
	}
	if r := do(t, h, event(t, ev, "OPTIONS", "/kv/p", nil, nil)); r.StatusCode != 204 || r.Body != "" || !strings.Contains(r.Headers["Allow"], "PUT") {
		t.Fatalf("OPTIONS (a CORS preflight): %d %q %v", r.StatusCode, r.Body, r.Headers)
	}
	if r := do(t, h, event(t, ev, "PUT", "/kv/a%2Fb", []byte("x"), nil)); r.StatusCode != 204 {
		t.Fatalf("PUT of an encoded slash: %d %s", r.StatusCode, r.Body)
	}
	for _, tc := range []struct{ method, path, code, allow string }{
		{"GET", "/kv/a/b", "bad_key", ""},
		{"PUT", "/kv/a/", "bad_key", ""},
		{"DELETE", "/kv//a", "bad_key", ""},
		{"PATCH", "/kv/a", "method_not_allowed", "DELETE, GET, HEAD, OPTIONS, POST, PUT"},
		{"POST", "/ui", "method_not_allowed", "GET, HEAD"},
		{"GET", "/admin", "no_route", ""},
		{"GET", "/admin%2Fnodes", "no_route", ""},
		{"GET", "/kv%2Fa", "no_route", ""},
	} {
		r := do(t, h, event(t, ev, tc.method, tc.path, []byte("x"), nil))
		var e struct{ Error string }
		if json.Unmarshal([]byte(r.Body), &e) != nil || e.Error != tc.code || r.Headers["Allow"] != tc.allow {
			t.Errorf("%s %s: %d %s (Allow %q), want %s (Allow %q)", tc.method, tc.path, r.StatusCode, r.Body, r.Headers["Allow"], tc.code, tc.allow)
		}
	}
	if r := do(t, h, event(t, ev, "GET", "/kv/a/b", nil, nil)); r.StatusCode != 400 {
		t.Errorf("raw slash: %d, want 400", r.StatusCode)
	}
}

// TestMatchPattern pins API Gateway's path-variable semantics.
func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          map[string]string
	}{
		{"/kv/{key}", "/kv/a", map[string]string{"key": "a"}},
		{"/kv/{key}", "/kv/a%2Fb", map[string]string{"key": "a%2Fb"}},
		{"/kv/{key}", "/kv/", nil},
		{"/kv/{key}", "/kv/a/b", nil},
		{"/ui", "/ui", map[string]string{}},
		{"/ui", "/ui/", nil},
		{"/ui/{proxy+}", "/ui/a/b.js", map[string]string{"proxy": "a/b.js"}},
		{"/ui/{proxy+}", "/ui/", nil},
		{"/admin/{proxy+}", "/admin/nodes/n1/state", map[string]string{"proxy": "nodes/n1/state"}},
		{DefaultRoute, "/anything", nil},
	} {
		got, ok := matchPattern(tc.pattern, tc.path)
		if ok != (tc.want != nil) || fmt.Sprint(got) != fmt.Sprint(tc.want) && tc.want != nil {
			t.Errorf("matchPattern(%q, %q) = %v, %v; want %v", tc.pattern, tc.path, got, ok, tc.want)
		}
	}
}

// TestTemplateCors: with CorsAllowOrigins set, the HTTP API's CORS
// configuration lets a browser send and read every header the data API uses,
// with the methods the /kv routes take; without it there is none.
func TestTemplateCors(t *testing.T) {
	_, root := loadTemplateRoutes(t)
	api := child(child(child(root, "Resources"), "HttpApi"), "Properties")
	cors := child(api, "CorsConfiguration")
	if cors == nil || cors.Tag != "!If" || len(cors.Content) != 3 || cors.Content[0].Value != "CorsEnabled" ||
		cors.Content[2].Tag != "!Ref" || cors.Content[2].Value != "AWS::NoValue" {
		t.Fatalf("HttpApi CorsConfiguration must be !If [CorsEnabled, {...}, !Ref AWS::NoValue]")
	}
	cfg := cors.Content[1]
	lower := func(n *cfnNode) []string {
		var out []string
		for _, c := range n.Content {
			out = append(out, strings.ToLower(c.Value))
		}
		return out
	}
	if o := child(cfg, "AllowOrigins"); o == nil || o.Tag != "!Ref" || o.Value != "CorsAllowOrigins" {
		t.Errorf("AllowOrigins must be !Ref CorsAllowOrigins")
	}
	allow, expose := lower(child(cfg, "AllowHeaders")), lower(child(cfg, "ExposeHeaders"))
	for _, h := range []string{"authorization", "content-type", "if-match", "if-none-match", strings.ToLower(ContextHeader)} {
		if !slices.Contains(allow, h) {
			t.Errorf("AllowHeaders lacks %s: %v", h, allow)
		}
	}
	for _, h := range []string{"etag", strings.ToLower(ContextHeader), strings.ToLower(SiblingHeader)} {
		if !slices.Contains(expose, h) {
			t.Errorf("ExposeHeaders lacks %s: %v", h, expose)
		}
	}
	var kvMethods []string
	for _, r := range Routes() {
		if r.Pattern == "/kv/{key}" && r.Method != http.MethodOptions {
			kvMethods = append(kvMethods, r.Method)
		}
	}
	methods := child(cfg, "AllowMethods")
	var got []string
	for _, c := range methods.Content {
		got = append(got, c.Value)
	}
	slices.Sort(got)
	slices.Sort(kvMethods)
	if !slices.Equal(got, kvMethods) {
		t.Errorf("AllowMethods %v, the /kv routes take %v", got, kvMethods)
	}
}
