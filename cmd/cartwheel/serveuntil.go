package main

import (
	"context"
	"net"
	"net/http"
	"time"
)

// serveUntil serves srv on ln until ctx ends, then runs onStop (if not nil)
// and shuts srv down, giving open requests up to grace to finish. If Serve
// fails first, its error is returned at once (ctx is then still live).
// `cartwheel serve` and `cartwheel dashboard` both run their server with it.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration, onStop func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if onStop != nil {
		onStop()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	return srv.Shutdown(sctx)
}
