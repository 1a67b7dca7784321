package lambdaext

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// invocation returns a handler context for request id, as the runtime makes.
func invocation(id string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
}

// extAPI is a minimal Extensions API: it records the registration and hands
// out the events of its queue, reporting each next-event request.
type extAPI struct {
	name, events string
	evq          chan Event
	nexts        chan struct{}
}

func newExtAPI(t *testing.T) (*extAPI, string) {
	t.Helper()
	a := &extAPI{evq: make(chan Event, 4), nexts: make(chan struct{}, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+registerPath, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.name, a.events = r.Header.Get(nameHeader), string(b)
		w.Header().Set(idHeader, "id-1")
		_, _ = io.WriteString(w, `{}`)
	})
	mux.HandleFunc("GET "+nextPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(idHeader) != "id-1" {
			http.Error(w, "unknown id", http.StatusForbidden)
			return
		}
		a.nexts <- struct{}{}
		select {
		case ev := <-a.evq:
			_ = json.NewEncoder(w).Encode(ev)
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return a, strings.TrimPrefix(srv.URL, "http://")
}

// The extension registers for INVOKE only and, for each invocation, asks for
// its next event only after the handler returned and the background work
// was waited for, within the budget.
func TestExtensionHoldsNextUntilSettled(t *testing.T) {
	api, addr := newExtAPI(t)
	quiesced := make(chan time.Duration, 4)
	release := make(chan struct{})
	quiesce := func(ctx context.Context) error {
		dl, _ := ctx.Deadline()
		quiesced <- time.Until(dl)
		<-release
		return nil
	}
	e, err := Register(context.Background(), addr, time.Minute, quiesce, nil)
	if err != nil {
		t.Fatal(err)
	}
	if api.name != Name || api.events != `{"events":["INVOKE"]}` {
		t.Fatalf("registered %q for %s", api.name, api.events)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.Loop(ctx); close(done) }()
	<-api.nexts // init: waiting for the first event

	api.evq <- Event{EventType: "INVOKE", RequestID: "r1", DeadlineMs: time.Now().Add(time.Hour).UnixMilli()}
	select {
	case <-quiesced:
		t.Fatal("quiesced before the handler returned")
	case <-api.nexts:
		t.Fatal("asked for the next event before the handler returned")
	case <-time.After(50 * time.Millisecond):
	}
	h := Wrap(e, func(context.Context, int) (int, error) { return 7, nil })
	if v, err := h(invocation("r1"), 1); v != 7 || err != nil {
		t.Fatalf("wrapped handler = %d, %v", v, err)
	}
	if left := <-quiesced; left <= 0 || left > time.Minute {
		t.Fatalf("quiesce deadline %s away, want within the 1 min budget", left)
	}
	select {
	case <-api.nexts:
		t.Fatal("asked for the next event while background work was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-api.nexts // the freeze may come now

	api.evq <- Event{EventType: "SHUTDOWN"}
	<-done
}

// A handler that returns after its invocation's wait ended (near the
// deadline) leaves a late token; the next invocation must not take it for its
// own and let the freeze come while its handler still runs: it waits for its
// own handler, then for the background work.
func TestLateTokenSettlesNothing(t *testing.T) {
	api, addr := newExtAPI(t)
	quiesced := make(chan struct{}, 4)
	e, err := Register(context.Background(), addr, time.Minute, func(context.Context) error {
		quiesced <- struct{}{}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.Loop(ctx); close(done) }()
	<-api.nexts
	h := Wrap(e, func(context.Context, int) (int, error) { return 0, nil })

	// r1's deadline is already within the margin: the extension stops
	// waiting at once, and r1's handler returns only after that.
	api.evq <- Event{EventType: "INVOKE", RequestID: "r1", DeadlineMs: time.Now().UnixMilli()}
	<-quiesced
	<-api.nexts
	if _, err := h(invocation("r1"), 1); err != nil { // the late token
		t.Fatal(err)
	}

	api.evq <- Event{EventType: "INVOKE", RequestID: "r2", DeadlineMs: time.Now().Add(time.Hour).UnixMilli()}
	select {
	case <-quiesced:
		t.Fatal("r2 settled by r1's late token: quiesced while r2's handler was running")
	case <-api.nexts:
		t.Fatal("r2 settled by r1's late token: asked for the next event while r2's handler was running")
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := h(invocation("r2"), 1); err != nil {
		t.Fatal(err)
	}
	<-quiesced
	<-api.nexts
	api.evq <- Event{EventType: "SHUTDOWN"}
	<-done
}

// Registration fails cleanly without an API address or when refused.
func TestRegisterErrors(t *testing.T) {
	if _, err := Register(context.Background(), "", time.Second, nil, nil); err == nil {
		t.Fatal("no address: no error")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"errorType":"Extension.RegistrationNotAllowed"}`, http.StatusForbidden)
	}))
	defer srv.Close()
	_, err := Register(context.Background(), strings.TrimPrefix(srv.URL, "http://"), time.Second, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("refused registration: %v", err)
	}
	if Wrap[int, int](nil, func(context.Context, int) (int, error) { return 0, errors.New("x") }) == nil {
		t.Fatal("Wrap(nil, h) must return h")
	}
}

// Near the invocation's deadline the wait ends early enough for the hand-off
// of what is left to be done before the deadline too: quiesce's context ends
// HandOffReserve before the deadline less the margin, and carries that as the
// hand-off's limit (instead of a fresh ReplicaTimeout past it).
func TestHandOffFitsTheDeadline(t *testing.T) {
	api, addr := newExtAPI(t)
	type seen struct{ wait, handOff time.Time }
	got := make(chan seen, 1)
	e, err := Register(context.Background(), addr, time.Minute, func(ctx context.Context) error {
		dl, _ := ctx.Deadline()
		by, ok := coordinator.HandOffDeadline(ctx)
		if !ok {
			by = time.Time{}
		}
		got <- seen{dl, by}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Loop(ctx)
	<-api.nexts
	deadline := time.Now().Add(10 * time.Second).Truncate(time.Millisecond)
	api.evq <- Event{EventType: "INVOKE", RequestID: "r1", DeadlineMs: deadline.UnixMilli()}
	if _, err := Wrap(e, func(context.Context, int) (int, error) { return 0, nil })(invocation("r1"), 1); err != nil {
		t.Fatal(err)
	}
	s := <-got
	end := deadline.Add(-deadlineMargin)
	if !s.handOff.Equal(end) || !s.wait.Equal(end.Add(-coordinator.HandOffReserve)) {
		t.Fatalf("wait until %v and hand off by %v; want %v and %v", s.wait, s.handOff, end.Add(-coordinator.HandOffReserve), end)
	}
	<-api.nexts
}
