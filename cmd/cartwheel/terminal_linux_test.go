//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the terminal end of a new pseudo-terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here (%v): the terminal branch is untested on this machine", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestPutFromTerminalIsUsage: `put KEY` without a FILE, with standard input a
// terminal, exits 2 with a usage message instead of waiting for input (and
// sends nothing: the URL does not answer).
func TestPutFromTerminalIsUsage(t *testing.T) {
	tty := openPTY(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--url", "http://127.0.0.1:1", "put", "k"}, tty, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "pipe it in") {
		t.Fatalf("put from a terminal: exit %d, stderr %q; want %d and a usage message", code, errb.String(), exitUsage)
	}
}
