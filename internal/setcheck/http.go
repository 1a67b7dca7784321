// The check's API access: one client.Client per coordinator, and the error
// kinds the report counts.

package setcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/cartwheel/cartwheel/client"
)

// api is one coordinator's client, with the counts of its read-modify-writes
// while a region cut is on (RegionReport.DuringCut).
type api struct {
	base          string
	c             *client.Client
	acked, failed atomic.Int64
}

// newAPI returns the check's client of the API at base, sending through hc.
func newAPI(base string, hc *http.Client) *api {
	return &api{base: base, c: client.New(base).WithHTTPClient(hc)}
}

// admin calls an admin route and decodes its JSON answer into out (if not
// nil); an error answer is a *client.Error.
func (a *api) admin(ctx context.Context, method, path string, in, out any) error {
	return a.c.Call(ctx, method, path, in, out)
}

// errorKind names a failed request for the error table: "put 503
// quorum_failed", "get timeout", "put network", "get bad_json".
func errorKind(op string, err error) string {
	var ce *client.Error
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		code := ce.Body.Code
		if code == "" {
			code = strings.ReplaceAll(strings.ToLower(http.StatusText(ce.Status)), " ", "_")
		}
		return fmt.Sprintf("%s %d %s", op, ce.Status, code)
	case errors.Is(err, client.ErrBadAnswer):
		return op + " bad_json"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return op + " timeout"
	}
	return op + " network"
}

// readQuorum and writeQuorum are the check's quorum option ("" for the
// cluster's default) as a read's or a write's options.
func readQuorum(r string) client.Options  { return client.Options{R: r} }
func writeQuorum(w string) client.Options { return client.Options{W: w} }

// readSet reads key (with quorum r, "" for the default) and returns the union
// of its siblings, its context and its sibling count. A failed request returns
// the error-table kind.
func (a *api) readSet(ctx context.Context, key string, r string) (set map[int64]bool, token string, siblings int, kind string, err error) {
	v, err := a.c.Get(ctx, key, readQuorum(r))
	set = map[int64]bool{}
	switch {
	case errors.Is(err, client.ErrNotFound):
		return set, v.Context, 0, "", nil
	case err != nil:
		return nil, "", 0, errorKind("get", err), fmt.Errorf("get %s: %w", key, err)
	}
	for _, s := range v.Siblings {
		elems, err := ParseSet(s.Value)
		if err != nil {
			return nil, "", 0, "get bad_value", fmt.Errorf("get %s: %w", key, err)
		}
		for _, e := range elems {
			set[e] = true
		}
	}
	return set, v.Context, len(v.Siblings), "", nil
}
