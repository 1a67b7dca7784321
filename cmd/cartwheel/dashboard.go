package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// newDashboardProxy forwards every request to target, signing them (see
// authorize), so the dashboard of a deployed stack, whose page and admin
// routes need IAM signatures a browser cannot make, works from a local browser.
// It must only be served behind guardDashboard.
func newDashboardProxy(target *url.URL, mode string) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization") // never forward a caller's credentials
		},
		Transport: signingTransport{base: http.DefaultTransport, mode: mode},
	}
}

func dashboardCmd(g *globalOptions) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Open a deployed stack's dashboard through a local proxy that signs its requests (IAM)",
		Long: `dashboard serves --url (a deployed stack's ApiUrl) on a loopback address, signing
the dashboard's requests (the page, its assets and its /admin/ calls) with your AWS credentials (SigV4), so
the URL it prints, http://ADDR/TOKEN/ui, works in a local browser. TOKEN is random
per run: the proxy serves only that URL, only to its own origin (a page of another
site, or one reached by DNS rebinding, is refused), and forwards only the requests
the dashboard makes (not /kv, not a context-key rotation). Against the local server
it is not needed: open http://127.0.0.1:8080/ui directly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			target, err := checkURL(g.url)
			if err != nil {
				return err
			}
			if err := checkDashboardAddr(addr); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fail(exitError, "listen: %v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			token := newDashboardToken()
			return serveProxy(ctx, ln, guardDashboard(newDashboardProxy(target, g.sign), token), token, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "loopback address to serve on")
	return cmd
}

// checkDashboardAddr refuses (a usage error) an --addr beyond loopback: the
// proxy signs with the operator's credentials.
func checkDashboardAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fail(exitUsage, "--addr %s: want HOST:PORT, e.g. 127.0.0.1:8081 (%v)", addr, err)
	}
	if !isLoopbackHost(host) {
		return fail(exitUsage, "--addr %s: the dashboard proxy signs requests with your AWS credentials, so it listens on loopback only "+
			"(e.g. 127.0.0.1:8081)", addr)
	}
	return nil
}

// serveProxy serves h on ln until ctx ends, after printing the page's URL
// (with the per-run token) on out.
func serveProxy(ctx context.Context, ln net.Listener, h http.Handler, token string, out io.Writer) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "dashboard at http://%s/%s/ui\n", ln.Addr(), token)
	return serveUntil(ctx, srv, ln, 5*time.Second, nil)
}
