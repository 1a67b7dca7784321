// The key-value routes: GET, HEAD, PUT (POST) and DELETE /kv/{key}.

package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
)

func header(req events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func wantsJSON(req events.APIGatewayV2HTTPRequest) bool {
	return strings.Contains(header(req, "Accept"), "application/json")
}

func (h *Handler) get(ctx context.Context, key string, req events.APIGatewayV2HTTPRequest) Response {
	opt, bad := kvOptions(req.RequestContext.HTTP.Method, req)
	if bad != nil {
		return *bad
	}
	g, err := h.d.Coord.Get(ctx, key, opt)
	if err != nil {
		return h.fail(err)
	}
	if coordinator.IsTyped(g.Siblings) {
		return errorResponse(http.StatusConflict, client.CodeTypeMismatch, "the key holds a data type: read it with GET /crdt/{key}")
	}
	if !g.Found() {
		r := errorResponse(http.StatusNotFound, client.CodeNotFound, fmt.Sprintf("no value for key %q", key))
		if g.Context != "" {
			r.Headers[ContextHeader] = g.Context // a re-create with it supersedes the delete
		}
		return r
	}
	etag := versionsETag(g.Siblings)
	if inm := header(req, "If-None-Match"); inm != "" && etagMatches(inm, etag) {
		return Response{StatusCode: http.StatusNotModified, Headers: map[string]string{"ETag": etag, ContextHeader: g.Context}}
	}
	if r, done := largeGet(g, req); done { // ?sibling=, or too large for one Lambda response
		if r.StatusCode == http.StatusMultipleChoices {
			r.Headers["ETag"] = etag
		}
		return r
	}
	r := h.getResponse(g, wantsJSON(req))
	r.Headers["ETag"] = etag
	return r
}

// getResponse renders a get's result: the raw value, or JSON for siblings
// (or when asked).
func (h *Handler) getResponse(g coordinator.GetResult, asJSON bool) Response {
	if len(g.Siblings) == 1 && !asJSON {
		s := g.Siblings[0]
		ct := s.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		return Response{
			StatusCode:      http.StatusOK,
			Headers:         expiresHeader(map[string]string{"Content-Type": ct, ContextHeader: g.Context}, s),
			Body:            base64.StdEncoding.EncodeToString(s.Value),
			IsBase64Encoded: true,
		}
	}
	body := jsonBody(g)
	status := http.StatusOK
	if len(g.Siblings) > 1 {
		status = http.StatusMultipleChoices
	}
	r := jsonResponse(status, body)
	r.Headers[ContextHeader] = g.Context
	return r
}

// jsonBody is the JSON form of a get's result, in the client package's
// shape (client.GetBody), which base64-encodes each value.
func jsonBody(g coordinator.GetResult) client.GetBody {
	body := client.GetBody{Context: g.Context, Siblings: []client.Sibling{}}
	for _, s := range g.Siblings {
		v := s.Value
		if v == nil {
			v = []byte{} // "" on the wire, not null
		}
		body.Siblings = append(body.Siblings, client.Sibling{Value: v, ContentType: s.ContentType, Timestamp: s.Time, Expires: s.Expires})
	}
	return body
}

func requestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	return base64.StdEncoding.DecodeString(req.Body)
}

func (h *Handler) put(ctx context.Context, key string, req events.APIGatewayV2HTTPRequest) Response {
	opt, bad := kvOptions(req.RequestContext.HTTP.Method, req)
	if bad != nil {
		return *bad
	}
	body, err := requestBody(req)
	if err != nil {
		return errorResponse(http.StatusBadRequest, client.CodeBadRequest, "the body is not valid base64")
	}
	ct := header(req, "Content-Type")
	p, err := h.d.Coord.Put(ctx, key, header(req, ContextHeader), coordinator.Value{Data: body, ContentType: ct}, opt)
	if err != nil {
		return h.fail(err)
	}
	return putResponse(p)
}

// putResponse answers a put or delete: 204 with the new context, or, with
// returnbody, 200 with the JSON a get gives (every sibling after the write)
// and that body's context in the header too.
func putResponse(p coordinator.PutResult) Response {
	if p.Body != nil {
		r := jsonResponse(http.StatusOK, jsonBody(*p.Body))
		if FullGetSize(*p.Body, true) > MaxResponseBytes-ListingMargin {
			r = jsonResponse(http.StatusOK, listing(*p.Body)) // values too large for one response: fetch each with ?sibling=
		}
		if p.Body.Context != "" {
			r.Headers[ContextHeader] = p.Body.Context
		}
		if p.Body.Found() {
			r.Headers["ETag"] = versionsETag(p.Body.Siblings)
		}
		return r
	}
	r := Response{StatusCode: http.StatusNoContent, Headers: map[string]string{}}
	if p.Context != "" {
		r.Headers[ContextHeader] = p.Context
	}
	return r
}

func (h *Handler) del(ctx context.Context, key string, req events.APIGatewayV2HTTPRequest) Response {
	opt, bad := kvOptions(req.RequestContext.HTTP.Method, req)
	if bad != nil {
		return *bad
	}
	p, err := h.d.Coord.Delete(ctx, key, header(req, ContextHeader), opt)
	if err != nil {
		return h.fail(err)
	}
	return putResponse(p)
}
