// The data type routes: GET and POST /crdt/{key} (core/crdt through the
// coordinator's GetTyped and Update).

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/crdt"
)

// crdtParams are the query parameters each data type method accepts.
var crdtParams = map[string][]string{
	http.MethodGet:  {client.ParamR, client.ParamPR},
	http.MethodPost: {client.ParamW, client.ParamPW, client.ParamR, client.ParamPR, client.ParamReturnBody, client.ParamTTL},
}

// maxOpBody bounds an operation's JSON (its context is a signed state).
const maxOpBody = 4 << 20

func crdtGet(h *Handler, ctx context.Context, _, _ string, p map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	key, bad := kvKey(p["key"])
	if bad != nil {
		return *bad
	}
	opt, bad := crdtOptions(http.MethodGet, req)
	if bad != nil {
		return *bad
	}
	res, err := h.d.Coord.GetTyped(ctx, key, opt)
	if err != nil {
		return h.fail(err)
	}
	if !res.Found {
		return errorResponse(http.StatusNotFound, client.CodeNotFound, "no data type at this key")
	}
	return typedResponse(res)
}

func crdtPost(h *Handler, ctx context.Context, _, _ string, p map[string]string, req events.APIGatewayV2HTTPRequest) Response {
	key, bad := kvKey(p["key"])
	if bad != nil {
		return *bad
	}
	opt, bad := crdtOptions(http.MethodPost, req)
	if bad != nil {
		return *bad
	}
	body, err := requestBody(req)
	if err != nil || len(body) > maxOpBody {
		return errorResponse(http.StatusBadRequest, client.CodeBadJSON, fmt.Sprintf("the body must be one JSON operation of at most %d bytes", maxOpBody))
	}
	var op crdt.Op
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&op); err != nil {
		return errorResponse(http.StatusBadRequest, client.CodeBadJSON, "invalid JSON operation: "+err.Error())
	}
	if dec.More() {
		return errorResponse(http.StatusBadRequest, client.CodeBadJSON, "trailing data after the JSON operation")
	}
	res, err := h.d.Coord.Update(ctx, key, op, opt)
	if err != nil {
		return h.fail(err)
	}
	if !opt.ReturnBody {
		return Response{StatusCode: http.StatusNoContent, Headers: map[string]string{}}
	}
	if !res.Found { // every element or field removed
		return jsonResponse(http.StatusOK, client.TypedValue{Type: string(op.Type), Value: emptyValue(op.Type)})
	}
	return typedResponse(res)
}

func emptyValue(t crdt.Type) json.RawMessage {
	if t == crdt.Set {
		return json.RawMessage("[]")
	}
	return json.RawMessage("{}")
}

func typedResponse(res coordinator.TypedResult) Response {
	v, err := json.Marshal(res.State.Value())
	if err != nil {
		return errorResponse(http.StatusInternalServerError, client.CodeInternal, "could not encode the value")
	}
	return jsonResponse(http.StatusOK, client.TypedValue{Type: string(res.State.Root.Type), Value: v, Context: res.Context})
}

// crdtOptions parses the quorum parameters (as on /kv) of a data type
// request; conditional headers do not apply.
func crdtOptions(method string, req events.APIGatewayV2HTTPRequest) (coordinator.Options, *Response) {
	for name := range req.QueryStringParameters {
		if !slices.Contains(crdtParams[method], name) {
			r := errorResponse(http.StatusBadRequest, client.CodeBadRequest, fmt.Sprintf("unknown query parameter '%s' for %s /crdt (accepted: %v)", name, method, crdtParams[method]))
			return coordinator.Options{}, &r
		}
	}
	for _, hd := range []string{"If-Match", "If-None-Match"} {
		if header(req, hd) != "" {
			r := errorResponse(http.StatusBadRequest, client.CodeBadRequest, hd+" does not apply to /crdt: a remove carries its context in the operation")
			return coordinator.Options{}, &r
		}
	}
	return kvOptions(method, req)
}
