// Command localbench measures the durable embedded store of `cartwheel serve`
// (issue 15) on the real binary: the server's resident memory after storing
// --bytes of values (default 1 GiB), and how long a restart takes with --keys
// keys (default 100,000), after a clean stop and after kill -9. It prints the
// numbers and asserts nothing. Run it with `make bench-local`.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	bin       string
	dir       string
	bytes     int64
	valueSize int
	keys      int
	clients   int
	nodes     int
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", ".bin/cartwheel", "the cartwheel binary")
	flag.StringVar(&c.dir, "dir", "", "scratch directory for the data (default: a new temporary one, removed at the end)")
	flag.Int64Var(&c.bytes, "bytes", 1<<30, "bytes of values to store for the memory measurement (0: skip)")
	flag.IntVar(&c.valueSize, "value-size", 256<<10, "size of each value in the memory measurement")
	flag.IntVar(&c.keys, "keys", 100_000, "keys stored before the restart measurement (0: skip)")
	flag.IntVar(&c.clients, "clients", 16, "concurrent HTTP clients")
	flag.IntVar(&c.nodes, "nodes", 6, "storage nodes (cartwheel serve --nodes)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "localbench:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.dir == "" {
		d, err := os.MkdirTemp("", "cartwheel-localbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.dir = d
	}
	fmt.Printf("localbench: %s, %d nodes (N=3 R=2 W=2), %d clients, data in %s\n", c.bin, c.nodes, c.clients, c.dir)
	if c.bytes > 0 {
		if err := memory(c); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	if c.keys > 0 {
		if err := restart(c); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	return nil
}

// server is one running `cartwheel serve`.
type server struct {
	cmd  *exec.Cmd
	base string
}

// start runs the binary on data and returns once it listens.
func start(c config, data string) (*server, error) {
	cmd := exec.Command(c.bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", data, "--nodes", strconv.Itoa(c.nodes),
		"--health-interval", "0", "--repair-interval", "0")
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL=")
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return &server{cmd: cmd, base: strings.Fields(rest)[0]}, nil
		}
	}
	_ = cmd.Wait()
	return nil, errors.New("serve exited before listening")
}

func (s *server) stop(sig syscall.Signal) {
	_ = s.cmd.Process.Signal(sig)
	_ = s.cmd.Wait()
}

// procStatus returns fields of /proc/pid/status in kB.
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(l, ":")
		f := strings.Fields(rest)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			out[name] = v
		}
	}
	return out, nil
}

var httpc = &http.Client{Timeout: time.Minute}

func put(base, key string, val []byte) error {
	req, err := http.NewRequest(http.MethodPut, base+"/kv/"+key, bytes.NewReader(val))
	if err != nil {
		return err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("PUT %s: %d %s", key, resp.StatusCode, b)
	}
	return nil
}

// fill writes n keys named prefix-i with values from val(i), from c.clients
// clients, and returns how long it took.
func fill(c config, s *server, prefix string, n int, val func(i int) []byte, progress func(done int)) (time.Duration, error) {
	var next atomic.Int64
	var done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, c.clients)
	began := time.Now()
	for range c.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := put(s.base, fmt.Sprintf("%s-%d", prefix, i), val(i)); err != nil {
					errc <- err
					return
				}
				if d := done.Add(1); progress != nil {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return time.Since(began), <-errc
}

func memory(c config) error {
	data := filepath.Join(c.dir, "memory")
	s, err := start(c, data)
	if err != nil {
		return err
	}
	defer s.stop(syscall.SIGINT)
	n := int((c.bytes + int64(c.valueSize) - 1) / int64(c.valueSize))
	base := bytes.Repeat([]byte("cartwheel"), c.valueSize/9+1)[:c.valueSize]
	var peak atomic.Int64
	var mu sync.Mutex
	sample := func(done int) {
		if done%max(n/20, 1) != 0 {
			return
		}
		st, err := procStatus(s.cmd.Process.Pid)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if st["VmRSS"] > peak.Load() {
			peak.Store(st["VmRSS"])
		}
		fmt.Printf("  %5.1f%% stored: VmRSS %d MB (anon %d MB, file %d MB)\n", 100*float64(done)/float64(n),
			st["VmRSS"]>>10, st["RssAnon"]>>10, st["RssFile"]>>10)
	}
	took, err := fill(c, s, "mem", n, func(i int) []byte {
		v := append([]byte(nil), base...)
		copy(v, fmt.Sprintf("%012d", i)) // distinct values
		return v
	}, sample)
	if err != nil {
		return err
	}
	st, err := procStatus(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	du, _ := dirBytes(data)
	fmt.Printf("memory: stored %d values of %d KiB (%.2f GiB of values, x3 replicas) in %v (%.1f MB/s of values)\n",
		n, c.valueSize>>10, float64(int64(n)*int64(c.valueSize))/(1<<30), took.Round(time.Millisecond),
		float64(int64(n)*int64(c.valueSize))/1e6/took.Seconds())
	fmt.Printf("memory: server RSS after storing: VmRSS %d MB (anon %d MB, file-backed %d MB); peak sampled %d MB; VmHWM %d MB; data on disk %d MB\n",
		st["VmRSS"]>>10, st["RssAnon"]>>10, st["RssFile"]>>10, peak.Load()>>10, st["VmHWM"]>>10, du>>20)
	return nil
}

func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}

// firstAnswer starts the server on data and returns how long until it
// listens and until it answers a read of key with want.
func firstAnswer(c config, data, key, want string) (listen, answer time.Duration, s *server, err error) {
	began := time.Now()
	s, err = start(c, data)
	if err != nil {
		return 0, 0, nil, err
	}
	listen = time.Since(began)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/kv/"+key, nil)
		resp, err := httpc.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(b) == want {
				return listen, time.Since(began), s, nil
			}
			if resp.StatusCode != http.StatusOK {
				return 0, 0, s, fmt.Errorf("GET %s: %d %s", key, resp.StatusCode, b)
			}
		}
		if ctx.Err() != nil {
			return 0, 0, s, ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func restart(c config) error {
	data := filepath.Join(c.dir, "restart")
	s, err := start(c, data)
	if err != nil {
		return err
	}
	val := func(i int) []byte { return []byte(fmt.Sprintf("value %d of the restart benchmark", i)) }
	took, err := fill(c, s, "key", c.keys, val, func(done int) {
		if done%max(c.keys/10, 1) == 0 {
			fmt.Printf("  %d keys stored\n", done)
		}
	})
	if err != nil {
		s.stop(syscall.SIGKILL)
		return err
	}
	fmt.Printf("restart: stored %d keys in %v (%.0f acknowledged puts/s)\n", c.keys, took.Round(time.Millisecond), float64(c.keys)/took.Seconds())
	last := c.keys - 1
	key, want := fmt.Sprintf("key-%d", last), string(val(last))
	for _, how := range []struct {
		name string
		sig  syscall.Signal
	}{{"after Ctrl-C", syscall.SIGINT}, {"after kill -9", syscall.SIGKILL}} {
		s.stop(how.sig)
		var listen, answer time.Duration
		listen, answer, s, err = firstAnswer(c, data, key, want)
		if err != nil {
			if s != nil {
				s.stop(syscall.SIGKILL)
			}
			return err
		}
		fmt.Printf("restart %s with %d keys: listening after %v, first read answered after %v\n",
			how.name, c.keys, listen.Round(time.Millisecond), answer.Round(time.Millisecond))
	}
	du, _ := dirBytes(data)
	fmt.Printf("restart: data on disk %d MB\n", du>>20)
	s.stop(syscall.SIGINT)
	return nil
}
