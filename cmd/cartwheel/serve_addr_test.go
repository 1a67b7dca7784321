package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesANonLoopbackAddress: the local server has no
// authentication, so serve refuses (exit 2, naming the address and
// --allow-remote) to listen beyond loopback, and sets nothing up.
func TestServeRefusesANonLoopbackAddress(t *testing.T) {
	// Cancelled: a serve that wrongly started would stop at once, not hang.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:8080", "example.com:8080"} {
		dir := filepath.Join(t.TempDir(), "data")
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"serve", "--addr", addr, "--endpoint", "", "--data-dir", dir}, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), addr) || !strings.Contains(stderr.String(), "--allow-remote") {
			t.Errorf("serve --addr %s: exit %d, stderr %q; want exit %d naming the address and --allow-remote", addr, code, stderr.String(), exitUsage)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("serve --addr %s set up its store before refusing: %v", addr, err)
		}
	}
}

// TestServeListenAddr: loopback addresses are accepted as they are; any other
// only with --allow-remote.
func TestServeListenAddr(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.2:0", "[::1]:8080", "localhost:8080", "LocalHost:0"} {
		if err := checkListenAddr(addr, false); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", ":0", "[::]:0", "10.0.0.1:80", "myhost:80", "localhost.example.com:80", "127.0.0.1"} {
		if err := checkListenAddr(addr, false); err == nil {
			t.Errorf("%s: accepted without --allow-remote", addr)
		}
	}
	for _, addr := range []string{"0.0.0.0:8080", ":0", "[::]:0", "myhost:80"} {
		if err := checkListenAddr(addr, true); err != nil {
			t.Errorf("%s with --allow-remote: %v", addr, err)
		}
	}
}

// TestServeAllowRemote: with --allow-remote, serve listens on every interface
// and says loudly that it is unauthenticated there.
func TestServeAllowRemote(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", ":0", "--allow-remote", "--data-dir", filepath.Join(t.TempDir(), "data"),
			"--endpoint", "", "--nodes", "3", "--health-interval", "0", "--repair-interval", "0"}, strings.NewReader(""), out, io.Discard)
	}()
	for !strings.Contains(out.String(), "cartwheel listening on") {
		select {
		case code := <-done:
			t.Fatalf("serve --addr :0 --allow-remote: exit %d before listening:\n%s", code, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve --allow-remote: exit %d:\n%s", code, out.String())
	}
	if s := out.String(); !strings.Contains(s, "WARNING") || !strings.Contains(s, "every interface") {
		t.Fatalf("serve --allow-remote on all interfaces gave no loud warning:\n%s", s)
	}
}
