package coordinator

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger returns a copy of ctx that makes the coordinator log what it does
// for a request with l instead of Deps.Log: the HTTP API passes a logger
// carrying the request's id, so every line of a request can be found by it.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the logger WithLogger put in ctx, or fallback if none.
func LoggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return fallback
}

// logger is the logger of the request ctx belongs to.
func (c *Coordinator) logger(ctx context.Context) *slog.Logger { return LoggerFrom(ctx, c.log) }
