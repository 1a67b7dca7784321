//go:build linux

// Package contract tests the four Lambda functions as shipped: each
// function's `bootstrap` is built the way sam.mk builds it (linux, static,
// -tags lambda.norpc, -trimpath, stripped; for the host architecture, where
// the template ships arm64 of the same code) and invoked through AWS's Lambda
// Runtime Interface Emulator (aws-lambda-rie, `make tools-rie`) with real
// event payloads, against an in-process kumo server standing in for S3, SQS
// and DynamoDB.
//
// The event payloads in testdata/ are aws-lambda-go v1.55.1's samples:
// apigw-v2-request-no-authorizer.json and sqs-event.json from its
// events/testdata, and eventbridge-scheduled-event.json, the "Scheduled
// Event" of its events/cloudwatch_events_test.go (the shape EventBridge
// schedules deliver).
//
// Environment:
//
//	CARTWHEEL_RIE         the emulator binary (default: <module>/.bin/aws-lambda-rie)
//	CARTWHEEL_SKIP_RIE=1  skip (loudly) instead of failing when the emulator is missing
//	CARTWHEEL_BENCH_OUT   write the measurements (sizes, cold and warm times) there as JSON
//
// kumo runs inside the test binary, so a -race build of the test slows every
// AWS call the functions make: take measurements without -race.
//
// This file is linux-only: the emulator and the bootstraps are linux programs,
// and stopping them reads /proc. Elsewhere contract_other_test.go skips loudly.
package contract

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/functions/jobs"
	"github.com/cartwheel/cartwheel/functions/lambdaext"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// Environment variables read by the test.
const (
	envRIE      = "CARTWHEEL_RIE"
	envSkipRIE  = "CARTWHEEL_SKIP_RIE"
	envBenchOut = "CARTWHEEL_BENCH_OUT"
)

// moduleRoot is the repository root, relative to this package's directory
// (where go test runs the test).
const moduleRoot = "../.."

// rieVersion is the emulator version rie.mk installs (recorded in the
// measurements; the test runs whatever binary it finds).
const rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// functionNames are the packages under functions/ that ship as Lambda
// functions (sam.mk's LAMBDA_NAMES).
var functionNames = []string{"api", "handoff", "antientropy", "health"}

// Bounds of every wait: the test never waits without a deadline.
const (
	readyTimeout  = 20 * time.Second // emulator listening
	invokeTimeout = 60 * time.Second // one invocation, round trip
	exitTimeout   = 10 * time.Second // a killed process gone
	pollEvery     = 5 * time.Millisecond
	// functionTimeout is AWS_LAMBDA_FUNCTION_TIMEOUT (seconds) for the emulator.
	functionTimeout = "30"
)

// clusterNodes and clusterZones shape the cluster the first function
// bootstraps; they differ from wire.DefaultConfig so the checks prove the
// binaries read CARTWHEEL_NODES and CARTWHEEL_ZONES.
const (
	clusterNodes = 5
	clusterZones = "a,b,c"
)

// Measurement is what the test measures for one function. Times are
// milliseconds on this machine under the emulator, against kumo: useful to
// compare builds, not a prediction of AWS Lambda's numbers.
type Measurement struct {
	Function string `json:"function"`
	// BootstrapBytes is the size of the stripped linux bootstrap.
	BootstrapBytes int64 `json:"bootstrapBytes"`
	// ColdStartMs runs from starting the emulator process to the first
	// successful invocation's response (emulator start, bootstrap start,
	// wire.Lambda, the first event).
	ColdStartMs float64 `json:"coldStartMs"`
	// InitMs is the bootstrap's initialisation (from its start to its first
	// request for an event: wire.Lambda and the runtime client), as the
	// emulator reports it ("INIT REPORT(durationMs: ...)"); -1 if it did not.
	InitMs float64 `json:"initMs"`
	// InitCreatedCluster is true for the function whose start-up saved the
	// cluster (the first one run); the others load it.
	InitCreatedCluster bool `json:"initCreatedCluster"`
	// WarmMs is the median round trip of WarmSamples invocations of
	// WarmEvent in the running process.
	WarmMs      float64   `json:"warmMs"`
	WarmSamples int       `json:"warmSamples"`
	WarmEvent   string    `json:"warmEvent"`
	WarmAllMs   []float64 `json:"warmAllMs"`
}

// benchReport is the file written to CARTWHEEL_BENCH_OUT.
type benchReport struct {
	MeasuredAt string        `json:"measuredAt"`
	GOOS       string        `json:"goos"`
	GOARCH     string        `json:"goarch"`
	NumCPU     int           `json:"numCPU"`
	RIE        string        `json:"rieVersion"`
	Endpoint   string        `json:"endpoint"`
	BuildFlags string        `json:"buildFlags"`
	Functions  []Measurement `json:"functions"`
}

// buildFlags are sam.mk's LAMBDA_GOFLAGS, minus the quoting.
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// TestContract builds the four bootstraps, starts kumo and provisions fresh
// resources, then runs each function under the emulator in turn (antientropy
// first: its start-up creates the cluster; api last: its writes cannot add
// hints to what the others count) and checks the responses to real events.
func TestContract(t *testing.T) {
	rie := findRIE(t)
	bins := buildBootstraps(t)

	env := provision(t, awstest.KumoEndpoint())

	var results []Measurement
	run := func(name string, fn func(t *testing.T, e *emulator) Measurement) {
		t.Run(name, func(t *testing.T) {
			existed := env.clusterExists(t)
			e := startEmulator(t, rie, bins[name], env)
			m := fn(t, e)
			m.Function = name
			m.InitCreatedCluster = !existed
			env.checkCluster(t)
			st, err := os.Stat(bins[name])
			if err != nil {
				t.Fatal(err)
			}
			m.BootstrapBytes = st.Size()
			m.InitMs = e.initDuration(t)
			t.Logf("%s: bootstrap %d bytes; cold start %.1f ms (init %.1f ms); warm %.2f ms (median of %d %s)",
				name, m.BootstrapBytes, m.ColdStartMs, m.InitMs, m.WarmMs, m.WarmSamples, m.WarmEvent)
			results = append(results, m)
		})
	}
	run("antientropy", env.testAntiEntropy)
	run("handoff", env.testHandoff)
	run("health", env.testHealth)
	run("api", env.testAPI)

	if out := os.Getenv(envBenchOut); out != "" {
		if t.Failed() {
			t.Logf("%s=%s: not written, the test failed", envBenchOut, out)
			return
		}
		writeBench(t, out, results)
	}
}

// findRIE returns the emulator's path. A missing emulator fails the test (it
// is a prerequisite of `make test`), unless CARTWHEEL_SKIP_RIE=1.
func findRIE(t *testing.T) string {
	t.Helper()
	path := os.Getenv(envRIE)
	if path == "" {
		p, err := filepath.Abs(filepath.Join(moduleRoot, ".bin", "aws-lambda-rie"))
		if err != nil {
			t.Fatal(err)
		}
		path = p
	}
	st, err := os.Stat(path)
	if err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return path
	}
	msg := fmt.Sprintf("the Lambda Runtime Interface Emulator is not installed at %s (%v): run `make tools-rie`", path, err)
	if os.Getenv(envSkipRIE) == "1" {
		loud := "contract: " + envSkipRIE + "=1: SKIPPING the Lambda contract test: " + msg
		fmt.Fprintln(os.Stderr, "!!!!! "+loud)
		t.Skip(loud)
	}
	t.Fatal(msg + " (or set " + envSkipRIE + "=1 to skip this test)")
	return ""
}

// buildBootstraps builds every function into <tmp>/<name>/bootstrap with
// sam.mk's flags for the host architecture and returns the paths by name.
//
// It runs one `go build` for the four packages (-o into a directory, then
// each binary is moved to <name>/bootstrap): their shared packages compile
// once, and the go command builds and links them in parallel (-p defaults to
// the number of CPUs). The outputs are byte-identical to four separate
// `go build -o <name>/bootstrap ./functions/<name>` runs (checked with cmp on
// 2026-11-27); separate concurrent runs would compile the shared packages
// twice on a cold cache.
func buildBootstraps(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "out") + string(filepath.Separator)
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out)
	for _, name := range functionNames {
		args = append(args, "./functions/"+name)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	t.Logf("built %d bootstraps (linux/%s) in %s", len(functionNames), runtime.GOARCH, time.Since(start).Round(time.Millisecond))
	bins := map[string]string{}
	for _, name := range functionNames {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		bins[name] = filepath.Join(dir, name, "bootstrap")
		if err := os.Rename(filepath.Join(out, name), bins[name]); err != nil {
			t.Fatal(err)
		}
	}
	return bins
}

// contractEnv is the provisioned backend: the environment every function
// gets, and the test's own client of the same resources.
type contractEnv struct {
	vars []string
	app  *wire.App
}

// provision creates uniquely named resources on the endpoint (kumo's state
// is shared by the whole process) and returns the functions' environment.
// tune, if given, changes the test's own configuration (not the functions').
func provision(t *testing.T, endpoint string, tune ...func(*wire.Config)) *contractEnv {
	t.Helper()
	ctx := context.Background()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "cartwheel-contract-" + hex.EncodeToString(b[:])
	cfg := wire.DefaultConfig()
	cfg.AWS = awsconf.Config{Region: "us-east-1", Endpoint: endpoint, AccessKey: awsconf.LocalAccessKey, SecretKey: awsconf.LocalSecretKey}
	cfg.Bucket, cfg.Table = name, name
	cfg.QueueName, cfg.DLQName = name+"-hints", name+"-hints-dlq"
	cfg.Nodes = clusterNodes
	cfg.Zones = strings.Split(clusterZones, ",")
	cfg, err := wire.Provision(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tune {
		f(&cfg)
	}
	app, err := wire.Build(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return &contractEnv{
		app: app,
		vars: []string{
			// The SDK's own variables, as in the SAM template's functions (plus the endpoint).
			"AWS_ENDPOINT_URL=" + endpoint,
			"AWS_REGION=us-east-1",
			"AWS_ACCESS_KEY_ID=test",
			"AWS_SECRET_ACCESS_KEY=test",
			"AWS_EC2_METADATA_DISABLED=true",
			// What wire.FromEnv reads.
			"CARTWHEEL_BUCKET=" + cfg.Bucket,
			"CARTWHEEL_TABLE=" + cfg.Table,
			"CARTWHEEL_QUEUE_URL=" + cfg.QueueURL,
			"CARTWHEEL_DLQ_URL=" + cfg.DLQURL,
			"CARTWHEEL_NODES=" + strconv.Itoa(clusterNodes),
			"CARTWHEEL_ZONES=" + clusterZones,
			// The emulator's settings.
			"AWS_LAMBDA_FUNCTION_TIMEOUT=" + functionTimeout,
		},
	}
}

// clusterExists reports whether membership holds a cluster yet.
func (c *contractEnv) clusterExists(t *testing.T) bool {
	t.Helper()
	_, err := c.app.Members.Load(context.Background())
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// checkCluster checks the cluster the first function's start-up saved: its
// shape comes from CARTWHEEL_NODES and CARTWHEEL_ZONES, which proves the
// binary read its environment.
func (c *contractEnv) checkCluster(t *testing.T) {
	t.Helper()
	cl, err := c.app.Members.Load(context.Background())
	if err != nil {
		t.Fatalf("no cluster after the function's start-up: %v", err)
	}
	zones := map[string]bool{}
	for _, n := range cl.Nodes {
		zones[n.Zone] = true
	}
	if len(cl.Nodes) != clusterNodes || len(zones) != len(strings.Split(clusterZones, ",")) {
		t.Fatalf("cluster has %d nodes in zones %v, want %d in %s", len(cl.Nodes), zones, clusterNodes, clusterZones)
	}
}

// testAntiEntropy queues one hint for a key that has no hinted replica and
// checks that a scheduled run drains it (a delivery with nothing to move),
// then that the queue is empty.
func (c *contractEnv) testAntiEntropy(t *testing.T, e *emulator) Measurement {
	ctx := context.Background()
	if err := c.app.Hints.Enqueue(ctx, kv.Hint{Key: "contract-no-replica", Intended: "n1", Fallback: "n2", Created: time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	ev := scheduledEvent(t)
	var res jobs.RepairResult
	body, cold := e.coldInvoke(t, ev)
	decode(t, body, &res)
	if res.Hints.Delivered != 1 || res.Hints.Failed != 0 || res.Hints.Poison != 0 {
		t.Fatalf("antientropy: %s, want 1 delivered, 0 failed, 0 poison", body)
	}
	warm := e.warm(t, 5, ev, func(body []byte) {
		var again jobs.RepairResult
		decode(t, body, &again)
		if again.Hints != (jobs.RepairResult{}).Hints {
			t.Fatalf("antientropy on a drained queue: %s, want nothing done", body)
		}
	})
	st, err := c.app.Hints.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Visible != 0 || st.InFlight != 0 || st.Dead != 0 {
		t.Fatalf("hint queue after the drain: %+v, want empty", st)
	}
	return Measurement{ColdStartMs: ms(cold), WarmMs: median(warm), WarmSamples: len(warm), WarmEvent: "Scheduled Event (empty queue)", WarmAllMs: msAll(warm)}
}

// testHandoff sends one SQS batch: a valid hint for a key with no hinted
// replica (delivery is a no-op and succeeds) and a poison record. Only the
// poison record may be reported failed, every time.
func (c *contractEnv) testHandoff(t *testing.T, e *emulator) Measurement {
	hint, err := json.Marshal(kv.Hint{Key: "contract-no-replica", Intended: "n1", Fallback: "n2", Created: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	ev := sqsEvent(t, map[string]string{"contract-hint": string(hint), "contract-poison": "{bad"})
	check := func(body []byte) {
		var resp events.SQSEventResponse
		decode(t, body, &resp)
		want := []events.SQSBatchItemFailure{{ItemIdentifier: "contract-poison"}}
		if !slices.Equal(resp.BatchItemFailures, want) {
			t.Fatalf("handoff: %s, want exactly the poison message failed", body)
		}
	}
	body, cold := e.coldInvoke(t, ev)
	check(body)
	warm := e.warm(t, 5, ev, check)
	return Measurement{ColdStartMs: ms(cold), WarmMs: median(warm), WarmSamples: len(warm), WarmEvent: "SQS batch (hint + poison)", WarmAllMs: msAll(warm)}
}

// testHealth runs a scheduled health check: every node is probed, none is
// marked down or revived. The handler pauses a second between its two probes
// by design, so its warm time is about a second and one sample is taken.
func (c *contractEnv) testHealth(t *testing.T, e *emulator) Measurement {
	ev := scheduledEvent(t)
	check := func(body []byte) {
		var res jobs.HealthResult
		decode(t, body, &res)
		if res.Checked != clusterNodes || len(res.Down) != 0 || len(res.Revived) != 0 {
			t.Fatalf("health: %s, want %d checked, none down or revived", body, clusterNodes)
		}
	}
	body, cold := e.coldInvoke(t, ev)
	check(body)
	warm := e.warm(t, 1, ev, check)
	return Measurement{ColdStartMs: ms(cold), WarmMs: median(warm), WarmSamples: len(warm), WarmEvent: "Scheduled Event (1 s pause in the handler)", WarmAllMs: msAll(warm)}
}

// testAPI puts a key through an HTTP API v2 event with a base64 body, reads
// it back, and checks the JSON errors for an absent key and a bad key.
func (c *contractEnv) testAPI(t *testing.T, e *emulator) Measurement {
	value := []byte("contract value \xe2\x9c\x93")
	body, cold := e.coldInvoke(t, apiEvent(t, "PUT", "/kv/x", value, map[string]string{"Content-Type": "text/plain; charset=utf-8"}))
	var put httpapi.Response
	decode(t, body, &put)
	if put.StatusCode != http.StatusNoContent || put.Headers[httpapi.ContextHeader] == "" {
		t.Fatalf("PUT /kv/x: %s, want 204 with an %s header", body, httpapi.ContextHeader)
	}

	get := apiEvent(t, "GET", "/kv/x", nil, nil)
	checkGet := func(body []byte) {
		var r httpapi.Response
		decode(t, body, &r)
		got := []byte(r.Body)
		if r.IsBase64Encoded {
			var err error
			if got, err = base64.StdEncoding.DecodeString(r.Body); err != nil {
				t.Fatalf("GET /kv/x: body is not base64: %v", err)
			}
		}
		if r.StatusCode != http.StatusOK || !bytes.Equal(got, value) || r.Headers["Content-Type"] != "text/plain; charset=utf-8" || r.Headers[httpapi.ContextHeader] == "" {
			t.Fatalf("GET /kv/x: %s, want 200 %q (text/plain) with a context", body, value)
		}
	}
	checkGet(e.invoke(t, get))
	c.checkListingAndHealth(t, e)
	c.testCRDT(t, e) // crdt_test.go

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/kv/contract-absent", http.StatusNotFound, "not_found"},
		{"/kv/%zz", http.StatusBadRequest, "bad_key"},
	} {
		body := e.invoke(t, apiEvent(t, "GET", tc.path, nil, nil))
		var r httpapi.Response
		decode(t, body, &r)
		var msg struct{ Error, Message string }
		if r.StatusCode != tc.status || r.Headers["Content-Type"] != "application/json" ||
			json.Unmarshal([]byte(r.Body), &msg) != nil || msg.Error != tc.code || msg.Message == "" {
			t.Errorf("GET %s: %s, want %d with JSON error %q", tc.path, body, tc.status, tc.code)
		}
	}

	c.testTTL(t, e)

	warm := e.warm(t, 5, get, checkGet)
	// The emulator serves the Extensions API: the internal extension
	// (functions/lambdaext) registered ("Internal agent <name> (<id>)
	// registered, subscribed to [INVOKE]") and the invocations above
	// completed with it holding each freeze. (TestFreeze uses a fake of the
	// API instead, for its exact freeze moment.)
	if out := e.out.String(); !regexp.MustCompile(`Internal agent `+lambdaext.Name+` \(.*\) registered`).MatchString(out) || strings.Contains(out, "extension not registered") {
		t.Errorf("the api function's extension did not register with aws-lambda-rie:\n%s", out)
	}
	return Measurement{ColdStartMs: ms(cold), WarmMs: median(warm), WarmSamples: len(warm), WarmEvent: "GET /kv/x", WarmAllMs: msAll(warm)}
}

// readEvent unmarshals testdata/file into v.
func readEvent(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// apiEvent is the sample HTTP API v2 event pointed at method and rawPath,
// with body base64-encoded (as API Gateway sends binary bodies) and headers
// added in lower case (as API Gateway sends them).
func apiEvent(t *testing.T, method, rawPath string, body []byte, headers map[string]string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	readEvent(t, "apigw-v2-request-no-authorizer.json", &ev)
	ev.RawPath = rawPath
	ev.RouteKey = "$default"
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.HTTP.Path = rawPath
	ev.Headers["content-length"] = strconv.Itoa(len(body))
	if body != nil {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	for k, v := range headers {
		ev.Headers[strings.ToLower(k)] = v
	}
	return ev
}

// sqsEvent is the sample SQS event with one record per id, in id order,
// each a copy of the sample record with that id and body (and the body's MD5,
// as SQS sends it).
func sqsEvent(t *testing.T, bodies map[string]string) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	readEvent(t, "sqs-event.json", &ev)
	tmpl := ev.Records[0]
	ev.Records = nil
	ids := make([]string, 0, len(bodies))
	for id := range bodies {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := tmpl
		r.MessageId, r.Body = id, bodies[id]
		r.Md5OfBody = fmt.Sprintf("%x", md5.Sum([]byte(r.Body)))
		ev.Records = append(ev.Records, r)
	}
	return ev
}

// scheduledEvent is an EventBridge "Scheduled Event".
func scheduledEvent(t *testing.T) events.EventBridgeEvent {
	t.Helper()
	var ev events.EventBridgeEvent
	readEvent(t, "eventbridge-scheduled-event.json", &ev)
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Fatalf("eventbridge-scheduled-event.json: not a scheduled event: %+v", ev)
	}
	return ev
}

// emulator is one aws-lambda-rie process serving one bootstrap.
type emulator struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	url     string    // the invocation endpoint
	started time.Time // just before the process started
	exited  chan struct{}
	waitErr error // set before exited is closed
	stopped sync.Once
}

// startEmulator starts aws-lambda-rie on two free loopback ports (never its
// default 0.0.0.0:8080) with the bootstrap and env, and returns once it
// accepts connections. The emulator starts the bootstrap on the first
// invocation. t.Cleanup stops both.
func startEmulator(t *testing.T, rie, bootstrap string, env *contractEnv) *emulator {
	t.Helper()
	invokeAddr, runtimeAddr := freeAddr(t), freeAddr(t)
	e := &emulator{out: &syncBuffer{}, exited: make(chan struct{})}
	e.url = "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
	e.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		bootstrap)
	e.cmd.Dir = filepath.Dir(bootstrap)
	e.cmd.Env = append([]string{"AWS_LAMBDA_FUNCTION_NAME=cartwheel-" + filepath.Base(e.cmd.Dir)}, env.vars...)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	// Runs after stop (cleanups run last-registered first): the whole log.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator and %s output:\n%s", filepath.Base(e.cmd.Dir), e.out.String())
		}
	})
	e.started = time.Now()
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", rie, err)
	}
	go func() {
		e.waitErr = e.cmd.Wait()
		close(e.exited)
	}()
	t.Cleanup(func() { e.stop(t) })

	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			c.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen on %s within %s: %v", invokeAddr, readyTimeout, err)
		}
		select {
		case <-e.exited:
			t.Fatalf("aws-lambda-rie exited before listening on %s: %v", invokeAddr, e.waitErr)
		case <-tick.C:
		}
	}
}

// stop kills the bootstrap (the emulator starts it in its own process group,
// so killing the emulator alone would orphan it), waits, bounded, until the
// emulator has reaped it, then kills the emulator and waits for it.
func (e *emulator) stop(t *testing.T) {
	e.stopped.Do(func() {
		children := descendants(e.cmd.Process.Pid)
		for _, pid := range children {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				t.Errorf("kill bootstrap %d: %v", pid, err)
			}
		}
		for _, pid := range children {
			if !waitGone(pid, exitTimeout) {
				t.Errorf("bootstrap (pid %d) still running %s after SIGKILL", pid, exitTimeout)
			}
		}
		if err := e.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("kill aws-lambda-rie: %v", err)
		}
		select {
		case <-e.exited:
		case <-time.After(exitTimeout):
			t.Errorf("aws-lambda-rie (pid %d) still running %s after SIGKILL", e.cmd.Process.Pid, exitTimeout)
		}
	})
}

// coldInvoke is the first invocation: it returns the response and the time
// from the emulator's start to the response.
func (e *emulator) coldInvoke(t *testing.T, event any) ([]byte, time.Duration) {
	t.Helper()
	body := e.invoke(t, event)
	return body, time.Since(e.started)
}

// warm invokes event n times, checks each response, and returns each round trip.
func (e *emulator) warm(t *testing.T, n int, event any, check func([]byte)) []time.Duration {
	t.Helper()
	var d []time.Duration
	for range n {
		start := time.Now()
		body := e.invoke(t, event)
		d = append(d, time.Since(start))
		check(body)
	}
	return d
}

// invokeClient bounds every invocation.
var invokeClient = &http.Client{Timeout: invokeTimeout}

// invoke posts event to the emulator and returns the function's response. A
// non-200 answer or a function error (errorType/errorMessage) fails the test.
func (e *emulator) invoke(t *testing.T, event any) []byte {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := invokeClient.Post(e.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke: read response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: emulator answered %s: %s", resp.Status, body)
	}
	var fe struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &fe) == nil && (fe.ErrorType != "" || fe.ErrorMessage != "") {
		t.Fatalf("invoke: function error %s: %s", fe.ErrorType, fe.ErrorMessage)
	}
	return body
}

// initReportRE matches the emulator's report of the bootstrap's start-up. (The
// "Init Duration" of its REPORT line is not it: that times only the
// emulator's asynchronous Init call, a fraction of a millisecond.)
var initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initDuration returns the bootstrap's initialisation time the emulator
// reported, in milliseconds, or -1 if it printed none. The emulator logs it
// before answering the first invocation, but its output reaches the buffer
// through a pipe, so this polls (bounded) until it shows up.
func (e *emulator) initDuration(t *testing.T) float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := initReportRE.FindStringSubmatch(e.out.String()); m != nil {
			v, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				t.Fatalf("INIT REPORT %q: %v", m[1], err)
			}
			return v
		}
		if time.Now().After(deadline) {
			t.Logf("aws-lambda-rie printed no INIT REPORT")
			return -1
		}
		select {
		case <-e.exited:
			return -1
		case <-time.After(pollEvery):
		}
	}
}

// decode unmarshals a function's JSON response into v.
func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("response %s: %v", body, err)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// descendants returns the ids of pid's descendant processes, from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, ent := range entries {
		p, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(p); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// procStat returns the state and parent id of pid from /proc/<pid>/stat
// ("pid (comm) state ppid ..."; comm may hold spaces and parentheses).
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// parentOf returns pid's parent id.
func parentOf(pid int) (int, bool) {
	_, ppid, ok := procStat(pid)
	return ppid, ok
}

// waitGone polls, bounded, until pid has exited and been reaped by its
// parent. At the deadline a dead process its parent has not reaped yet (a
// zombie) counts as gone too.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		state, _, ok := procStat(pid)
		if !ok {
			return true
		}
		if time.Now().After(deadline) {
			return state == "Z" || state == "X"
		}
		<-time.After(pollEvery)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's output copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// msAll converts each duration to milliseconds.
func msAll(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

// median returns the median of ds in milliseconds (the lower middle for an
// even count).
func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return ms(s[(len(s)-1)/2])
}

// writeBench writes the measurements to path as JSON.
func writeBench(t *testing.T, path string, results []Measurement) {
	t.Helper()
	r := benchReport{
		MeasuredAt: time.Now().UTC().Format(time.RFC3339),
		GOOS:       "linux",
		GOARCH:     runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		RIE:        rieVersion,
		Endpoint:   "kumo (in-process)",
		BuildFlags: "CGO_ENABLED=0 " + strings.Join(buildFlags, " "),
		Functions:  results,
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatalf("%s: %v", envBenchOut, err)
	}
	t.Logf("measurements written to %s", path)
}
