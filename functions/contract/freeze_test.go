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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sivchari/kumo"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/core/vclock"
	"github.com/cartwheel/cartwheel/functions/httpapi"
)

// Settings of the freeze test. The slow replica's latency only has to be far
// longer than the moment between the runtime posting a response and asking
// for its next event (microseconds), and the test bound shorter than a
// freeze the test can afford.
const (
	slowMs          = 1000             // the third replica's injected latency
	suspendSlowMs   = 600              // the same in the suspension cases
	testBound       = time.Second      // CARTWHEEL_SUSPEND_BOUND in the suspension cases
	freezeTimeout   = 20 * time.Second // one invocation or one wait for idle
	handOffLogLine  = "suspended background operation handed to hinted handoff"
	latencySamples  = 5                     // warm invocations per mode in the latency case
	extensionEnvVar = "CARTWHEEL_EXTENSION" // the switch the defect cases turn off
)

// TestFreeze runs the api bootstrap under a fake Lambda service that freezes
// the process (SIGSTOP) at the moment Lambda may: once the response is in and
// the runtime and every registered extension have asked for their next event.
//
//   - extension: a put whose third replica write is slow answers at W=2; the
//     internal extension holds the freeze until that write is done, so all N
//     replicas hold the version while the process is frozen.
//   - budget ends: with a budget shorter than the slow write, the work left is
//     handed to hinted handoff before the freeze; delivering the queue
//     completes all N replicas.
//   - no extension: the same put, with the extension disabled, leaves fewer
//     than N replicas when the process freezes (the defect, shown).
//   - suspended: with the extension disabled, the process is frozen with the
//     slow write in flight for longer than the suspension bound while the key
//     is deleted and reaped; after SIGCONT the key stays deleted (the write is
//     refused and handed to hinted handoff, whose delivery finds nothing).
//   - suspended, unbounded: the same with an unbounded suspension bound
//     brings the key back (the defect, shown).
//   - latency: response latency with and without the extension, and how long
//     the environment stays billed after the response (logged).
func TestFreeze(t *testing.T) {
	findRIE(t) // same prerequisites and skip switch as the contract test
	bin := buildAPI(t)
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	env := provision(t, srv.URL)
	if _, err := env.app.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Run("extension", func(t *testing.T) {
		key, slow := env.slowKey(t, "ext", slowMs)
		fn := startBootstrap(t, bin, env, map[string]string{extensionEnvVar: "true"})
		if fn.lambda.extensions() != 1 {
			t.Fatalf("%d extensions registered, want 1", fn.lambda.extensions())
		}
		times, idle := fn.putAndFreeze(t, key, "v1")
		held := env.replicas(t, key, "v1")
		t.Logf("extension: response %.1f ms after the event; frozen %.1f ms after the response (slow replica %s, %d ms)",
			ms(times.response.Sub(times.sent)), ms(idle.Sub(times.response)), slow, slowMs)
		if len(held) != clusterN {
			t.Fatalf("frozen with %d replicas of %q (%v), want all %d", len(held), key, held, clusterN)
		}
	})

	t.Run("budget ends", func(t *testing.T) {
		key, slow := env.slowKey(t, "budget", slowMs)
		drainQueue(t, env)
		fn := startBootstrap(t, bin, env, map[string]string{extensionEnvVar: "true", "CARTWHEEL_POST_RESPONSE_BUDGET": "100ms"})
		fn.putAndFreeze(t, key, "v1")
		if held := env.replicas(t, key, "v1"); len(held) >= clusterN || slices.Contains(held, slow) {
			t.Fatalf("frozen with replicas %v: the slow write should outlast the 100 ms budget", held)
		}
		// The work left was handed to hinted handoff before the freeze:
		// delivering the queue (as the handoff function does) completes it.
		res, err := env.app.Coord.DrainHints(context.Background(), 0)
		if err != nil || res.Delivered != clusterN*(clusterN-1) || res.Failed != 0 {
			t.Fatalf("drain hints: %+v, %v; want the %d hand-off hints delivered", res, err, clusterN*(clusterN-1))
		}
		if held := env.replicas(t, key, "v1"); len(held) != clusterN {
			t.Fatalf("after the hand-off, replicas %v, want all %d", held, clusterN)
		}
	})

	t.Run("no extension (the defect)", func(t *testing.T) {
		key, slow := env.slowKey(t, "noext", slowMs)
		fn := startBootstrap(t, bin, env, map[string]string{extensionEnvVar: "false"})
		if fn.lambda.extensions() != 0 {
			t.Fatalf("%d extensions registered with the extension off", fn.lambda.extensions())
		}
		times, idle := fn.putAndFreeze(t, key, "v1")
		held := env.replicas(t, key, "v1")
		t.Logf("no extension: response %.1f ms after the event; frozen %.1f ms after the response; replicas %v",
			ms(times.response.Sub(times.sent)), ms(idle.Sub(times.response)), held)
		if len(held) >= clusterN || slices.Contains(held, slow) {
			t.Fatalf("frozen with replicas %v: the slow replica %s's write should still be in flight", held, slow)
		}
	})

	for _, tc := range []struct {
		name      string
		bound     string
		resurrect bool
	}{
		{"suspended", testBound.String(), false},
		{"suspended, unbounded (the defect)", "1000h", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, slow := env.slowKey(t, "susp", suspendSlowMs)
			fn := startBootstrap(t, bin, env, map[string]string{extensionEnvVar: "false", "CARTWHEEL_SUSPEND_BOUND": tc.bound})
			times, _ := fn.putAndFreeze(t, key, "old")
			env.deleteAndReap(t, key)
			if got := env.holdings(t, key); len(got) != 0 {
				t.Fatalf("after delete and reap, %q still held: %v", key, got)
			}
			// Stay frozen past the bound (a wait, not an assertion).
			time.Sleep(time.Until(times.sent.Add(testBound + 300*time.Millisecond)))
			fn.signal(t, syscall.SIGCONT)
			if tc.resurrect {
				if !waitFor(func() bool { return slices.Contains(env.holdings(t, key), slow+":data") }) {
					t.Fatalf("control: without the bound the thawed write should re-create %q on %s", key, slow)
				}
				return
			}
			if !waitFor(func() bool { return strings.Contains(fn.out.String(), handOffLogLine) }) {
				t.Fatalf("the thawed write was not refused and handed off; bootstrap output:\n%s", fn.out.String())
			}
			// The hand-off: one hint per ordered pair of the key's owners.
			if !waitFor(func() bool {
				st, err := env.app.Hints.Stats(context.Background())
				return err == nil && st.Visible+st.InFlight >= clusterN*(clusterN-1)
			}) {
				t.Fatal("the hand-off hints did not reach the queue")
			}
			res, err := env.app.Coord.DrainHints(context.Background(), 0)
			if err != nil || res.Failed != 0 || res.Poison != 0 {
				t.Fatalf("drain hints: %+v, %v", res, err)
			}
			if got := env.holdings(t, key); len(got) != 0 {
				t.Fatalf("a deleted and reaped key came back after the thaw: %v", got)
			}
			if strings.Contains(fn.out.String(), `"level":"ERROR"`) {
				t.Fatalf("the bootstrap logged an error:\n%s", fn.out.String())
			}
		})
	}

	t.Run("latency", func(t *testing.T) {
		samples, slowNode := envInt(t, envFreezeSamples, latencySamples), envInt(t, envFreezeSlowMs, 0)
		env.clearFaults(t)
		if slowNode > 0 {
			env.saveFaults(t, map[string]kv.FaultMode{"n1": {Kind: "slow", LatencyMs: slowNode}})
		}
		for _, on := range []string{"true", "false"} {
			fn := startBootstrap(t, bin, env, map[string]string{extensionEnvVar: on})
			var resp, billed []time.Duration
			for i := range samples + 1 {
				key := fmt.Sprintf("latency-%s-%d", on, i)
				res, times, err := fn.lambda.invoke(mustJSON(t, apiEvent(t, "PUT", "/kv/"+key, []byte("v"), nil)), freezeTimeout, nil)
				if err != nil {
					t.Fatal(err)
				}
				checkStatus(t, res.body, http.StatusNoContent)
				idle, err := fn.lambda.waitIdle(freezeTimeout)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					continue // cold
				}
				resp = append(resp, times.response.Sub(times.sent))
				billed = append(billed, idle.Sub(times.response))
			}
			t.Logf("extension=%s, node n1 slowed by %d ms: %d warm PUTs: response median %.2f ms, p90 %.2f ms; environment billed after the response median %.2f ms, p90 %.2f ms, max %.2f ms",
				on, slowNode, samples, median(resp), quantile(resp, 0.9), median(billed), quantile(billed, 0.9), quantile(billed, 1))
		}
	})
}

// Environment variables of the latency case (longer runs for the report).
const (
	envFreezeSamples = "CARTWHEEL_FREEZE_SAMPLES" // warm PUTs per mode (default 5)
	envFreezeSlowMs  = "CARTWHEEL_FREEZE_SLOW_MS" // latency injected on node n1 (default 0: none)
)

// envInt reads a non-negative integer setting.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// quantile returns the q-quantile of ds in milliseconds (nearest rank).
func quantile(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return ms(s[min(max(i, 0), len(s)-1)])
}

// drainQueue empties the hint queue (hints other cases left).
func drainQueue(t *testing.T, env *contractEnv) {
	t.Helper()
	if _, err := env.app.Coord.DrainHints(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

// clusterN is the replication factor of the provisioned cluster.
const clusterN = 3

// waitFor polls cond, bounded by freezeTimeout.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(freezeTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

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
