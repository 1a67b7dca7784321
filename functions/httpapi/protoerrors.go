package httpapi

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/cartwheel/cartwheel/client"
)

// JSONProtocolErrors wraps the local server's listener so that the requests
// Go's HTTP server refuses before any handler runs (an invalid %-escape or
// a raw space in the path, a malformed request line, headers over
// http.Server.MaxHeaderBytes) answer the API's JSON error body, as every
// other error does, instead of net/http's text/plain one.
//
// net/http writes those answers straight to the connection, in one write of
// a fixed shape ("HTTP/1.1 <status>" + its fixed headers + the status again
// as the body) and then closes it; a handler's response never has that
// shape (it carries Date and Content-Length), so only those are rewritten.
func JSONProtocolErrors(ln net.Listener) net.Listener { return protoErrListener{ln} }

type protoErrListener struct{ net.Listener }

func (l protoErrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return protoErrConn{c}, nil
}

type protoErrConn struct{ net.Conn }

// netHTTPErrorHeaders are the headers net/http's own error answers carry.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c protoErrConn) Write(p []byte) (int, error) {
	if b, ok := jsonProtocolError(p); ok {
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// jsonProtocolError rewrites one of net/http's own 4xx answers into the
// API's JSON error; ok is false for anything else.
func jsonProtocolError(p []byte) ([]byte, bool) {
	rest, found := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !found {
		return nil, false
	}
	status, body, found := bytes.Cut(rest, []byte(netHTTPErrorHeaders))
	if !found || !bytes.Equal(status, body) || len(status) < 3 || status[0] != '4' {
		return nil, false
	}
	code, err := strconv.Atoi(string(status[:3]))
	if err != nil {
		return nil, false
	}
	e := client.CodeBadRequest
	msg := fmt.Sprintf("malformed HTTP request (%s): URL-encode the key as one path segment (a space as %%20, a %% as %%25)", status)
	if code == http.StatusRequestHeaderFieldsTooLarge {
		e = client.CodeHeadersTooLarge
		msg = fmt.Sprintf("the request's headers are over the server's limit of %d bytes", http.DefaultMaxHeaderBytes)
	}
	r := errorResponse(code, e, msg)
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(r.Body), r.Body), true
}
