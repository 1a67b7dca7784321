// Building responses: JSON bodies, errors, and the map from coordinator
// errors to HTTP statuses.

package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/crdt"
	"github.com/cartwheel/cartwheel/core/kv"
)

// fail maps a coordinator error to a response; internal details are logged,
// never sent.
func (h *Handler) fail(err error) Response {
	var qe *kv.QuorumError
	switch {
	case errors.Is(err, kv.ErrBadKey):
		return errorResponse(http.StatusBadRequest, client.CodeBadKey, err.Error())
	case errors.Is(err, kv.ErrBadContext):
		return errorResponse(http.StatusBadRequest, client.CodeBadContext, err.Error())
	case errors.Is(err, kv.ErrBadRequest):
		return errorResponse(http.StatusBadRequest, client.CodeBadRequest, err.Error())
	case errors.Is(err, kv.ErrValueTooLarge):
		return errorResponse(http.StatusRequestEntityTooLarge, client.CodeValueTooLarge, err.Error())
	case errors.Is(err, crdt.ErrTypeMismatch):
		return errorResponse(http.StatusConflict, client.CodeTypeMismatch, err.Error())
	case errors.Is(err, coordinator.ErrConditionFailed):
		return errorResponse(http.StatusPreconditionFailed, client.CodePreconditionFailed, err.Error())
	case errors.Is(err, kv.ErrTooManySiblings):
		return errorResponse(http.StatusConflict, client.CodeTooManySiblings, err.Error())
	case errors.As(err, &qe):
		h.d.Log.Warn("quorum not reached", "err", err)
		r := jsonResponse(http.StatusServiceUnavailable, map[string]any{
			"error":   client.CodeQuorumFailed,
			"message": fmt.Sprintf("%s: %d of %d required replicas answered", qe.Op, qe.Got, qe.Need),
			"got":     qe.Got,
			"need":    qe.Need,
		})
		r.Headers["Retry-After"] = "1"
		return r
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorResponse(http.StatusServiceUnavailable, client.CodeTimeout, "the request timed out before a quorum answered")
	}
	h.d.Log.Error("internal error", "err", err)
	return errorResponse(http.StatusInternalServerError, client.CodeInternal, "internal error; see the server log")
}

const maxAdminBody = 64 << 10

func decodeJSON(req events.APIGatewayV2HTTPRequest, dst any) *Response {
	if r := requireJSON(req); r != nil {
		return r
	}
	body, err := requestBody(req)
	if err != nil || len(body) > maxAdminBody {
		r := errorResponse(http.StatusBadRequest, client.CodeBadJSON, "the body must be a JSON object of at most 64 KiB")
		return &r
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		r := errorResponse(http.StatusBadRequest, client.CodeBadJSON, "invalid JSON body: "+err.Error())
		return &r
	}
	if dec.More() {
		r := errorResponse(http.StatusBadRequest, client.CodeBadJSON, "trailing data after the JSON object")
		return &r
	}
	return nil
}

func jsonResponse(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, client.CodeInternal, "could not encode the response")
	}
	return Response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

func errorResponse(status int, code, msg string) Response {
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	return Response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

func methodNotAllowed(allow string) Response {
	r := errorResponse(http.StatusMethodNotAllowed, client.CodeMethodNotAllowed, "method not allowed; use "+allow)
	r.Headers["Allow"] = allow
	return r
}
