// Package lambdaext is the API function's internal Lambda extension: it keeps
// the execution environment from being frozen until the background work of
// the invocation it served is done.
//
// Lambda freezes a function's process once the runtime has asked for its next
// event and every registered extension has asked for its next event. The
// runtime asks as soon as the handler returns, so goroutines the handler left
// running (replica writes after the write quorum, read repair) would stop
// with it. This extension registers from the same process through the
// Extensions API (internal extensions may only subscribe to INVOKE) and,
// after each invocation's handler has returned, holds its own next-event
// request until the coordinator's background work is done
// (coordinator.Quiesce) or the post-response budget ends; the coordinator
// then hands what is left to hinted handoff. The response is not delayed: the
// runtime posts it as before; only the freeze waits, and the environment is
// billed meanwhile.
//
// See https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html.
package lambdaext

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// Name is the extension's name in the Extensions API.
const Name = "cartwheel-background"

// Extensions API paths and headers.
const (
	registerPath = "/2020-01-01/extension/register"
	nextPath     = "/2020-01-01/extension/event/next"
	nameHeader   = "Lambda-Extension-Name"
	idHeader     = "Lambda-Extension-Identifier"
)

// deadlineMargin is kept free before the invocation's deadline: the budget
// never runs into the function timeout (which would fail the invocation and
// reset the environment).
const deadlineMargin = 200 * time.Millisecond

// retryPause is the pause before a failed next-event request is retried (the
// API is local; an extension that stops asking would time out every
// invocation).
const retryPause = 50 * time.Millisecond

// Event is an event of the Extensions API (the fields used here).
type Event struct {
	EventType  string `json:"eventType"` // INVOKE or SHUTDOWN
	DeadlineMs int64  `json:"deadlineMs"`
	RequestID  string `json:"requestId"`
}

// Extension is a registered internal extension. Make it with Register before
// the runtime asks for its first event (lambda.Start), then run Loop.
type Extension struct {
	api     string
	id      string
	client  *http.Client
	budget  time.Duration
	quiesce func(context.Context) error
	log     *slog.Logger

	// mu guards last, the request id of the handler call that returned
	// most recently. Invocations of one environment never overlap, so the
	// handler of an invocation has returned exactly when last is its id; an
	// older id is a late token (a handler that returned after its
	// invocation's settle gave up waiting) and settles nothing.
	mu        sync.Mutex
	last      string
	abandoned string        // the last invocation whose wait ended at its deadline
	wake      chan struct{} // signalled (never blocking) when last changes
}

// Register registers an internal extension named Name for INVOKE events with
// the Extensions API at api (host:port, AWS_LAMBDA_RUNTIME_API). After each
// invocation's handler returns (see Wrap), the extension calls quiesce with a
// context that ends after budget, or early enough before the invocation's
// deadline for the hand-off to be done by then too (coordinator.FitHandOff),
// then lets the environment be frozen.
func Register(ctx context.Context, api string, budget time.Duration, quiesce func(context.Context) error, log *slog.Logger) (*Extension, error) {
	if api == "" {
		return nil, errors.New("lambdaext: no runtime API address (AWS_LAMBDA_RUNTIME_API)")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Extension{api: "http://" + api, client: &http.Client{}, budget: budget, quiesce: quiesce, log: log, wake: make(chan struct{}, 1)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.api+registerPath, strings.NewReader(`{"events":["INVOKE"]}`))
	if err != nil {
		return nil, fmt.Errorf("lambdaext: register: %w", err)
	}
	req.Header.Set(nameHeader, Name)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdaext: register: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lambdaext: register: %s: %s", resp.Status, body)
	}
	if e.id = resp.Header.Get(idHeader); e.id == "" {
		return nil, fmt.Errorf("lambdaext: register: no %s in the answer", idHeader)
	}
	return e, nil
}

// Finished tells the extension that the handler of invocation requestID (the
// Lambda request id, as in the INVOKE event) has returned. A token only ever
// settles its own invocation: one arriving after its invocation was given up
// is discarded by the next invocation's wait.
func (e *Extension) Finished(requestID string) {
	e.mu.Lock()
	e.last = requestID
	late := requestID == e.abandoned
	e.mu.Unlock()
	if late {
		e.log.Warn("extension: handler returned after its invocation's wait ended; its token is discarded", "requestId", requestID)
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// finished reports whether the handler of invocation id has returned.
func (e *Extension) finished(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last == id
}

// Loop serves the extension until SHUTDOWN or ctx ends: for each INVOKE it
// waits for the handler to finish, then for the background work (within the
// budget), then asks for the next event, which lets Lambda freeze the process.
func (e *Extension) Loop(ctx context.Context) {
	for ctx.Err() == nil {
		ev, err := e.next(ctx)
		if err != nil {
			e.log.Error("extension: next event", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(retryPause):
			}
			continue
		}
		if ev.EventType != "INVOKE" {
			return
		}
		e.settle(ctx, ev)
	}
}

// settle waits for invocation ev's handler, then for its background work.
func (e *Extension) settle(ctx context.Context, ev Event) {
	deadline := time.UnixMilli(ev.DeadlineMs).Add(-deadlineMargin)
	if ev.DeadlineMs == 0 {
		deadline = time.Now().Add(e.budget)
	}
	wait := time.NewTimer(max(time.Until(deadline), 0))
	defer wait.Stop()
wait:
	for !e.finished(ev.RequestID) {
		select {
		case <-e.wake:
		case <-wait.C:
			e.log.Warn("extension: handler still running near the deadline", "requestId", ev.RequestID)
			e.mu.Lock()
			e.abandoned = ev.RequestID
			e.mu.Unlock()
			break wait
		case <-ctx.Done():
			return
		}
	}
	start := time.Now()
	bctx, cancel := context.WithDeadline(ctx, start.Add(e.budget))
	defer cancel()
	if ev.DeadlineMs != 0 {
		// The wait ends early enough for the hand-off of what is left to be
		// done before the deadline too.
		var cancelFit context.CancelFunc
		bctx, cancelFit = coordinator.FitHandOff(bctx, deadline)
		defer cancelFit()
	}
	if err := e.quiesce(bctx); err != nil {
		e.log.Warn("extension: background work not done within the budget", "requestId", ev.RequestID, "err", err)
	}
	e.log.Debug("extension: background work settled", "requestId", ev.RequestID, "ms", time.Since(start).Milliseconds())
}

// next asks for the next event; it blocks until Lambda sends one (and across
// freezes).
func (e *Extension) next(ctx context.Context) (Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.api+nextPath, nil)
	if err != nil {
		return Event{}, err
	}
	req.Header.Set(idHeader, e.id)
	resp, err := e.client.Do(req)
	if err != nil {
		return Event{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Event{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return Event{}, fmt.Errorf("%s: %s", resp.Status, body)
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("event %q: %w", body, err)
	}
	return ev, nil
}

// Wrap returns h that also tells e when each call has returned, naming the
// call's invocation by the request id the runtime put in its context
// (lambdacontext). A nil e returns h unchanged.
func Wrap[E, R any](e *Extension, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	if e == nil {
		return h
	}
	return func(ctx context.Context, ev E) (R, error) {
		id := ""
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			id = lc.AwsRequestID
		}
		defer e.Finished(id)
		return h(ctx, ev)
	}
}

// Start registers the extension for app's coordinator when app's
// configuration enables it (wire.Config.Extension, PostResponseBudget) and
// runs its loop in the background. It returns nil, logging why, when the
// extension is disabled or cannot register (outside Lambda, or an emulator
// without the Extensions API): the function then works as before, with its
// background work exposed to the freeze. Call it before lambda.Start.
func Start(app *wire.App, getenv func(string) string) *Extension {
	if !app.Config.Extension {
		app.Log.Warn("extension disabled (CARTWHEEL_EXTENSION=false): background work may be frozen after each response")
		return nil
	}
	e, err := Register(context.Background(), getenv("AWS_LAMBDA_RUNTIME_API"), app.Config.PostResponseBudget, app.Coord.Quiesce, app.Log)
	if err != nil {
		app.Log.Error("extension not registered: background work may be frozen after each response", "err", err)
		return nil
	}
	go e.Loop(context.Background())
	return e
}
