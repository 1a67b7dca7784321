// The check's HTTP client: requests to the Cartwheel API, admin calls, and
// the error kinds the report counts.

package setcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/cartwheel/cartwheel/client"
)

type api struct {
	base string
	hc   *http.Client
	// acked and failed count this coordinator's read-modify-writes while a
	// region cut is on (RegionReport.DuringCut).
	acked, failed atomic.Int64
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (a *api) do(ctx context.Context, method, path string, q url.Values, body []byte, hdr map[string]string) (reply, error) {
	u := a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// admin calls an admin route and decodes its JSON answer into out (if not nil).
func (a *api) admin(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	r, err := a.do(ctx, method, path, nil, body, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if r.status >= 300 {
		return &statusError{method: method, path: path, status: r.status, code: errorCode(r.body), body: r.body}
	}
	if out != nil && len(r.body) > 0 {
		if err := json.Unmarshal(r.body, out); err != nil {
			return fmt.Errorf("%s %s: bad JSON answer: %w", method, path, err)
		}
	}
	return nil
}

type statusError struct {
	method, path string
	status       int
	code         string
	body         []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %.200s", e.method, e.path, e.status, e.code, bytes.TrimSpace(e.body))
}

// errorCode returns the "error" field of a JSON error body ("" if none).
func errorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

// errorKind names a failed request for the error table: "put 503
// quorum_failed", "get timeout", "put network".
func errorKind(op string, r reply, err error) string {
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return op + " timeout"
		}
		return op + " network"
	}
	code := errorCode(r.body)
	if code == "" {
		code = strings.ReplaceAll(strings.ToLower(http.StatusText(r.status)), " ", "_")
	}
	return fmt.Sprintf("%s %d %s", op, r.status, code)
}

// readSet reads key (with quorum r, "" for the default) and returns the union
// of its siblings, its context and its sibling count. A failed request returns
// the error-table kind.
func (a *api) readSet(ctx context.Context, key string, r string) (set map[int64]bool, token string, siblings int, kind string, err error) {
	var q url.Values
	if r != "" {
		q = url.Values{"r": {r}}
	}
	rep, err := a.do(ctx, http.MethodGet, "/kv/"+url.PathEscape(key), q, nil, map[string]string{"Accept": "application/json"})
	set = map[int64]bool{}
	switch {
	case err != nil:
		return nil, "", 0, errorKind("get", rep, err), err
	case rep.status == http.StatusNotFound && errorCode(rep.body) == "not_found":
		return set, rep.header.Get(ContextHeader), 0, "", nil
	case rep.status != http.StatusOK && rep.status != http.StatusMultipleChoices:
		return nil, "", 0, errorKind("get", rep, nil), fmt.Errorf("get %s: status %d", key, rep.status)
	}
	var g client.GetBody // values are base64 in the JSON; a bad one fails the decode
	if err := json.Unmarshal(rep.body, &g); err != nil {
		return nil, "", 0, "get bad_json", fmt.Errorf("get %s: %w", key, err)
	}
	for _, s := range g.Siblings {
		elems, err := ParseSet(s.Value)
		if err != nil {
			return nil, "", 0, "get bad_value", fmt.Errorf("get %s: %w", key, err)
		}
		for _, e := range elems {
			set[e] = true
		}
	}
	return set, g.Context, len(g.Siblings), "", nil
}
