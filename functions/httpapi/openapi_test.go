package httpapi

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cartwheel/cartwheel/client"
)

// loadOpenAPI loads and validates the embedded document with kin-openapi.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// tableOperations is every operation the route tables serve, as "METHOD
// /path" in OpenAPI syntax: routeTable's routes, ANY /admin/{proxy+} as each
// route of adminRoutes, API Gateway's {name+} and the admin table's
// {name...} as {name} (the dashboard's {proxy+} as {path}).
func tableOperations() []string {
	var out []string
	for _, r := range routeTable {
		switch {
		case r.Pattern == DefaultRoute:
		case r.Pattern == "/admin/{proxy+}":
			for _, a := range adminRoutes {
				out = append(out, a.method+" /admin/"+strings.ReplaceAll(a.pattern, "...}", "}"))
			}
		default:
			out = append(out, r.Method+" "+strings.ReplaceAll(r.Pattern, "{proxy+}", "{path}"))
		}
	}
	sort.Strings(out)
	return out
}

// clientErrorCodes parses the client package's Code* constants, in every
// file of the package: the error codes of the API's format.
func clientErrorCodes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../client/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var decls []ast.Decl
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		decls = append(decls, f.Decls...)
	}
	var codes []string
	for _, d := range decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			for i, n := range v.Names {
				if strings.HasPrefix(n.Name, "Code") && i < len(v.Values) {
					if lit, ok := v.Values[i].(*ast.BasicLit); ok {
						c, _ := strconv.Unquote(lit.Value)
						codes = append(codes, c)
					}
				}
			}
		}
	}
	if len(codes) < 10 {
		t.Fatalf("parsed only %d error codes from the client package", len(codes))
	}
	sort.Strings(codes)
	return codes
}

// opParams is an operation's parameters (its path item's and its own) of
// one location ("query", "header", "path"), sorted.
func opParams(item *openapi3.PathItem, op *openapi3.Operation, in string) []string {
	var out []string
	for _, ps := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, p := range ps {
			if p.Value.In == in {
				out = append(out, http.CanonicalHeaderKey(p.Value.Name))
				if in != "header" {
					out[len(out)-1] = p.Value.Name
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIMatchesRoutes keeps openapi.json equal to the route tables:
// the same operations (routes and methods), each /kv operation's query
// parameters exactly those kvOptions accepts, the headers the handler
// reads, and the error codes exactly the client package's.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	sort.Strings(ops)
	if want := tableOperations(); !slices.Equal(ops, want) {
		for _, o := range want {
			if !slices.Contains(ops, o) {
				t.Errorf("route %s is served but not in openapi.json", o)
			}
		}
		for _, o := range ops {
			if !slices.Contains(want, o) {
				t.Errorf("openapi.json has %s, which no route serves", o)
			}
		}
	}

	// The keyed data routes: the query parameters each method accepts (the
	// handler's own tables) and the headers it reads.
	for _, r := range []struct {
		path    string
		params  map[string][]string
		headers map[string][]string
	}{
		{"/kv/{key}", kvParams, map[string][]string{ // what kvOptions and the handlers read
			http.MethodGet:    {"Accept", "If-None-Match"},
			http.MethodHead:   {"Accept", "If-None-Match"},
			http.MethodPut:    {"Content-Type", "If-Match", "If-None-Match", client.ContextHeader},
			http.MethodPost:   {"Content-Type", "If-Match", "If-None-Match", client.ContextHeader},
			http.MethodDelete: {"If-Match", client.ContextHeader},
		}},
		{"/crdt/{key}", crdtParams, nil}, // the operation carries its context
	} {
		item := doc.Paths.Value(r.path)
		if item == nil {
			t.Fatalf("openapi.json has no %s", r.path)
		}
		for method, params := range r.params {
			op := item.GetOperation(method)
			if op == nil {
				t.Errorf("openapi.json: no %s %s", method, r.path)
				continue
			}
			want := slices.Clone(params)
			sort.Strings(want)
			if got := opParams(item, op, "query"); !slices.Equal(got, want) {
				t.Errorf("%s %s: openapi.json's query parameters %v, the handler accepts %v", method, r.path, got, want)
			}
			want = nil
			for _, h := range r.headers[method] {
				want = append(want, http.CanonicalHeaderKey(h))
			}
			sort.Strings(want)
			if got := opParams(item, op, "header"); !slices.Equal(got, want) {
				t.Errorf("%s %s: openapi.json's headers %v, the handler reads %v", method, r.path, got, want)
			}
			if got := opParams(item, op, "path"); !slices.Equal(got, []string{"key"}) {
				t.Errorf("%s %s: path parameters %v", method, r.path, got)
			}
		}
	}

	errSchema := doc.Components.Schemas["Error"]
	if errSchema == nil || errSchema.Value.Properties["error"] == nil {
		t.Fatal("openapi.json has no Error schema with an error property")
	}
	var enum []string
	for _, v := range errSchema.Value.Properties["error"].Value.Enum {
		enum = append(enum, v.(string))
	}
	sort.Strings(enum)
	if want := clientErrorCodes(t); !slices.Equal(enum, want) {
		t.Errorf("openapi.json's error codes %v\nthe client package's     %v", enum, want)
	}
}
