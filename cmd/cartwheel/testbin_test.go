package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain removes the binary built by testBinary.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// testBinary builds the cartwheel binary once per test run and returns its
// path. CARTWHEEL_TEST_BINARY names a prebuilt one instead (e.g. an older
// version, to show a defect the tests catch).
func testBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CARTWHEEL_TEST_BINARY"); p != "" {
		return p
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "cartwheel-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "cartwheel")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err: err, out: string(out)}
		}
	})
	if binErr != nil {
		t.Fatalf("build: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// startBinary starts `cartwheel serve` on a loopback port with the embedded
// store in dataDir plus args, waits until it listens, and returns the process
// and its base URL. The process is killed at the end of the test if still up.
func startBinary(t *testing.T, dataDir string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	bin := testBinary(t)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL=") // the embedded store, whatever the caller's environment
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
