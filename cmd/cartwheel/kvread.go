// The key-value commands' shared parts: quorum flags, the JSON form of a
// get, and the reads behind get, put --resolve and del.

package main

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
)

// quorumFlags are a request's quorum options, sent as query parameters:
// 1..N, one, quorum or all (pr and pw also 0; r and w also local); "" leaves
// the cluster's default.
type quorumFlags struct{ r, w, pr, pw string }

// options are the flags as a write's options (r, w, pr, pw).
func (q quorumFlags) options() api.Options {
	return api.Options{R: q.r, W: q.w, PR: q.pr, PW: q.pw}
}

// readOptions are the flags as a read's options (a get takes no write
// options).
func (q quorumFlags) readOptions() api.Options {
	return api.Options{R: q.r, PR: q.pr}
}

// readFlags registers --r and --pr.
func (q *quorumFlags) readFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&q.r, "r", "", "read quorum for this request: 1..N, one, quorum, all or local (a majority of the key's replicas in the coordinator's region) (default: the cluster's R)")
	cmd.Flags().StringVar(&q.pr, "pr", "", "primary replicas that must answer the read (fallbacks do not count): 0..N, one, quorum or all")
}

// writeFlags registers --w and --pw (and the read flags, for the read a
// delete or a conditional put makes first).
func (q *quorumFlags) writeFlags(cmd *cobra.Command) {
	q.readFlags(cmd)
	cmd.Flags().StringVar(&q.w, "w", "", "write quorum for this request: 1..N, one, quorum, all or local (a majority of the key's replicas in the coordinator's region) (default: the cluster's W)")
	cmd.Flags().StringVar(&q.pw, "pw", "", "primary replicas that must store the write (fallbacks do not count): 0..N, one, quorum or all")
}

type siblingJSON struct {
	Value       string `json:"value"`
	ContentType string `json:"contentType"`
	Timestamp   int64  `json:"timestamp"`
	Expires     int64  `json:"Expires,omitempty"`
}

// getJSON is what get --json prints (values base64, as on the wire).
type getJSON struct {
	Context  string        `json:"context"`
	Siblings []siblingJSON `json:"siblings"`
	// ETag is the response's ETag header (not in the server's body), for
	// get --if-none-match.
	ETag string `json:"etag,omitempty"`
}

// versionsJSON is v in the form get --json prints.
func versionsJSON(v api.Versions) getJSON {
	g := getJSON{Context: v.Context, ETag: v.ETag, Siblings: make([]siblingJSON, 0, len(v.Siblings))}
	for _, s := range v.Siblings {
		g.Siblings = append(g.Siblings, siblingJSON{Value: base64.StdEncoding.EncodeToString(s.Value), ContentType: s.ContentType, Timestamp: s.Timestamp, Expires: s.Expires})
	}
	return g
}

// errNotModified is fetch's answer to a 304 (get --if-none-match).
var errNotModified = errors.New("not modified")

// fetch gets key as JSON (every sibling, those too large for one answer
// fetched one by one) and caches its context. With ifNoneMatch (an ETag) it
// answers errNotModified while the versions are unchanged.
func (c *client) fetch(key string, q quorumFlags, ifNoneMatch string) (getJSON, error) {
	if err := c.ready(); err != nil {
		return getJSON{}, err
	}
	o := q.readOptions()
	o.ETag = ifNoneMatch
	v, err := c.api.Get(context.Background(), key, o)
	var ae *api.Error
	switch {
	case errors.Is(err, api.ErrNotModified):
		c.saveContext(key, v.Context)
		return getJSON{ETag: v.ETag}, errNotModified
	case errors.As(err, &ae) && ae.Body.Code == api.CodeNoSuchSibling:
		return getJSON{}, fail(exitError, "%s changed while its siblings were read one by one; get it again", key)
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		c.saveContext(key, v.Context) // a deleted key's context, for a re-create
		return getJSON{}, cliError(err)
	case err != nil:
		return getJSON{}, cliError(err)
	}
	c.saveContext(key, v.Context)
	return versionsJSON(v), nil
}

// currentContext reads key (a quorum read) and answers the context of what
// it saw: what a delete without a context deletes. A key with no live
// version is the server's 404, exit 3.
func (c *client) currentContext(key string, q quorumFlags) (string, error) {
	if err := c.ready(); err != nil {
		return "", err
	}
	v, err := c.api.Get(context.Background(), key, q.readOptions())
	if err != nil {
		return "", cliError(err)
	}
	return v.Context, nil
}

// staleContext reports whether an answer rejects the request's context.
func staleContext(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest && ae.Body.Code == api.CodeBadContext
}
