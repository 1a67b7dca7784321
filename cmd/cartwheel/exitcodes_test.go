package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// readmeExitCodes parses the README's table of exit codes: code -> meaning.
func readmeExitCodes(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "- **Exit codes.**")
	if !ok {
		t.Fatal("README: no **Exit codes.** item")
	}
	row := regexp.MustCompile(`(?m)^\s*\| (\d+) \| (.+?) \|\s*$`)
	out := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(after, -1) {
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		t.Fatal("README: the exit-code table has no rows")
	}
	return out
}

// TestExitCodes runs one command line for each case the README's exit-code
// table documents, against a real server, and checks the code; every code of
// the table is exercised, and no case answers a code the table lacks.
func TestExitCodes(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	base := startServer(t, "") // the embedded store, 5 nodes, N=3 R=2 W=2
	table := readmeExitCodes(t)

	// A proxy that acknowledges every third put without storing it: the
	// check must find those writes lost.
	target, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var puts atomic.Int64
	lossy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/kv/") && puts.Add(1)%3 == 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer lossy.Close()

	type tc struct {
		name  string
		code  int
		base  string // default: the server
		stdin string
		args  []string
	}
	cases := []tc{
		{"put", exitOK, "", "v1", []string{"put", "ex-a", "--content-type", "text/plain"}},
		{"get", exitOK, "", "", []string{"get", "ex-a"}},
		{"admin command", exitOK, "", "", []string{"nodes"}},
		{"refused connection", exitError, "http://127.0.0.1:1", "", []string{"get", "ex-a"}},
		{"unknown command", exitUsage, "", "", []string{"bogus"}},
		{"missing argument", exitUsage, "", "", []string{"get"}},
		{"unknown flag", exitUsage, "", "", []string{"get", "ex-a", "--bogus"}},
		{"bad fault", exitUsage, "", "", []string{"fault", "n1", "explode"}},
		{"URL without scheme", exitUsage, "127.0.0.1:8080", "", []string{"get", "ex-a"}},
		{"missing key", exitNotFound, "", "", []string{"get", "ex-missing"}},
		{"unknown node: remove", exitNotFound, "", "", []string{"node", "remove", "nosuch"}},
		{"unknown node: fault", exitNotFound, "", "", []string{"fault", "nosuch", "down"}},
		{"unknown node: state", exitNotFound, "", "", []string{"node", "state", "nosuch", "down"}},
		{"node forget without --yes", exitUsage, "", "", []string{"node", "forget", "n1"}},
		{"nothing to forget", exitNotFound, "", "", []string{"node", "forget", "nosuch", "--yes"}},
		{"node forget of a member", exitRejected, "", "", []string{"node", "forget", "n1", "--yes"}},
		{"blind put", exitOK, "", "v2", []string{"--no-cache", "put", "ex-a", "--blind"}},
		{"siblings", exitSiblings, "", "", []string{"get", "ex-a", "--r", "all"}},
		{"siblings --json", exitSiblings, "", "", []string{"get", "ex-a", "--json", "--r", "all"}},
		{"too long a key", exitRejected, "", "", []string{"get", strings.Repeat("k", 2000)}},
		{"bad quorum", exitUsage, "", "", []string{"get", "ex-a", "--r", "9"}}, // the server refuses the flag's value: usage
		{"412", exitRejected, "", "again", []string{"put", "ex-a", "--if-none-match"}},
		{"down 1", exitOK, "", "", []string{"fault", "n1", "down"}},
		{"down 2", exitOK, "", "", []string{"fault", "n2", "down"}},
		{"down 3", exitOK, "", "", []string{"fault", "n3", "down"}},
		// Only n4 and n5 are up: every key has a down primary.
		{"quorum unavailable", exitUnavailable, "", "", []string{"get", "ex-a", "--pr", "all"}},
		{"up 1", exitOK, "", "", []string{"fault", "n1", "clear"}},
		{"up 2", exitOK, "", "", []string{"fault", "n2", "clear"}},
		{"up 3", exitOK, "", "", []string{"fault", "n3", "clear"}},
		{"check passes", exitOK, "", "", []string{"check", "--nemesis=false", "--clients", "1", "--keys", "1", "--ops", "6", "--duration", "0", "--settle", "5s"}},
		{"check finds lost writes", exitLost, lossy.URL, "", []string{"check", "--nemesis=false", "--clients", "1", "--keys", "1", "--ops", "6", "--duration", "0", "--settle", "1s"}},
		{"check: unknown region", exitUsage, "", "", []string{"check", "--region-cut", "nope", "--duration", "1s"}},
	}
	// What the usage and connection errors say.
	messages := map[string][]string{
		"URL without scheme":    {`must be an http:// or https:// URL`, `e.g. --url http://127.0.0.1:8080`},
		"refused connection":    {`http://127.0.0.1:1/kv/ex-a`, "make run"},
		"check refused":         {`http://127.0.0.1:1`, "make run"},
		"check: unknown region": {`--region-cut "nope"`, "zones: a, b, c"},
	}
	cases = append(cases, tc{"check refused", exitError, "http://127.0.0.1:1", "", []string{"check", "--duration", "1s"}})
	seen := map[int]bool{}
	for _, c := range cases {
		u := c.base
		if u == "" {
			u = base
		}
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"--url", u}, c.args...), strings.NewReader(c.stdin), &out, &errb)
		if code != c.code {
			t.Errorf("%s: cartwheel %s: exit %d, want %d\nstdout: %.300s\nstderr: %.300s", c.name, strings.Join(c.args, " "), code, c.code, out.String(), errb.String())
		}
		for _, m := range messages[c.name] {
			if !strings.Contains(errb.String(), m) {
				t.Errorf("%s: stderr %q does not say %q", c.name, errb.String(), m)
			}
		}
		seen[c.code] = true
		if _, ok := table[strconv.Itoa(c.code)]; !ok {
			t.Errorf("%s: exit code %d is not in the README's table", c.name, c.code)
		}
	}
	for code := range table {
		if n, _ := strconv.Atoi(code); !seen[n] {
			t.Errorf("the README documents exit code %s (%s) but no case here exercises it", code, table[code])
		}
	}
}

// TestReadmeListsEveryCommand compares the commands of the README's CLI
// section with those --help lists (and each command's subcommands).
func TestReadmeListsEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## CLI\n")
	if !ok {
		t.Fatal("README: no ## CLI section")
	}
	_, block, _ := strings.Cut(section, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	readme := map[string]bool{}    // top-level commands
	readmeSub := map[string]bool{} // "node add", ...
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "#")
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cartwheel ")
		if !ok {
			continue
		}
		for _, seg := range strings.Split(rest, " | ") {
			f := strings.Fields(seg)
			if len(f) == 0 || strings.HasPrefix(f[0], "-") {
				continue
			}
			readme[f[0]] = true
			if len(f) > 1 {
				for _, sub := range strings.Split(f[1], "|") {
					readmeSub[f[0]+" "+sub] = true
				}
			}
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, strings.NewReader(""), &out, io.Discard); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	help := helpCommands(out.String())
	if len(help) < 10 {
		t.Fatalf("--help lists only %v", help)
	}
	var helpList []string
	for _, c := range help {
		if c == "help" { // cobra's own
			continue
		}
		helpList = append(helpList, c)
		if !readme[c] {
			t.Errorf("--help lists %q; the README's CLI section does not", c)
		}
		var sub bytes.Buffer
		run(context.Background(), []string{c, "--help"}, strings.NewReader(""), &sub, io.Discard)
		for _, s := range helpCommands(sub.String()) {
			if s != "help" && !readmeSub[c+" "+s] {
				t.Errorf("cartwheel %s --help lists %q; the README's CLI section has no `%s %s`", c, s, c, s)
			}
		}
	}
	var readmeList []string
	for c := range readme {
		readmeList = append(readmeList, c)
		if !slices.Contains(helpList, c) {
			t.Errorf("the README's CLI section lists %q; --help does not", c)
		}
	}
	sort.Strings(readmeList)
	t.Logf("commands: %v", readmeList)
}

// helpCommands returns the names under "Available Commands:" of a --help text.
func helpCommands(help string) []string {
	_, rest, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		out = append(out, strings.Fields(line)[0])
	}
	return out
}
