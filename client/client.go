package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is on the *Error a call returns.
var (
	// ErrNotFound: the key has no live version (404 not_found).
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: an If-None-Match or If-Match condition did not
	// hold; nothing was written (412).
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrUnavailable: fewer replicas than required answered (503); retry.
	ErrUnavailable = errors.New("quorum unavailable")
	// ErrNotModified: a get with Options.ETag found the versions unchanged
	// (304); the returned Versions hold only the context and the ETag.
	ErrNotModified = errors.New("not modified")
)

// Error is a Cartwheel error answer.
type Error struct {
	Status int
	Body   ErrorBody
	// Raw is the answer's body as received, for the fields some routes add
	// to the error body (e.g. a commit's transfers_pending progress).
	Raw []byte
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("cartwheel: %d %s: %s", e.Status, e.Body.Code, e.Body.Message)
}

// Is maps the answer to the sentinel errors.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Body.Code == CodeNotFound
	case ErrPreconditionFailed:
		return e.Status == http.StatusPreconditionFailed
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable
	}
	return false
}

// Client calls one Cartwheel HTTP API. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
}

// New returns a client for the API at baseURL (e.g. http://127.0.0.1:8080,
// or a stack's ApiUrl) using http.DefaultClient.
func New(baseURL string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), http: http.DefaultClient}
}

// WithHTTPClient returns a copy of c that sends requests through hc (for
// timeouts, or a transport that signs requests).
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	out := *c
	out.http = hc
	return &out
}

// Options are a request's quorum sizes and conditions. Empty fields keep the
// cluster's defaults.
type Options struct {
	// R, W, PR and PW are "1".."N", "one", "quorum" or "all" (PR and PW
	// also "0"; R and W also "local": a majority of the key's replicas in
	// the coordinator's region, waiting for no other region).
	R, W, PR, PW string
	// IfNoneMatch makes a put create-only.
	IfNoneMatch bool
	// IfMatch makes a put or delete conditional on the context given to it
	// (it is sent as If-Match instead of the context header).
	IfMatch bool
	// ReturnBody asks a put for every version after the write.
	ReturnBody bool
	// TTL is a put's time to live (ttl), sent in whole seconds rounded up;
	// 0 leaves the cluster's default (none unless configured).
	TTL time.Duration
	// ETag makes a get conditional (If-None-Match: the ETag of an earlier
	// answer): while the versions are unchanged it answers ErrNotModified.
	ETag string
}

func (o Options) query(read bool) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set(ParamR, o.R)
	set(ParamPR, o.PR)
	if !read {
		set(ParamW, o.W)
		set(ParamPW, o.PW)
		if o.ReturnBody {
			q.Set(ParamReturnBody, "true")
		}
		if o.TTL > 0 {
			q.Set(ParamTTL, strconv.FormatInt(int64((o.TTL+time.Second-1)/time.Second), 10))
		}
	}
	return q
}

// Versions is what a get (or a put with ReturnBody) answers: the live
// versions and the context that covers them.
type Versions struct {
	Siblings []Sibling
	Context  string
	// ETag changes whenever the set of versions changes.
	ETag string
}

// Get reads key: every sibling and the context to write back with. An
// absent or deleted key is ErrNotFound (its context, for a re-create, is in
// the returned Versions). Sibling sets too large for one response are
// fetched one value at a time.
func (c *Client) Get(ctx context.Context, key string, o Options) (Versions, error) {
	resp, body, err := c.do(ctx, http.MethodGet, key, o.query(true), nil, map[string]string{"Accept": "application/json", "If-None-Match": o.ETag})
	if err != nil {
		return Versions{}, err
	}
	v := Versions{Context: resp.Header.Get(ContextHeader), ETag: resp.Header.Get("ETag")}
	if resp.StatusCode == http.StatusNotModified && o.ETag != "" {
		return v, ErrNotModified
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusMultipleChoices {
		return v, apiError(resp, body)
	}
	return c.versions(ctx, key, o, body, v)
}

// versions decodes a get body, fetching omitted values.
func (c *Client) versions(ctx context.Context, key string, o Options, body []byte, v Versions) (Versions, error) {
	var l Listing
	if err := json.Unmarshal(body, &l); err == nil && l.ValuesOmitted {
		v.Context = l.Context
		for _, ref := range l.Siblings {
			q := o.query(true)
			q.Set(ParamSibling, ref.ID)
			resp, b, err := c.do(ctx, http.MethodGet, key, q, nil, nil)
			if err != nil {
				return Versions{}, err
			}
			if resp.StatusCode != http.StatusOK {
				return Versions{}, apiError(resp, b)
			}
			v.Siblings = append(v.Siblings, Sibling{Value: b, ContentType: ref.ContentType, Timestamp: ref.Timestamp, Expires: ref.Expires})
		}
		return v, nil
	}
	var g GetBody
	if err := json.Unmarshal(body, &g); err != nil {
		return Versions{}, fmt.Errorf("cartwheel: %w: %w", ErrBadAnswer, err)
	}
	v.Siblings, v.Context = g.Siblings, g.Context
	return v, nil
}

// Put writes value under key with the context of the versions it
// supersedes ("" writes blind: a sibling of whatever exists). It returns the
// context of the new version (what the request's context covered plus the
// new version), or with o.ReturnBody every version after the write.
func (c *Client) Put(ctx context.Context, key, token string, value []byte, contentType string, o Options) (Versions, error) {
	return c.write(ctx, http.MethodPut, key, token, value, contentType, o)
}

// Delete deletes the versions context covers ("" deletes what a quorum read
// sees).
func (c *Client) Delete(ctx context.Context, key, token string, o Options) (Versions, error) {
	return c.write(ctx, http.MethodDelete, key, token, nil, "", o)
}

func (c *Client) write(ctx context.Context, method, key, token string, value []byte, contentType string, o Options) (Versions, error) {
	h := map[string]string{"Content-Type": contentType, ContextHeader: token}
	if o.IfNoneMatch {
		h["If-None-Match"] = "*"
	}
	if o.IfMatch {
		h["If-Match"], h[ContextHeader] = token, ""
	}
	resp, body, err := c.do(ctx, method, key, o.query(false), value, h)
	if err != nil {
		return Versions{}, err
	}
	v := Versions{Context: resp.Header.Get(ContextHeader), ETag: resp.Header.Get("ETag")}
	switch resp.StatusCode {
	case http.StatusNoContent:
		return v, nil
	case http.StatusOK:
		return c.versions(ctx, key, o, body, v)
	}
	return Versions{}, apiError(resp, body)
}

func (c *Client) do(ctx context.Context, method, key string, q url.Values, body []byte, headers map[string]string) (*http.Response, []byte, error) {
	return c.doPath(ctx, method, "/kv/"+PathSegment(key), q, body, headers)
}

// Do sends one request to path (already escaped, e.g. "/admin/commit") with
// the query q, the body and the headers (empty values are not sent), and
// returns the answer with its body read and closed, whatever its status. It
// is for callers that need an answer's headers or raw body (the CLI's admin
// commands); the typed methods above are the ordinary way in.
func (c *Client) Do(ctx context.Context, method, path string, q url.Values, body []byte, headers map[string]string) (*http.Response, []byte, error) {
	return c.doPath(ctx, method, path, q, body, headers)
}

// doPath sends one request to path (already escaped) and reads the answer.
func (c *Client) doPath(ctx context.Context, method, path string, q url.Values, body []byte, headers map[string]string) (*http.Response, []byte, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("cartwheel: %w", err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cartwheel: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("cartwheel: %s %s: reading the answer: %w", method, u, err)
	}
	return resp, b, nil
}

// apiError decodes an error answer.
func apiError(resp *http.Response, body []byte) error {
	e := &Error{Status: resp.StatusCode, Raw: body}
	if json.Unmarshal(body, &e.Body) != nil || e.Body.Code == "" {
		e.Body.Message = strings.TrimSpace(string(body))
	}
	return e
}
