//go:build linux

package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/core/vclock"
	"github.com/cartwheel/cartwheel/functions/httpapi"
)

// Helpers of TestFreeze: the api bootstrap under the fake Lambda service,
// fault injection through membership, and direct reads of the replicas.

// buildAPI builds the api function's bootstrap as sam.mk does.
func buildAPI(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out, "./functions/api")
	cmd := exec.Command("go", args...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// slowKey picks a fresh key, makes its last primary slow by fault injection
// (stored in membership, as the admin API does, so the bootstrap applies it)
// and returns the key and the slow node. The put's coordinating replica is
// the first primary, so the slow write is one the response does not wait for.
func (c *contractEnv) slowKey(t *testing.T, prefix string, latencyMs int) (string, string) {
	t.Helper()
	ctx := context.Background()
	key := fmt.Sprintf("freeze-%s-%d", prefix, rand.Uint32())
	c.app.Coord.Invalidate()
	prefs, _, err := c.app.Coord.PreferenceList(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(prefs) != clusterN || !prefs[clusterN-1].Primary {
		t.Fatalf("preference list of %q: %+v", key, prefs)
	}
	slow := prefs[clusterN-1].Node
	c.saveFaults(t, map[string]kv.FaultMode{slow: {Kind: "slow", LatencyMs: latencyMs}})
	return key, slow
}

// clearFaults removes every injected fault.
func (c *contractEnv) clearFaults(t *testing.T) { c.saveFaults(t, nil) }

func (c *contractEnv) saveFaults(t *testing.T, modes map[string]kv.FaultMode) {
	t.Helper()
	ctx := context.Background()
	cl, err := c.app.Members.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := cl
	for id := range cl.Faults {
		if next, err = membership.SetFault(next, id, kv.FaultMode{}); err != nil {
			t.Fatal(err)
		}
	}
	for id, m := range modes {
		if next, err = membership.SetFault(next, id, m); err != nil {
			t.Fatal(err)
		}
	}
	next.Epoch = cl.Epoch + 1
	if err := c.app.Members.Save(ctx, next, cl.Epoch); err != nil {
		t.Fatal(err)
	}
	c.app.Coord.Invalidate()
}

// replicas returns the nodes whose data object of key holds exactly value.
func (c *contractEnv) replicas(t *testing.T, key, value string) []string {
	t.Helper()
	cl, err := c.app.Members.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range cl.Nodes {
		b, err := c.app.Store.Get(context.Background(), n.Location, kv.DataName(key))
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		o, err := vclock.Decode(b.Data, vclock.DecodeLimits())
		if err != nil {
			t.Fatal(err)
		}
		if live := o.Live(); len(live) == 1 && string(live[0].Value) == value {
			out = append(out, n.ID)
		}
	}
	return out
}

// holdings lists every object of key on every node: "<node>:data" and
// "<node>:hint" (hinted replicas).
func (c *contractEnv) holdings(t *testing.T, key string) []string {
	t.Helper()
	ctx := context.Background()
	cl, err := c.app.Members.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range cl.Nodes {
		_, err := c.app.Store.Get(ctx, n.Location, kv.DataName(key))
		switch {
		case err == nil:
			out = append(out, n.ID+":data")
		case !errors.Is(err, kv.ErrNotFound):
			t.Fatal(err)
		}
		items, _, err := c.app.Store.List(ctx, n.Location, kv.HintKeyPrefix(key), "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for range items {
			out = append(out, n.ID+":hint")
		}
	}
	return out
}

// deleteAndReap deletes key through the test's own coordinator (no faults),
// waits for every replica to hold the tombstone, and reaps it with a clock
// moved past the reap grace period.
func (c *contractEnv) deleteAndReap(t *testing.T, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.app.Coord.Delete(ctx, key, "", coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	c.app.Coord.Wait()
	r, err := repair.New(repair.DefaultConfig(), repair.Deps{
		Store: c.app.Store, Members: c.app.Members, Handoff: c.app.Coord,
		Now:  func() time.Time { return time.Now().Add(2 * repair.DefaultConfig().ReapGrace) },
		Rand: rand.Uint64, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AntiEntropy.Reaped < 1 {
		t.Fatalf("reap: %+v, want %q reaped", rep.AntiEntropy, key)
	}
}

// bootstrapProc is the api bootstrap running under a fake Lambda service.
type bootstrapProc struct {
	lambda *fakeLambda
	cmd    *exec.Cmd
	out    *syncBuffer
}

// startBootstrap starts the bootstrap with env's variables plus extra and
// waits for its initialisation to end (runtime and extensions waiting).
func startBootstrap(t *testing.T, bin string, env *contractEnv, extra map[string]string) *bootstrapProc {
	t.Helper()
	p := &bootstrapProc{lambda: startFakeLambda(t), out: &syncBuffer{}}
	p.cmd = exec.Command(bin)
	p.cmd.Dir = filepath.Dir(bin)
	p.cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + p.lambda.addr,
		"AWS_LAMBDA_FUNCTION_NAME=cartwheel-api",
		"CARTWHEEL_FAULTS=true",
	}, env.vars...)
	for k, v := range extra {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(exitTimeout):
			t.Errorf("bootstrap (pid %d) still running %s after SIGKILL", p.cmd.Process.Pid, exitTimeout)
		}
		if t.Failed() {
			t.Logf("bootstrap output:\n%s", p.out.String())
		}
	})
	if _, err := p.lambda.waitIdle(freezeTimeout); err != nil {
		t.Fatalf("bootstrap init: %v\n%s", err, p.out.String())
	}
	return p
}

// signal sends sig to the bootstrap.
func (p *bootstrapProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// putAndFreeze puts key=value through the API event and freezes the process
// (SIGSTOP) the moment Lambda may; it returns the invocation's times and the
// moment of the freeze.
func (p *bootstrapProc) putAndFreeze(t *testing.T, key, value string) (invokeTimes, time.Time) {
	t.Helper()
	pid := p.cmd.Process.Pid
	freeze := func() {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Errorf("SIGSTOP: %v", err)
		}
	}
	res, times, err := p.lambda.invoke(mustJSON(t, apiEvent(t, "PUT", "/kv/"+key, []byte(value), nil)), freezeTimeout, freeze)
	if err != nil {
		t.Fatalf("put %q: %v\n%s", key, err, p.out.String())
	}
	checkStatus(t, res.body, http.StatusNoContent)
	idle, err := p.lambda.waitIdle(freezeTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return times, idle
}

// checkStatus checks an API response's status code.
func checkStatus(t *testing.T, body []byte, status int) {
	t.Helper()
	var r httpapi.Response
	decode(t, body, &r)
	if r.StatusCode != status {
		t.Fatalf("response %s, want status %d", body, status)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
