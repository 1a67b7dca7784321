package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sivchari/kumo"
)

// Endpoint kinds accepted by Config.Endpoints (besides an http(s) URL of an
// endpoint that is already running: LocalStack, a moto_server, or real AWS).
const (
	EndpointKumo        = "kumo"          // in-process kumo server (S3, SQS, DynamoDB)
	EndpointMoto        = "moto"          // one moto_server for every node
	EndpointMotoPerNode = "moto-per-node" // one moto_server per storage node
)

// endpointEnv is a running set of AWS endpoints for one benchmark run.
type endpointEnv struct {
	name  string   // the Config.Endpoints entry
	desc  string   // human description
	main  string   // SQS, DynamoDB, and S3 for nodes without their own
	nodes []string // per node S3 endpoint ("" = main)
	stop  func()
}

// ErrNoMoto reports that moto_server is not installed.
var ErrNoMoto = errors.New("moto_server not found on PATH")

// startEndpoints starts what spec names for a cluster of nodes storage nodes.
// logw receives progress lines; the servers' own output goes to files in dir.
func startEndpoints(ctx context.Context, spec string, nodes int, motoBin, dir string, logw io.Writer) (*endpointEnv, error) {
	env := &endpointEnv{name: spec, nodes: make([]string, nodes), stop: func() {}}
	switch {
	case spec == EndpointKumo:
		srv := kumo.NewServer()
		env.main, env.desc = srv.URL, "kumo (in-process)"
		env.stop = srv.Close
		return env, nil
	case spec == EndpointMoto || spec == EndpointMotoPerNode:
		count := 1
		if spec == EndpointMotoPerNode {
			count = nodes
		}
		var started []*motoServer
		stopAll := func() {
			for _, m := range started {
				m.stop()
			}
		}
		for i := range count {
			m, err := startMoto(ctx, motoBin, filepath.Join(dir, fmt.Sprintf("moto-%s-%d.log", spec, i)))
			if err != nil {
				stopAll()
				return nil, err
			}
			started = append(started, m)
			fmt.Fprintf(logw, "  started moto_server pid %d on %s\n", m.cmd.Process.Pid, m.url)
		}
		env.main = started[0].url
		if spec == EndpointMotoPerNode {
			for i := range env.nodes {
				env.nodes[i] = started[i].url
			}
			env.desc = fmt.Sprintf("%d moto_server processes, one per node", count)
		} else {
			env.desc = "one moto_server for all nodes"
		}
		env.stop = stopAll
		return env, nil
	case strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://"):
		env.main, env.desc = spec, "existing endpoint "+spec
		return env, nil
	}
	return nil, fmt.Errorf("unknown endpoint %q: want %s, %s, %s or an http(s) URL", spec, EndpointKumo, EndpointMoto, EndpointMotoPerNode)
}

// motoServer is one moto_server process this benchmark started.
type motoServer struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	log  *os.File
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before moto binds it; startMoto then fails and says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startMoto(ctx context.Context, bin, logPath string) (*motoServer, error) {
	if bin == "" {
		bin = "moto_server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w (%s): install it with pip install 'moto[server]', or choose --endpoints kumo", ErrNoMoto, bin)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("free port: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so stopping it also stops any child the
	// launcher (a pyenv shim, say) left behind, and a Ctrl-C to the benchmark
	// reaches the benchmark first, which then stops it.
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	m := &motoServer{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{}), log: logf}
	go func() {
		_ = cmd.Wait()
		close(m.done)
	}()
	// moto takes about a second to start on an idle machine, much longer on a
	// busy one.
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(m.url + "/moto-api/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.done:
			m.stop()
			tail, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("moto_server on port %d exited during start-up: %s", port, lastLines(string(tail), 5))
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("moto_server on port %d not ready after 90s", port)
		}
	}
}

// stop ends the process group this benchmark started: SIGTERM, then SIGKILL
// after 5 s.
func (m *motoServer) stop() {
	pgid := m.cmd.Process.Pid
	select {
	case <-m.done:
	default:
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-m.done
		}
	}
	m.log.Close()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
