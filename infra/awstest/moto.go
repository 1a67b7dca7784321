package awstest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Moto is one moto_server process started by a test: a separate endpoint
// standing in for one region.
type Moto struct {
	// Endpoint is its base URL, http://127.0.0.1:<port>.
	Endpoint string
	cmd      *exec.Cmd
}

// ErrNoMoto means moto_server is not installed.
var ErrNoMoto = errors.New("moto_server not found on PATH")

// StartMoto starts n moto_server processes on free loopback ports (never 4566
// or 8080) and stops them when the test ends (Stop also cuts one off early).
// It skips the test, loudly, when moto_server is missing.
func StartMoto(t testing.TB, n int) []*Moto {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skipf("SKIPPING: %v (needed for the multi-endpoint pass; one moto_server per region)", ErrNoMoto)
	}
	out := make([]*Moto, n)
	for i := range out {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		m := &Moto{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
		if err := m.start(bin, filepath.Join(t.TempDir(), "moto.log")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Stop)
		out[i] = m
	}
	return out
}

func (m *Moto) start(bin, logPath string) error {
	var port string
	if _, p, err := net.SplitHostPort(m.Endpoint[len("http://"):]); err == nil {
		port = p
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("awstest: moto log: %w", err)
	}
	m.cmd = exec.Command(bin, "-H", "127.0.0.1", "-p", port)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("awstest: start moto_server: %w", err)
	}
	for i := 0; i < 200; i++ { // up to ~20 s on a loaded machine
		if r, err := http.Get(m.Endpoint + "/moto-api/"); err == nil {
			r.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.Stop()
	return fmt.Errorf("awstest: moto_server on %s did not answer", m.Endpoint)
}

// Stop kills this moto_server (and its children) and waits for it.
func (m *Moto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.cmd = nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("awstest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
