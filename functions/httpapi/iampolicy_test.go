package httpapi

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// loadTemplate parses template.yaml (short-form tags kept on the nodes).
func loadTemplate(t *testing.T) *cfnNode {
	t.Helper()
	b, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc cfnNode
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return doc.Content[0]
}

// iamStatement is one execute-api statement of a managed policy, with its
// !Sub resources resolved for one stack.
type iamStatement struct {
	effect    string
	resources []string
}

const testAPIArn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3"

// callerPolicy returns the statements of template.yaml's managed policy id.
func callerPolicy(t *testing.T, root *cfnNode, id string) []iamStatement {
	t.Helper()
	r := child(child(root, "Resources"), id)
	if r == nil || child(r, "Type").Value != "AWS::IAM::ManagedPolicy" {
		t.Fatalf("template.yaml has no managed policy %s", id)
	}
	sub := strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", "us-east-1",
		"${AWS::AccountId}", "123456789012", "${HttpApi}", "a1b2c3")
	var out []iamStatement
	for _, st := range child(child(child(r, "Properties"), "PolicyDocument"), "Statement").Content {
		if a := child(st, "Action"); a == nil || a.Value != "execute-api:Invoke" {
			t.Fatalf("%s: a statement's Action is not execute-api:Invoke", id)
		}
		s := iamStatement{effect: child(st, "Effect").Value}
		for _, res := range child(st, "Resource").Content {
			if res.Tag != "!Sub" || strings.Contains(sub.Replace(res.Value), "${") {
				t.Fatalf("%s: resource %s %q is not a !Sub of known names", id, res.Tag, res.Value)
			}
			s.resources = append(s.resources, sub.Replace(res.Value))
		}
		out = append(out, s)
	}
	return out
}

// iamMatch is IAM's ARN pattern match: * any run of characters (slashes
// included), ? one character, the rest literal.
func iamMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if iamMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && iamMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && iamMatch(pattern[1:], s[1:])
}

// allows evaluates a policy as IAM does for one request ARN: an explicit
// Deny wins, else an Allow that matches, else (implicitly) denied.
func allows(policy []iamStatement, arn string) bool {
	allowed := false
	for _, st := range policy {
		for _, r := range st.resources {
			if iamMatch(r, arn) {
				if st.effect == "Deny" {
					return false
				}
				allowed = true
			}
		}
	}
	return allowed
}

// TestCallerPoliciesAgainstTheRouteTable (issue 29, finding 4): the managed
// policies the template offers (outputs DataReaderPolicyArn,
// DataWriterPolicyArn, OperatorPolicyArn) give each kind of caller exactly its
// routes. For every route of the table, with keys and admin paths chosen to
// trip loose patterns (a key named admin or ui, an admin path ending in
// /kv/..., a /kv/../admin path), the data policies never reach an AuthAdmin
// route, even combined with a broad Allow on the whole API (their Deny is
// explicit); the reader gets only GET and HEAD on the key routes, the writer
// every key method; the operator every admin and dashboard route.
func TestCallerPoliciesAgainstTheRouteTable(t *testing.T) {
	root := loadTemplate(t)
	reader, writer, operator := callerPolicy(t, root, "DataReaderPolicy"), callerPolicy(t, root, "DataWriterPolicy"), callerPolicy(t, root, "OperatorPolicy")
	broad := iamStatement{effect: "Allow", resources: []string{testAPIArn + "/*"}} // the README's old advice
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodOptions}
	values := map[string][]string{
		"key":   {"k", "admin", "ui", "kv", "a%2Fb", "admin%2Fnodes", "ui%2Fapp.js", ".."},
		"proxy": {"nodes", "kv/x", "nodes/kv/", "nodes/n1/state", "context-key/rotate", "faults/n1", "app.js", "kv"},
	}
	arn := func(method, path string) string { return testAPIArn + "/$default/" + method + path }
	checked := 0
	for _, r := range Routes() {
		if r.Pattern == DefaultRoute || r.Auth == AuthPreflight {
			continue
		}
		var paths []string
		for _, v := range values[varName(r.Pattern)] {
			paths = append(paths, strings.NewReplacer("{key}", v, "{proxy+}", v).Replace(r.Pattern))
		}
		if varName(r.Pattern) == "" {
			paths = []string{r.Pattern}
		}
		ms := []string{r.Method}
		if r.Method == "ANY" {
			ms = methods
		}
		for _, m := range ms {
			for _, p := range paths {
				a := arn(m, p)
				checked++
				switch r.Auth {
				case AuthAdmin:
					for name, pol := range map[string][]iamStatement{"reader": reader, "writer": writer} {
						if allows(append(pol, broad), a) {
							t.Errorf("%s (with a broad Allow) reaches admin route %s: %s", name, r.Key(), a)
						}
					}
					if !allows(operator, a) {
						t.Errorf("operator cannot reach admin route %s: %s", r.Key(), a)
					}
				case AuthData:
					read := m == http.MethodGet || m == http.MethodHead
					if allows(reader, a) != read {
						t.Errorf("reader on %s: allowed=%v, want %v", a, allows(reader, a), read)
					}
					if !allows(writer, a) {
						t.Errorf("writer cannot reach data route %s: %s", r.Key(), a)
					}
				}
			}
		}
	}
	// Paths that a normalizing gateway could route to /admin or /ui.
	for _, p := range []string{"/kv/../admin/nodes", "/kv/x/../../admin/nodes", "/kv/../ui", "/kv/../ui/app.js", "/kv/k/../../admin/plan"} {
		for _, m := range methods {
			for name, pol := range map[string][]iamStatement{"reader": reader, "writer": writer} {
				if allows(append(pol, broad), arn(m, p)) {
					t.Errorf("%s reaches %s %s", name, m, p)
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d route ARNs checked", checked)
	}
}

// varName is the variable of a route pattern ("key", "proxy"), or "".
func varName(pattern string) string {
	i := strings.Index(pattern, "{")
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSuffix(pattern[i+1:], "}"), "+")
}
