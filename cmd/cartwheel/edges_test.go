package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
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

// TestServeMalformedRequestsAnswerJSON: what Go's HTTP server refuses before
// any handler runs (an invalid %-escape, a raw space in the path, headers
// over the limit) still answers the documented JSON error body, and a
// well-formed request on the same server is untouched.
func TestServeMalformedRequestsAnswerJSON(t *testing.T) {
	base := startServer(t, "")
	addr := strings.TrimPrefix(base, "http://")
	for _, c := range []struct {
		name, request string
		status        int
		code          string
	}{
		{"invalid escape", "GET /kv/%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request"},
		{"raw space", "GET /kv/a b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request"},
		{"headers over the limit", "GET /kv/a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + strings.Repeat("b", 2<<20) + "\r\n\r\n", 431, "headers_too_large"},
		{"well formed", "GET /kv/never HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 404, "not_found"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.WriteString(conn, c.request) }() // the server may answer before reading it all
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		var e struct{ Error, Message string }
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal(body, &e) != nil || e.Error != c.code || e.Message == "" {
			t.Errorf("%s: %d %q %s; want %d application/json with error %q and a message", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.code)
		}
	}
}

// TestVersionWithoutVCSStamping: a build without a commit (go build with
// -buildvcs=false, no -X main.commit) says why and when it was built rather
// than a bare "commit unknown"; a stamped one shows its short commit.
func TestVersionWithoutVCSStamping(t *testing.T) {
	at := time.Date(2026, 12, 7, 6, 5, 0, 0, time.UTC)
	got := formatVersion("(devel)", "", false, at)
	if !strings.Contains(got, "built without VCS stamping") || !strings.Contains(got, "2026-12-07 06:05:00Z") || !strings.HasPrefix(got, "cartwheel devel (commit ") {
		t.Errorf("unstamped: %q", got)
	}
	if got := formatVersion("v1.2.3", "0123456789abcdef", true, at); !strings.HasPrefix(got, "cartwheel v1.2.3 (commit 0123456789ab+dirty, go") {
		t.Errorf("stamped: %q", got)
	}
}

// TestPlanCommitWaitsForTheSettle: plan commit right after node add waits
// out the plan's settle period (saying so), then transfers and commits,
// as its help says; --no-wait answers at once with the remaining time.
func TestPlanCommitWaitsForTheSettle(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	base := startServerWith(t, "", func(o *serveOptions) { o.planSettle, o.q = 1500*time.Millisecond, 256 })
	if code, out, errs := runCLI(base, "", "node", "add", "n9", "--zone", "c"); code != exitOK {
		t.Fatalf("node add: %d %s %s", code, out, errs)
	}
	code, _, errs := runCLI(base, "", "plan", "commit", "--no-wait")
	if code != exitRejected || !strings.Contains(errs, "settling") || !strings.Contains(errs, " s") {
		t.Errorf("plan commit --no-wait while settling: exit %d, %q; want %d saying how long it settles", code, errs, exitRejected)
	}
	code, out, errs := runCLI(base, "", "plan", "commit")
	if code != exitOK || !strings.Contains(errs, "settling") || !strings.Contains(out, "committed") {
		t.Errorf("plan commit: exit %d\nstdout %s\nstderr %s; want 0, a settle note and the commit", code, out, errs)
	}
	if code, out, _ := runCLI(base, "", "plan"); code != exitOK || !strings.Contains(out, "No ring change pending") {
		t.Errorf("plan after the commit: %d %s", code, out)
	}
}
