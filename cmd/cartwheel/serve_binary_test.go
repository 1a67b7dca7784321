package main

import (
	"os/exec"
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
	data := t.TempDir()
	start := func() (*exec.Cmd, string) {
		t.Helper()
		return startBinary(t, data, "--nodes", "3", "--health-interval", "0")
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
