package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestServeFailsFastOnATakenPort: with the port taken, serve says so and
// sets up nothing (no data directory).
func TestServeFailsFastOnATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	o := serveOptions{addr: ln.Addr().String(), dataDir: dir, nodes: 3, zones: "a,b,c", n: 3, r: 2, w: 2, logOut: io.Discard}
	err = serve(context.Background(), o, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already in use") || !strings.Contains(err.Error(), "--addr") {
		t.Fatalf("serve on a taken port: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("serve set up its store before finding the port taken: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeRequestLogs: the local server logs no line per request unless
// --log-requests is given.
func TestServeRequestLogs(t *testing.T) {
	for _, on := range []bool{false, true} {
		var logs syncBuffer
		base := startServerWith(t, "", func(o *serveOptions) { o.logOut = &logs; o.logRequests = on })
		for i := 0; i < 3; i++ {
			call(t, "GET", base+"/kv/log-test", nil)
		}
		got := strings.Count(logs.String(), `"msg":"request"`)
		if (on && got < 3) || (!on && got != 0) {
			t.Errorf("--log-requests=%v: %d request lines:\n%.500s", on, got, logs.String())
		}
	}
}

// TestServeShortHelp: --help describes serve by its default, the durable
// embedded store, not by an AWS endpoint it needs only with --endpoint.
func TestServeShortHelp(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, strings.NewReader(""), &out, io.Discard); code != exitOK {
		t.Fatalf("--help: exit %d", code)
	}
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "serve" {
			line = l
		}
	}
	if !strings.Contains(line, "embedded store") || strings.Contains(line, "an AWS endpoint") {
		t.Fatalf("--help's serve line %q: want it to name the embedded store, not an AWS endpoint", line)
	}
}
