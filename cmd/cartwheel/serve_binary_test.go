package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeBinaryPersists runs `make run`'s command as a real process: the
// embedded durable store, a write, Ctrl-C, a restart on the same data
// directory, and the value is still there.
func TestServeBinaryPersists(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "cartwheel")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	start := func() (*exec.Cmd, string) {
		t.Helper()
		cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--nodes", "3", "--health-interval", "0")
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL=") // the embedded endpoint, whatever the caller's environment
		cmd.Stderr = io.Discard
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		deadline := time.After(90 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("serve exited before listening")
				}
				if _, rest, found := strings.Cut(l, "listening on "); found {
					go func() {
						for range lines { // keep the pipe drained
						}
					}()
					return cmd, strings.Fields(rest)[0]
				}
			case <-deadline:
				t.Fatal("serve did not start within 90 s")
			}
		}
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve did not stop cleanly on Ctrl-C: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30 s of Ctrl-C")
		}
	}
	cmd, base := start()
	if r := call(t, "PUT", base+"/kv/kept", []byte("across restarts")); r.status != 204 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	stop(cmd)
	cmd, base = start()
	if r := call(t, "GET", base+"/kv/kept", nil); r.status != 200 || string(r.body) != "across restarts" {
		t.Fatalf("after a restart: %d %q", r.status, r.body)
	}
	stop(cmd)
}
