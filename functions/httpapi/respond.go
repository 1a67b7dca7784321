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

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
)

// fail maps a coordinator error to a response; internal details are logged,
// never sent.
func (h *Handler) fail(err error) Response {
	var qe *kv.QuorumError
	switch {
	case errors.Is(err, kv.ErrBadKey):
		return errorResponse(http.StatusBadRequest, "bad_key", err.Error())
	case errors.Is(err, kv.ErrBadContext):
		return errorResponse(http.StatusBadRequest, "bad_context", err.Error())
	case errors.Is(err, kv.ErrBadRequest):
		return errorResponse(http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, kv.ErrValueTooLarge):
		return errorResponse(http.StatusRequestEntityTooLarge, "value_too_large", err.Error())
	case errors.Is(err, coordinator.ErrConditionFailed):
		return errorResponse(http.StatusPreconditionFailed, "precondition_failed", err.Error())
	case errors.Is(err, kv.ErrTooManySiblings):
		return errorResponse(http.StatusConflict, "too_many_siblings", err.Error())
	case errors.As(err, &qe):
		h.d.Log.Warn("quorum not reached", "err", err)
		r := jsonResponse(http.StatusServiceUnavailable, map[string]any{
			"error":   "quorum_failed",
			"message": fmt.Sprintf("%s: %d of %d required replicas answered", qe.Op, qe.Got, qe.Need),
			"got":     qe.Got,
			"need":    qe.Need,
		})
		r.Headers["Retry-After"] = "1"
		return r
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorResponse(http.StatusServiceUnavailable, "timeout", "the request timed out before a quorum answered")
	}
	h.d.Log.Error("internal error", "err", err)
	return errorResponse(http.StatusInternalServerError, "internal", "internal error; see the server log")
}

const maxAdminBody = 64 << 10

func decodeJSON(req events.APIGatewayV2HTTPRequest, dst any) *Response {
	body, err := requestBody(req)
	if err != nil || len(body) > maxAdminBody {
		r := errorResponse(http.StatusBadRequest, "bad_json", "the body must be a JSON object of at most 64 KiB")
		return &r
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		r := errorResponse(http.StatusBadRequest, "bad_json", "invalid JSON body: "+err.Error())
		return &r
	}
	if dec.More() {
		r := errorResponse(http.StatusBadRequest, "bad_json", "trailing data after the JSON object")
		return &r
	}
	return nil
}

func jsonResponse(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "internal", "could not encode the response")
	}
	return Response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

func errorResponse(status int, code, msg string) Response {
	b, _ := json.Marshal(map[string]string{"error": code, "message": msg})
	return Response{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

func methodNotAllowed(allow string) Response {
	r := errorResponse(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed; use "+allow)
	r.Headers["Allow"] = allow
	return r
}
