package httpapi

import (
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
)

// SameOrigin guards a server that listens on the operator's machine (the
// local server, the dashboard proxy) against web pages the operator visits:
//
//   - the Host header must name this server: a loopback name (localhost,
//     127.0.0.0/8, ::1) or one of hosts, so a DNS-rebound name
//     (attacker.example resolving to 127.0.0.1) is refused;
//   - a request whose Origin is not this server's (another site, "null"), or
//     that a browser marks as cross-site (Sec-Fetch-Site: cross-site or
//     same-site), is refused, so a page cannot send simple text/plain POSTs
//     or form submissions here, nor embed its answers.
//
// curl and the CLI send a loopback Host and no Origin, so they pass
// unchanged. Refusals are 403 with a JSON error body naming the reason.
// hosts are extra host names (without port) allowed in Host, e.g. the
// address serve --allow-remote listens on; "*" allows any Host.
func SameOrigin(next http.Handler, hosts ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := crossSite(r, hosts); msg != "" {
			refuse(w, http.StatusForbidden, client.CodeForbidden, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite returns why r is refused, or "".
func crossSite(r *http.Request, hosts []string) string {
	if !hostAllowed(r.Host, hosts) {
		return fmt.Sprintf("Host %q is not this server's (use a loopback address such as 127.0.0.1)", r.Host)
	}
	origin := r.Header.Get("Origin")
	if origin != "" && !sameOrigin(origin, r.Host) {
		return fmt.Sprintf("cross-site request refused: Origin %q is not this server's", origin)
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return "cross-site request refused (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") + ")"
	}
	return ""
}

// hostAllowed reports whether a Host header names a loopback address or one
// of hosts.
func hostAllowed(hostport string, hosts []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, h := range hosts {
		if h == "*" || strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether origin (scheme://host[:port]) is an http origin
// of the server that answers at host (the request's Host header).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.Path != "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// refuse writes a JSON error answer.
func refuse(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// requireJSON refuses (415) an admin body whose Content-Type is not
// application/json: a web page can send text/plain or form bodies to another
// origin without a preflight, never application/json.
func requireJSON(req events.APIGatewayV2HTTPRequest) *Response {
	ct := header(req, "Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
		return nil
	}
	r := errorResponse(http.StatusUnsupportedMediaType, client.CodeUnsupportedMediaType,
		fmt.Sprintf("an admin body must be sent as Content-Type: application/json (got %q)", ct))
	return &r
}
