//go:build linux

package contract

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awstest"
)

// Settings of the freeze test. The slow replica's latency only has to be far
// longer than the moment between the runtime posting a response and asking
// for its next event (microseconds), and the test bound shorter than a
// freeze the test can afford.
const (
	slowMs           = 1000             // the third replica's injected latency
	suspendSlowMs    = 600              // the same in the suspension cases
	testBound        = time.Second      // CARTWHEEL_SUSPEND_BOUND in the suspension cases
	freezeTimeout    = 20 * time.Second // one invocation or one wait for idle
	handOffLogLine   = "suspended background operation handed to hinted handoff"
	lateTokenLogLine = "handler returned after its invocation's wait ended"
	latencySamples   = 5                     // warm invocations per mode in the latency case
	extensionEnvVar  = "CARTWHEEL_EXTENSION" // the switch the defect cases turn off
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
//   - late token: a handler that returns after the extension stopped
//     waiting for it (near its deadline) does not settle the next
//     invocation, whose slow write still finishes before the freeze.
//   - no extension: the same put, with the extension disabled, leaves fewer
//     than N replicas when the process freezes (the defect, shown).
//   - suspended: with the extension disabled, the process is frozen with the
//     slow write in flight for longer than the suspension bound while the key
//     is deleted and reaped; after SIGCONT the key stays deleted (the write is
//     refused and handed to hinted handoff, whose delivery finds nothing).
//   - suspended, unbounded: the same with an unbounded suspension bound
//     brings the key back (the defect, shown).
//   - VM pause: the monotonic clock stops with the guest and only the wall
//     clock moves on (freeze_vm_test.go, in process with injected clocks):
//     the held write is still refused, and bounding the monotonic age only
//     brings the key back (the defect, shown).
//   - latency: response latency with and without the extension, and how long
//     the environment stays billed after the response (logged).
func TestFreeze(t *testing.T) {
	findRIE(t) // same prerequisites and skip switch as the contract test
	bin := buildAPI(t)
	env := provision(t, awstest.KumoEndpoint())
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

	t.Run("late token", func(t *testing.T) {
		key, slow := env.slowKey(t, "late", slowMs)
		fn := startBootstrap(t, bin, env, map[string]string{extensionEnvVar: "true"})
		// The first invocation's deadline is already within the
		// extension's margin, so the extension stops waiting for its
		// handler at once; the handler (a read of all replicas, one of
		// them slow) returns only at the deadline: a late token.
		ev := apiEvent(t, "GET", "/kv/"+key, nil, nil)
		ev.RawQueryString, ev.QueryStringParameters = "r=all", map[string]string{"r": "all"}
		if _, _, err := fn.lambda.invokeBy(mustJSON(t, ev), time.Now().Add(150*time.Millisecond), freezeTimeout, nil); err != nil {
			t.Fatalf("late invocation: %v\n%s", err, fn.out.String())
		}
		if !waitFor(func() bool { return strings.Contains(fn.out.String(), lateTokenLogLine) }) {
			t.Fatalf("the first handler's token was not late; bootstrap output:\n%s", fn.out.String())
		}
		// The next invocation is settled by its own handler's token, so
		// the slow write finishes before the freeze.
		fn.putAndFreeze(t, key, "v1")
		if held := env.replicas(t, key, "v1"); len(held) != clusterN {
			t.Fatalf("frozen with replicas %v after a late token, want all %d (slow replica %s): the put was settled by the earlier invocation's token", held, clusterN, slow)
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

	t.Run("VM pause", func(t *testing.T) { vmPause(t, env) })

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
