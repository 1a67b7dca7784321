package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// Lambda's synchronous response limit applies to the whole response JSON the
// function returns (status, headers and the base64 body inside a JSON
// string); past it API Gateway answers an opaque 5xx. Every response is kept
// under it:
//
//   - a get whose full answer (every sibling's value, base64) would not fit
//     under MaxResponseBytes - ListingMargin answers 300 with the siblings'
//     ids and sizes instead, and each value is fetched alone with
//     ?sibling=<id> (a value is at most 1 MiB, so each fits);
//   - any other response over MaxResponseBytes becomes 413
//     response_too_large (a backstop: no route builds one today).
//
// The local server applies the same rules, so it answers as the deployed API.
const (
	// MaxResponseBytes is Lambda's synchronous invocation response limit,
	// 6 MiB (the Runtime Interface Emulator accepts 100 bytes more; see the
	// contract test).
	MaxResponseBytes = 6 << 20
	// ListingMargin is kept free under MaxResponseBytes when a get decides
	// between the full answer and the listing, for headers other code adds.
	ListingMargin = 4 << 10
	// SiblingParam is the query parameter that selects one sibling by id.
	SiblingParam = client.ParamSibling
	// SiblingHeader names the sibling a ?sibling= answer holds.
	SiblingHeader = client.SiblingHeader
)

// siblingRef is one entry of a listing: a sibling without its value.
type siblingRef = client.SiblingRef

// listingBody is the get answer for a sibling set too large for one response.
type listingBody = client.Listing

// SiblingID is a sibling's stable id: a hash of its dot (the write that made
// it), so it names the same version in every read until it is superseded.
func SiblingID(d vclock.Dot) string {
	sum := sha256.Sum256([]byte(d.String()))
	return hex.EncodeToString(sum[:8])
}

// largeGet answers a get of a found key when the plain answer cannot be used:
// ?sibling=<id> selects one sibling's value; a sibling set whose full answer
// would not fit a Lambda response is listed without values. It returns false
// when the full answer fits and no sibling was selected.
func largeGet(g coordinator.GetResult, req events.APIGatewayV2HTTPRequest) (Response, bool) {
	if id, ok := req.QueryStringParameters[SiblingParam]; ok {
		for _, s := range g.Siblings {
			if SiblingID(s.Dot) == id {
				ct := s.ContentType
				if ct == "" {
					ct = "application/octet-stream"
				}
				return Response{
					StatusCode: http.StatusOK,
					// No context: the listing's context covers every sibling;
					// this answer shows only one.
					Headers:         expiresHeader(map[string]string{"Content-Type": ct, SiblingHeader: id}, s),
					Body:            base64.StdEncoding.EncodeToString(s.Value),
					IsBase64Encoded: true,
				}, true
			}
		}
		return errorResponse(http.StatusNotFound, client.CodeNoSuchSibling,
			fmt.Sprintf("no sibling %q: it was superseded or never existed; get the key again", id)), true
	}
	if FullGetSize(g, wantsJSON(req)) <= MaxResponseBytes-ListingMargin {
		return Response{}, false
	}
	r := jsonResponse(http.StatusMultipleChoices, listing(g))
	r.Headers[ContextHeader] = g.Context
	return r, true
}

// listing is g without its values: each sibling's id, size, content type
// and time, with the context covering them all.
func listing(g coordinator.GetResult) listingBody {
	body := listingBody{Context: g.Context, ValuesOmitted: true, Siblings: make([]siblingRef, 0, len(g.Siblings))}
	for _, s := range g.Siblings {
		body.Siblings = append(body.Siblings, siblingRef{ID: SiblingID(s.Dot), Size: len(s.Value), ContentType: s.ContentType, Timestamp: s.Time, Expires: s.Expires})
	}
	return body
}

// FullGetSize is the size in bytes of the Lambda response JSON of a get that
// returns every sibling's value (as the raw value when there is one sibling
// and JSON was not asked for), computed without building it: base64 needs no
// JSON escaping, so each value adds exactly its base64 length.
func FullGetSize(g coordinator.GetResult, asJSON bool) int {
	values := 0
	for _, s := range g.Siblings {
		values += base64.StdEncoding.EncodedLen(len(s.Value))
	}
	if len(g.Siblings) == 1 && !asJSON {
		ct := g.Siblings[0].ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		return responseSize(Response{StatusCode: http.StatusOK, Headers: expiresHeader(map[string]string{"Content-Type": ct, ContextHeader: g.Context, "ETag": versionsETag(g.Siblings)}, g.Siblings[0]), IsBase64Encoded: true}) + values
	}
	body := client.GetBody{Context: g.Context}
	for _, s := range g.Siblings {
		body.Siblings = append(body.Siblings, client.Sibling{Value: []byte{}, ContentType: s.ContentType, Timestamp: s.Time, Expires: s.Expires})
	}
	r := jsonResponse(http.StatusMultipleChoices, body)
	r.Headers[ContextHeader] = g.Context
	r.Headers["ETag"] = versionsETag(g.Siblings)
	return responseSize(r) + values
}

// responseSize is the length of r as the Lambda runtime sends it (JSON).
func responseSize(r Response) int {
	b, err := json.Marshal(r)
	if err != nil {
		return MaxResponseBytes + 1 // cannot happen for strings and maps of strings
	}
	return len(b)
}

// fitLambda returns r, or 413 response_too_large when r would exceed
// MaxResponseBytes. A response is measured exactly only when a cheap bound
// (JSON escapes a byte into at most 6) says it might not fit.
func fitLambda(r Response) Response {
	n := len(r.Body) + 256
	for k, v := range r.Headers {
		n += len(k) + len(v) + 8
	}
	if 6*n <= MaxResponseBytes {
		return r
	}
	if size := responseSize(r); size > MaxResponseBytes {
		return errorResponse(http.StatusRequestEntityTooLarge, client.CodeResponseTooLarge,
			fmt.Sprintf("the response would be %d bytes, over Lambda's %d-byte limit", size, MaxResponseBytes))
	}
	return r
}
