package httpapi

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// RequestIDKey is the log attribute naming the request a line belongs to.
const RequestIDKey = "requestId"

// Serve is Handle with request-scoped logs: every line the handler and the
// coordinator write while serving req carries its request id (API Gateway's,
// or the local adapter's), so one request's lines can be found together.
func (h *Handler) Serve(ctx context.Context, req events.APIGatewayV2HTTPRequest) (Response, error) {
	l := RequestLogger(h.d.Log, req.RequestContext.RequestID)
	scoped := &Handler{d: h.d}
	scoped.d.Log = l
	return scoped.Handle(coordinator.WithLogger(ctx, l), req)
}

// RequestLogger returns base's logger adding requestId=id to every line that
// does not already carry a requestId.
func RequestLogger(base *slog.Logger, id string) *slog.Logger {
	return slog.New(&requestIDHandler{inner: base.Handler(), id: id})
}

type requestIDHandler struct {
	inner slog.Handler
	id    string
	has   bool // the id is already among inner's attributes
}

func (h *requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.has {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			found = a.Key == RequestIDKey
			return !found
		})
		if !found {
			r = r.Clone()
			r.AddAttrs(slog.String(RequestIDKey, h.id))
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h *requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	has := h.has
	for _, a := range as {
		has = has || a.Key == RequestIDKey
	}
	return &requestIDHandler{inner: h.inner.WithAttrs(as), id: h.id, has: has}
}

// WithGroup attaches the id first, so it stays a top-level attribute.
func (h *requestIDHandler) WithGroup(name string) slog.Handler {
	inner := h.inner
	if !h.has {
		inner = inner.WithAttrs([]slog.Attr{slog.String(RequestIDKey, h.id)})
	}
	return &requestIDHandler{inner: inner.WithGroup(name), id: h.id, has: true}
}
