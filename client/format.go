// Package client is Cartwheel's HTTP API format and a Go client for it. It
// uses only the standard library, so any Go program can import it; the
// server (functions/httpapi), the CLI and the set check use the same names
// and shapes, so the three cannot drift apart.
//
//	c := client.New("http://127.0.0.1:8080")
//	v, err := c.Get(ctx, "cart:alice", client.Options{})
//	// ... merge v.Siblings ...
//	_, err = c.Put(ctx, "cart:alice", v.Context, []byte("apple,pear"), "text/plain", client.Options{})
//
// Against a deployed stack, pass an *http.Client whose transport signs
// requests (SigV4 for the default IAM auth) or adds a bearer token (JWT).
package client

import (
	"net/url"
	"strings"
)

// PathSegment URL-encodes s (a key, a node id) as one path segment. Beyond
// url.PathEscape, the segments "." and ".." are sent as %2E and %2E%2E:
// URL cleaning (Go's http.ServeMux, proxies, RFC 3986's dot-segment removal)
// would otherwise drop them, so those keys could not be reached.
func PathSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// Header names.
const (
	// ContextHeader carries the opaque causal context between a get and the
	// put or delete that follows it.
	ContextHeader = "X-Cartwheel-Context"
	// SiblingHeader names the sibling a ?sibling=<id> answer holds.
	SiblingHeader = "X-Cartwheel-Sibling"
	// ExpiresHeader is the Unix-millisecond expiry of the version a
	// single-value get (or HEAD, or ?sibling=<id>) answers; absent when it
	// never expires.
	ExpiresHeader = "X-Cartwheel-Expires"
)

// Query parameters of the key-value routes.
const (
	ParamR          = "r"          // read quorum: 1..N, one, quorum, all, local
	ParamW          = "w"          // write quorum
	ParamPR         = "pr"         // primary replicas that must answer a read
	ParamPW         = "pw"         // primary replicas that must store a write
	ParamReturnBody = "returnbody" // true: a put answers every sibling after the write
	ParamSibling    = "sibling"    // one sibling's value, by id, from a listing
	ParamTTL        = "ttl"        // a put's time to live: whole seconds, 1..MaxTTLSeconds
)

// MaxTTLSeconds is the longest time to live a put may ask for (ttl): ten
// years.
const MaxTTLSeconds = 315360000

// Query parameters of GET /keys.
const (
	ParamPrefix = "prefix" // only keys that start with it
	ParamLimit  = "limit"  // keys per page: 1..MaxKeysLimit, default DefaultKeysLimit
	ParamAfter  = "after"  // the "next" token of the previous page
)

// Page sizes of GET /keys.
const (
	DefaultKeysLimit = 1000
	MaxKeysLimit     = 10000
)

// KeysPage is the answer of GET /keys: live keys in byte order, and the
// token that continues the listing ("" on the last page).
type KeysPage struct {
	Keys []string `json:"keys"`
	Next string   `json:"next"`
}

// Health is the answer of GET /healthz and GET /readyz.
type Health struct {
	// Status is "ok", or "unavailable" (with a 503).
	Status string `json:"status"`
	// Checks name each readiness check and its verdict (readyz only).
	Checks map[string]string `json:"checks,omitempty"`
}

// Error codes: the "error" field of every error body.
const (
	CodeBadKey             = "bad_key"
	CodeBadContext         = "bad_context"
	CodeBadRequest         = "bad_request"
	CodeBadJSON            = "bad_json"
	CodeNotFound           = "not_found"
	CodeNoRoute            = "no_route"
	CodeNoSuchNode         = "no_such_node"
	CodeNoSuchSibling      = "no_such_sibling"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeTooManySiblings    = "too_many_siblings"
	CodePreconditionFailed = "precondition_failed"
	CodeValueTooLarge      = "value_too_large"
	CodeResponseTooLarge   = "response_too_large"
	CodeQuorumFailed       = "quorum_failed"
	CodeTimeout            = "timeout"           // no quorum before the request timed out (503)
	CodeInternal           = "internal"          // a server fault (500)
	CodeHeadersTooLarge    = "headers_too_large" // the request's headers are over the server's limit (431)

	// Admin API only.
	CodeNotAvailable     = "not_available"     // a job this deployment does not run here
	CodeNoPlan           = "no_plan"           // no ring change is planned
	CodeTransfersPending = "transfers_pending" // a commit before the transfers are done
	CodeStillMember      = "still_member"      // forget of a node that is still a member
	CodeFaultsDisabled   = "faults_disabled"   // fault injection is off
	CodeConflict         = "conflict"          // membership kept changing; retry
	CodeNodeExists       = "node_exists"       // adding a node whose id is a member
)

// Sibling is one version in a JSON get answer.
type Sibling struct {
	// Value is the stored bytes, base64 (standard encoding) on the wire.
	Value []byte `json:"value"`
	// ContentType is the value's media type as written.
	ContentType string `json:"contentType"`
	// Timestamp is the Unix-millisecond time of the write.
	Timestamp int64 `json:"timestamp"`
	// Expires is the Unix-millisecond time after which the version is
	// expired (no read returns it); absent (0) when it never expires.
	Expires int64 `json:"Expires,omitempty"`
}

// GetBody is the JSON answer of a get (with Accept: application/json, or
// whenever there are siblings) and of a put with returnbody=true.
type GetBody struct {
	// Context covers every sibling listed: a put with it supersedes them all.
	Context  string    `json:"context"`
	Siblings []Sibling `json:"siblings"`
}

// SiblingRef is one sibling of a listing: everything but its value.
type SiblingRef struct {
	ID          string `json:"id"`
	Size        int    `json:"size"`
	ContentType string `json:"contentType"`
	Timestamp   int64  `json:"timestamp"`
	Expires     int64  `json:"Expires,omitempty"` // as Sibling.Expires
}

// Listing is the answer of a get whose siblings are too large for one
// response (over Lambda's 6 MiB): each value is fetched with ?sibling=<id>.
type Listing struct {
	Context       string       `json:"context"`
	ValuesOmitted bool         `json:"valuesOmitted"`
	Siblings      []SiblingRef `json:"siblings"`
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Code    string `json:"error"`
	Message string `json:"message"`
	// Got and Need are set for quorum_failed.
	Got  int `json:"got,omitempty"`
	Need int `json:"need,omitempty"`
}
