package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCLI runs one command line against base and returns its exit code, standard
// output and standard error.
func runCLI(base, stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"--url", base}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCLIRoughEdges: the newcomer's rough edges of issue 25, each as the
// command line that showed it: keys "." and ".." (and others URL cleaning
// or a ServeMux would rewrite) round-trip; deleting a key that never
// existed is "not found" (3) naming the key; a quorum value the server
// refuses is a usage error (2); an unknown completion shell is a usage
// error.
func TestCLIRoughEdges(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	base := startServer(t, "")
	for _, key := range []string{".", "..", "...", "a/../b", "%2E%2E", "./x", " ", "\u00e9t\u00e9"} {
		if code, _, errs := runCLI(base, "v:"+key, "put", key, "--content-type", "text/plain"); code != exitOK {
			t.Errorf("put %q: exit %d: %s", key, code, errs)
			continue
		}
		if code, out, errs := runCLI(base, "", "get", key); code != exitOK || out != "v:"+key {
			t.Errorf("get %q: exit %d, %q %s; want %q", key, code, out, errs, "v:"+key)
		}
		if code, _, errs := runCLI(base, "", "del", key); code != exitOK {
			t.Errorf("del %q: exit %d: %s", key, code, errs)
		}
		if code, _, errs := runCLI(base, "", "get", key); code != exitNotFound || !strings.Contains(errs, `"`+key+`"`) {
			t.Errorf("get %q after del: exit %d, %s; want %d naming the key", key, code, errs, exitNotFound)
		}
	}
	for _, c := range []struct {
		name string
		code int
		args []string
		says string
	}{
		{"del of a key that never existed", exitNotFound, []string{"--no-cache", "del", "never-was"}, `"never-was"`},
		{"get of a key that never existed", exitNotFound, []string{"get", "never-was"}, `"never-was"`},
		{"a quorum over N", exitUsage, []string{"get", "k", "--r", "4"}, "r=4"},
		{"a primary quorum over N", exitUsage, []string{"put", "k", "--pw", "4"}, "pw=4"},
		{"an unknown completion shell", exitUsage, []string{"completion", "tcsh"}, "tcsh"},
	} {
		code, _, errs := runCLI(base, "v", c.args...)
		if code != c.code || !strings.Contains(errs, c.says) {
			t.Errorf("%s: cartwheel %s: exit %d, stderr %q; want %d saying %s", c.name, strings.Join(c.args, " "), code, errs, c.code, c.says)
		}
	}
}
