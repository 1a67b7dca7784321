package httpapi

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestTemplateAuditTrailAndHardening (issue 29, findings 5 and 6): the
// template keeps an audit trail and scopes what it grants:
//   - every function has a declared log group, kept LogRetentionDays (default
//     30) days, and the stage writes JSON access logs naming the caller (IAM
//     ARN, JWT sub, source address) to a log group kept as long;
//   - the handoff function has its own role, so SAM attaches no
//     AWSLambdaSQSQueueExecutionRole (every queue of the account), and no
//     statement grants SQS actions beyond the stack's two queues;
//   - the membership table has deletion protection;
//   - AllowedNodeEndpoints reaches the functions as CARTWHEEL_ALLOWED_ENDPOINTS.
func TestTemplateAuditTrailAndHardening(t *testing.T) {
	root := loadTemplate(t)
	res := child(root, "Resources")
	params := child(root, "Parameters")
	if p := child(params, "LogRetentionDays"); p == nil || child(p, "Default").Value != "30" {
		t.Fatal("parameter LogRetentionDays with default 30 is missing")
	}
	retention := func(id string) {
		g := child(res, id)
		if g == nil || child(g, "Type").Value != "AWS::Logs::LogGroup" {
			t.Errorf("log group %s is missing", id)
			return
		}
		r := child(child(g, "Properties"), "RetentionInDays")
		if r == nil || r.Tag != "!Ref" || r.Value != "LogRetentionDays" {
			t.Errorf("%s: RetentionInDays is not !Ref LogRetentionDays", id)
		}
	}
	functions := 0
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if child(r, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		functions++
		retention(id + "LogGroup")
		if n := child(child(child(res, id+"LogGroup"), "Properties"), "LogGroupName"); n == nil || n.Tag != "!Sub" || n.Value != "/aws/lambda/${"+id+"}" {
			t.Errorf("%sLogGroup is not the function's log group /aws/lambda/${%s}", id, id)
		}
		for _, ev := range mapValues(child(child(r, "Properties"), "Events")) {
			if child(ev, "Type").Value == "SQS" {
				if role := child(child(r, "Properties"), "Role"); role == nil || role.Tag != "!GetAtt" {
					t.Errorf("%s has an SQS event and no role of its own: SAM would attach AWSLambdaSQSQueueExecutionRole", id)
				}
			}
		}
	}
	if functions != 4 {
		t.Fatalf("%d functions, want 4", functions)
	}
	retention("ApiAccessLogGroup")
	als := child(child(child(res, "HttpApiStage"), "Properties"), "AccessLogSettings")
	if d := child(als, "DestinationArn"); d == nil || d.Tag != "!GetAtt" || d.Value != "ApiAccessLogGroup.Arn" {
		t.Fatal("the stage's access logs do not go to ApiAccessLogGroup")
	}
	format := child(als, "Format").Value
	var line map[string]string
	if err := json.Unmarshal([]byte(regexp.MustCompile(`\$context\.[A-Za-z.]+`).ReplaceAllString(format, "v")), &line); err != nil {
		t.Fatalf("access log format is not one JSON object: %v\n%s", err, format)
	}
	for _, v := range []string{"$context.identity.userArn", "$context.authorizer.claims.sub", "$context.identity.sourceIp", "$context.routeKey", "$context.status", "$context.requestId"} {
		if !strings.Contains(format, `"`+v+`"`) {
			t.Errorf("access log format lacks %s", v)
		}
	}
	// SQS: only the stack's queues, and no managed policy but basic execution.
	role := child(res, "HandoffFunctionRole")
	for _, m := range child(child(role, "Properties"), "ManagedPolicyArns").Content {
		if !strings.HasSuffix(m.Value, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole") {
			t.Errorf("HandoffFunctionRole has managed policy %q", m.Value)
		}
	}
	walk(res, func(st *cfnNode) {
		acts := child(st, "Action")
		if acts == nil || !strings.Contains(nodeText(acts), "sqs:") {
			return
		}
		r := child(st, "Resource")
		if r == nil || r.Tag != "!GetAtt" || (r.Value != "HintQueue.Arn" && r.Value != "HintDeadLetterQueue.Arn") {
			t.Errorf("a statement grants %s on %s %q, not on the stack's queues", nodeText(acts), r.Tag, nodeText(r))
		}
	})
	if d := child(child(child(res, "MembershipTable"), "Properties"), "DeletionProtectionEnabled"); d == nil || d.Value != "true" {
		t.Error("MembershipTable has no deletion protection")
	}
	env := child(child(child(child(root, "Globals"), "Function"), "Environment"), "Variables")
	if e := child(env, "CARTWHEEL_ALLOWED_ENDPOINTS"); e == nil || !strings.Contains(nodeText(e), "AllowedNodeEndpoints") {
		t.Error("CARTWHEEL_ALLOWED_ENDPOINTS is not set from AllowedNodeEndpoints")
	}
}

// mapValues returns a mapping node's values.
func mapValues(n *cfnNode) []*cfnNode {
	var out []*cfnNode
	if n != nil {
		for i := 1; i < len(n.Content); i += 2 {
			out = append(out, n.Content[i])
		}
	}
	return out
}

// walk calls f on every mapping node below n.
func walk(n *cfnNode, f func(*cfnNode)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		f(n)
	}
	for _, c := range n.Content {
		walk(c, f)
	}
}

// nodeText is every scalar below n, space-separated.
func nodeText(n *cfnNode) string {
	if n == nil {
		return ""
	}
	if len(n.Content) == 0 {
		return n.Value
	}
	var parts []string
	for _, c := range n.Content {
		parts = append(parts, nodeText(c))
	}
	return strings.Join(parts, " ")
}
