package httpapi

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAdminRoutesInReadme: the README's admin table lists exactly the routes
// of adminRoutes (parameter names aside).
func TestAdminRoutesInReadme(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]*\}`)
	norm := func(s string) string { return param.ReplaceAllString(s, "{}") }
	row := regexp.MustCompile("`(GET|POST|PUT|DELETE) /admin/([^` ]*)`")
	var readme []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		for _, m := range row.FindAllStringSubmatch(line, -1) {
			readme = append(readme, m[1]+" "+norm(m[2]))
		}
	}
	var table []string
	for _, r := range adminRoutes {
		table = append(table, r.method+" "+norm(r.pattern))
	}
	slices.Sort(readme)
	slices.Sort(table)
	if !slices.Equal(slices.Compact(readme), table) {
		t.Fatalf("README admin routes %v\nroute table        %v", readme, table)
	}
}

// TestAdminRouteMatch: literal segments, one-segment parameters (never
// empty), and a final rest parameter that may be empty.
func TestAdminRouteMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		args          []string
		ok            bool
	}{
		{"nodes", "nodes", nil, true},
		{"nodes", "nodes/x", nil, false},
		{"nodes/{id}", "nodes/n1", []string{"n1"}, true},
		{"nodes/{id}", "nodes", nil, false},
		{"nodes/{id}/state", "nodes/n1/state", []string{"n1"}, true},
		{"nodes/{id}/state", "nodes//state", nil, false},
		{"preflist/{key...}", "preflist/a%2Fb", []string{"a%2Fb"}, true},
		{"preflist/{key...}", "preflist/a/b", []string{"a/b"}, true},
		{"preflist/{key...}", "preflist", []string{""}, true},
		{"preflist/{key...}", "preflist/a/b/", []string{"a/b/"}, true},
		{"nodes", "/nodes/", nil, true},
		{"plan", "planx", nil, false},
	} {
		args, ok := adminEntry{pattern: c.pattern}.match(c.path)
		if ok != c.ok || (ok && !slices.Equal(args, c.args)) {
			t.Errorf("%q on %q: %v %v, want %v %v", c.pattern, c.path, args, ok, c.args, c.ok)
		}
	}
}
