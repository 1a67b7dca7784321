package httpapi

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cartwheel/cartwheel/client"
)

// Local adapts the handler to net/http the way API Gateway does: each request
// becomes an APIGatewayV2HTTPRequest event (payload format 2.0, base64 body)
// and the handler's response is written back. The local server and the
// end-to-end tests use it, so they exercise the exact code the Lambda runs.
type Local struct {
	H *Handler
	// MaxBody bounds the request body read (API Gateway's limit is 10 MB).
	MaxBody int64
	seq     atomic.Int64
}

// ServeHTTP implements http.Handler.
func (l *Local) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	max := l.MaxBody
	if max == 0 {
		max = 10 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		writeResponse(w, r, errorResponse(http.StatusBadRequest, client.CodeBadRequest, "could not read the body"))
		return
	}
	if int64(len(body)) > max {
		writeResponse(w, r, errorResponse(http.StatusRequestEntityTooLarge, client.CodeValueTooLarge, fmt.Sprintf("the body exceeds %d bytes", max)))
		return
	}
	ev := ToEvent(r, body, fmt.Sprintf("local-%d-%d", time.Now().UnixNano(), l.seq.Add(1)))
	resp, _ := l.H.Serve(r.Context(), ev)
	writeResponse(w, r, resp)
}

// ToEvent builds the API Gateway v2 event API Gateway would send for r.
func ToEvent(r *http.Request, body []byte, requestID string) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	return events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              "$default",
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Headers:               headers,
		QueryStringParameters: query,
		Body:                  base64.StdEncoding.EncodeToString(body),
		IsBase64Encoded:       true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: requestID,
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  r.RemoteAddr,
				UserAgent: r.UserAgent(),
			},
			TimeEpoch: time.Now().UnixMilli(),
		},
	}
}

func writeResponse(w http.ResponseWriter, r *http.Request, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			http.Error(w, "bad response encoding", http.StatusInternalServerError)
			return
		}
		body = b
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method != http.MethodHead && resp.StatusCode != http.StatusNoContent {
		_, _ = w.Write(body)
	}
}
