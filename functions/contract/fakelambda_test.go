//go:build linux

package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLambda is the Lambda service as a function's process sees it: the
// Runtime API (the runtime's next event and its response) and the Extensions
// API (register, next event), on one loopback address, as
// AWS_LAMBDA_RUNTIME_API names it. It keeps Lambda's freeze rule: once an
// invocation's response is in, the environment may be frozen as soon as the
// runtime and every registered extension have asked for their next event;
// at that moment it calls onIdle (the test's SIGSTOP), before anything else
// can run in the process.
//
// aws-lambda-rie serves the Extensions API too (its rapi router has
// /extension/register and /extension/event/next), but it has no hook for
// that moment; a test polling from outside would let the process run on
// after it, so the freeze would come late and hide the defect.
//
// Only what Cartwheel's bootstrap uses is served: INVOKE events (internal
// extensions may subscribe to nothing else), success and error responses.
type fakeLambda struct {
	t    *testing.T
	addr string
	srv  *http.Server

	mu         sync.Mutex
	initDone   bool // the runtime asked for its first event: no more registrations
	runtimeWay bool // the runtime is waiting for an event
	runtimeEv  chan invocation
	exts       map[string]*fakeExt
	seq        int
	idle       bool      // runtime and every extension waiting since the last invocation
	idleAt     time.Time // when idle last became true
	idleCh     chan struct{}
	onIdle     func() // called (under the lock) when idle becomes true; nil: nothing
	responses  map[string]chan invokeResult
}

type fakeExt struct {
	name    string
	waiting bool
	events  chan extEvent
}

type extEvent struct {
	EventType  string `json:"eventType"`
	DeadlineMs int64  `json:"deadlineMs"`
	RequestID  string `json:"requestId"`
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
}

// invokeResult is what one invocation gave back.
type invokeResult struct {
	body []byte
	err  string    // the function error's JSON, if it failed
	at   time.Time // when the response was posted
}

// invokeTimes are the platform's view of one invocation.
type invokeTimes struct {
	sent     time.Time // event handed to the runtime and the extensions
	response time.Time // response posted by the runtime
}

// startFakeLambda serves the APIs on a free loopback port until the test ends.
func startFakeLambda(t *testing.T) *fakeLambda {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeLambda{
		t: t, addr: l.Addr().String(),
		runtimeEv: make(chan invocation, 1),
		exts:      map[string]*fakeExt{},
		idleCh:    make(chan struct{}),
		responses: map[string]chan invokeResult{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2020-01-01/extension/register", f.register)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", f.extNext)
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", f.runtimeNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", f.respond(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", f.respond(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		t.Errorf("fake lambda: init error: %s", b)
		w.WriteHeader(http.StatusAccepted)
	})
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = f.srv.Shutdown(ctx)
		_ = f.srv.Close()
	})
	return f
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

func (f *fakeLambda) register(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get("Lambda-Extension-Name")
	var body struct {
		Events []string `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || name == "" {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "name header and JSON body required")
		return
	}
	for _, ev := range body.Events {
		if ev != "INVOKE" {
			apiError(w, http.StatusBadRequest, "Extension.InvalidEventType", "internal extensions may only register for INVOKE")
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.initDone {
		apiError(w, http.StatusForbidden, "Extension.RegistrationNotAllowed", "registration after the runtime asked for its first event")
		return
	}
	f.seq++
	id := fmt.Sprintf("ext-%d", f.seq)
	f.exts[id] = &fakeExt{name: name, events: make(chan extEvent, 1)}
	w.Header().Set("Lambda-Extension-Identifier", id)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"functionName":"cartwheel-api","functionVersion":"$LATEST","handler":"bootstrap"}`)
}

// checkIdle runs under the lock.
func (f *fakeLambda) checkIdle() {
	if f.idle || !f.initDone || !f.runtimeWay {
		return
	}
	for _, e := range f.exts {
		if !e.waiting {
			return
		}
	}
	f.idle, f.idleAt = true, time.Now()
	if f.onIdle != nil {
		f.onIdle()
	}
	close(f.idleCh)
}

func (f *fakeLambda) extNext(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	e := f.exts[r.Header.Get("Lambda-Extension-Identifier")]
	if e == nil {
		f.mu.Unlock()
		apiError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", "unknown extension")
		return
	}
	e.waiting = true
	f.checkIdle()
	f.mu.Unlock()
	select {
	case ev := <-e.events:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ev)
	case <-r.Context().Done():
	}
}

func (f *fakeLambda) runtimeNext(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.initDone = true
	f.runtimeWay = true
	f.checkIdle()
	f.mu.Unlock()
	select {
	case inv := <-f.runtimeEv:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:cartwheel-api")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

func (f *fakeLambda) respond(isErr bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res := invokeResult{at: time.Now()}
		if isErr {
			res.err = string(body)
		} else {
			res.body = body
		}
		f.mu.Lock()
		ch := f.responses[r.PathValue("id")]
		delete(f.responses, r.PathValue("id"))
		f.mu.Unlock()
		if ch == nil {
			apiError(w, http.StatusBadRequest, "InvalidRequestID", "unknown request id")
			return
		}
		ch <- res
		w.WriteHeader(http.StatusAccepted)
	}
}

// waitIdle waits (bounded) until the environment may be frozen, and returns
// when it became so.
func (f *fakeLambda) waitIdle(timeout time.Duration) (time.Time, error) {
	f.mu.Lock()
	ch := f.idleCh
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(timeout):
		f.mu.Lock()
		defer f.mu.Unlock()
		var waiting []string
		for id, e := range f.exts {
			waiting = append(waiting, fmt.Sprintf("%s(%s) waiting=%v", id, e.name, e.waiting))
		}
		return time.Time{}, fmt.Errorf("not idle after %s: runtime waiting=%v, extensions %s", timeout, f.runtimeWay, strings.Join(waiting, ", "))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idleAt, nil
}

// extensions returns the number of registered extensions.
func (f *fakeLambda) extensions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.exts)
}

// invoke waits until the environment is idle, then sends payload to the
// runtime (and INVOKE to every extension), with freeze as the idle hook for
// the end of this invocation, and returns the response once it is posted.
func (f *fakeLambda) invoke(payload []byte, timeout time.Duration, freeze func()) (invokeResult, invokeTimes, error) {
	return f.invokeBy(payload, time.Now().Add(timeout), timeout, freeze)
}

// invokeBy is invoke with the invocation's deadline (what the runtime and the
// extensions are told) apart from how long the test waits for the response.
func (f *fakeLambda) invokeBy(payload []byte, deadline time.Time, timeout time.Duration, freeze func()) (invokeResult, invokeTimes, error) {
	if _, err := f.waitIdle(timeout); err != nil {
		return invokeResult{}, invokeTimes{}, err
	}
	f.mu.Lock()
	f.seq++
	inv := invocation{id: fmt.Sprintf("req-%d", f.seq), payload: payload, deadline: deadline}
	ch := make(chan invokeResult, 1)
	f.responses[inv.id] = ch
	f.idle, f.idleCh, f.onIdle = false, make(chan struct{}), freeze
	f.runtimeWay = false
	for _, e := range f.exts {
		e.waiting = false
		e.events <- extEvent{EventType: "INVOKE", DeadlineMs: inv.deadline.UnixMilli(), RequestID: inv.id}
	}
	times := invokeTimes{sent: time.Now()}
	f.runtimeEv <- inv
	f.mu.Unlock()
	select {
	case res := <-ch:
		times.response = res.at
		if res.err != "" {
			return res, times, fmt.Errorf("function error: %s", res.err)
		}
		return res, times, nil
	case <-time.After(timeout):
		return invokeResult{}, times, errors.New("no response within " + timeout.String())
	}
}
