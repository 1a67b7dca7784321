package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
	"golang.org/x/term"
)

// Exit codes, for scripts.
const (
	exitOK          = 0
	exitError       = 1 // network or server error
	exitUsage       = 2 // bad command line
	exitNotFound    = 3 // the key has no value
	exitSiblings    = 4 // get found concurrent versions (all printed)
	exitUnavailable = 5 // quorum not reached (503): retry later
	exitRejected    = 6 // the server rejected the request (other 4xx)
	exitLost        = 7 // check: an acknowledged write was lost (or an element nobody wrote appeared)
)

// exitError carries an exit code out of a command.
type exitErr struct {
	code int
	msg  string
}

func (e *exitErr) Error() string { return e.msg }

func fail(code int, format string, a ...any) error {
	return &exitErr{code: code, msg: fmt.Sprintf(format, a...)}
}

// client talks to a Cartwheel HTTP API.
type client struct {
	base  string
	http  *http.Client
	cache string // context cache directory ("" disables)
	sign  string // when to sign requests with SigV4: auto, always, never
}

type globalOptions struct {
	url     string
	noCache bool
	timeout time.Duration
	sign    string
}

func (g *globalOptions) client() *client {
	c := &client{base: strings.TrimRight(g.url, "/"), http: &http.Client{Timeout: g.timeout}, sign: g.sign}
	if !g.noCache {
		if dir, err := os.UserCacheDir(); err == nil {
			c.cache = filepath.Join(dir, "cartwheel", "contexts")
		}
	}
	return c
}

func (c *client) do(method, path string, query url.Values, body []byte, headers map[string]string) (*http.Response, []byte, error) {
	if _, err := checkURL(c.base); err != nil {
		return nil, nil, err
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fail(exitUsage, "bad URL %q: %v", u, err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if _, err := needsSigning(c.sign, req.URL); err != nil {
		return nil, nil, fail(exitUsage, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.http.Timeout)
	defer cancel()
	if err := authorize(ctx, c.sign, req, body); err != nil {
		return nil, nil, fail(exitError, "signing %s %s: %v", method, u, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, connError(method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fail(exitError, "%s %s: reading the response: %v", method, u, err)
	}
	return resp, b, nil
}

// apiError turns an error response into an exit error with the server's message.
func apiError(resp *http.Response, body []byte) error {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	msg := e.Message
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	code := exitError
	switch {
	case resp.StatusCode == http.StatusNotFound: // a key, a node, a route
		code = exitNotFound
	case resp.StatusCode == http.StatusServiceUnavailable:
		code = exitUnavailable
	case e.Error == api.CodeBadRequest:
		code = exitUsage // a query parameter the server refused: a flag's value (--r 4)
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		code = exitRejected
	}
	return fail(code, "%s (%d %s)", msg, resp.StatusCode, e.Error)
}

func keyPath(key string) string { return "/kv/" + api.PathSegment(key) }

func (c *client) cacheFile(key string) string {
	if c.cache == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(c.base + "\x00" + key))
	return filepath.Join(c.cache, hex.EncodeToString(sum[:16]))
}

func (c *client) savedContext(key string) string {
	f := c.cacheFile(key)
	if f == "" {
		return ""
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// forgetContext drops key's cached context.
func (c *client) forgetContext(key string) {
	if f := c.cacheFile(key); f != "" {
		_ = os.Remove(f)
	}
}

// staleContext reports whether an answer rejects the request's context.
func staleContext(resp *http.Response, body []byte) bool {
	var e api.ErrorBody
	return resp.StatusCode == http.StatusBadRequest && json.Unmarshal(body, &e) == nil && e.Code == api.CodeBadContext
}

func (c *client) saveContext(key, ctx string) {
	f := c.cacheFile(key)
	if f == "" || ctx == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err == nil {
		_ = os.WriteFile(f, []byte(ctx+"\n"), 0o600)
	}
}

// quorumFlags are a request's quorum options, sent as query parameters:
// 1..N, one, quorum or all (pr and pw also 0; r and w also local); "" leaves
// the cluster's default.
type quorumFlags struct{ r, w, pr, pw string }

func (q quorumFlags) values() url.Values {
	v := url.Values{}
	for name, val := range map[string]string{"r": q.r, "w": q.w, "pr": q.pr, "pw": q.pw} {
		if val != "" {
			v.Set(name, val)
		}
	}
	return v
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

type getJSON struct {
	Context  string        `json:"context"`
	Siblings []siblingJSON `json:"siblings"`
	// ETag is the response's ETag header (not in the server's body), for
	// get --if-none-match.
	ETag string `json:"etag,omitempty"`
}

// errNotModified is fetch's answer to a 304 (get --if-none-match).
var errNotModified = errors.New("not modified")

// fetch gets key as JSON (every sibling) and caches its context. With
// ifNoneMatch (an ETag) it answers errNotModified while the versions are
// unchanged.
func (c *client) fetch(key string, q quorumFlags, ifNoneMatch string) (getJSON, error) {
	read := quorumFlags{r: q.r, pr: q.pr} // a get takes no write options
	resp, body, err := c.do(http.MethodGet, keyPath(key), read.values(), nil, map[string]string{"Accept": "application/json", "If-None-Match": ifNoneMatch})
	if err != nil {
		return getJSON{}, err
	}
	if resp.StatusCode == http.StatusNotModified {
		c.saveContext(key, resp.Header.Get(api.ContextHeader))
		return getJSON{ETag: resp.Header.Get("ETag")}, errNotModified
	}
	if resp.StatusCode == http.StatusNotFound {
		c.saveContext(key, resp.Header.Get(api.ContextHeader))
		return getJSON{}, apiError(resp, body)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusMultipleChoices {
		return getJSON{}, apiError(resp, body)
	}
	var g getJSON
	if err := json.Unmarshal(body, &g); err != nil {
		return getJSON{}, fail(exitError, "bad JSON from the server: %v", err)
	}
	g.ETag = resp.Header.Get("ETag")
	if err := c.fillOmitted(key, q, body, &g); err != nil { // too large for one response: one by one
		return getJSON{}, err
	}
	c.saveContext(key, g.Context)
	return g, nil
}

// currentContext reads key (a quorum read, values not needed) and answers
// the context of what it saw: what a delete without a context deletes. A
// key with no live version is the server's 404, exit 3.
func (c *client) currentContext(key string, q quorumFlags) (string, error) {
	read := quorumFlags{r: q.r, pr: q.pr}
	resp, body, err := c.do(http.MethodGet, keyPath(key), read.values(), nil, map[string]string{"Accept": "application/json"})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusMultipleChoices {
		return "", apiError(resp, body)
	}
	var g struct {
		Context string `json:"context"`
	}
	if err := json.Unmarshal(body, &g); err != nil {
		return "", fail(exitError, "bad JSON from the server: %v", err)
	}
	return g.Context, nil
}

// printVersions prints a get's (or a put's returnbody) versions: the raw
// value, or each sibling under a header line (exit code 4), or the JSON
// form (exit code 4 too when there are siblings).
func printVersions(out io.Writer, key string, res getJSON, asJSON bool) error {
	siblings := fail(exitSiblings, "%d concurrent versions; resolve with: cartwheel put --resolve %s FILE", len(res.Siblings), key)
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
		if len(res.Siblings) > 1 {
			return siblings
		}
		return nil
	}
	if len(res.Siblings) == 1 {
		v, err := base64.StdEncoding.DecodeString(res.Siblings[0].Value)
		if err != nil {
			return fail(exitError, "bad value encoding from the server")
		}
		_, err = out.Write(v)
		return err
	}
	for i, s := range res.Siblings {
		v, err := base64.StdEncoding.DecodeString(s.Value)
		if err != nil {
			return fail(exitError, "bad value encoding from the server")
		}
		fmt.Fprintf(out, "--- sibling %d of %d (%s, written %s%s)\n", i+1, len(res.Siblings), orDefault(s.ContentType, "no content type"),
			time.UnixMilli(s.Timestamp).UTC().Format(time.RFC3339), expiresNote(s.Expires))
		_, _ = out.Write(v)
		fmt.Fprintln(out)
	}
	if len(res.Siblings) > 1 {
		return siblings
	}
	return nil
}

func getCmd(g *globalOptions) *cobra.Command {
	var q quorumFlags
	var asJSON bool
	var ifNoneMatch string
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Print the value of KEY (every version, if there are siblings)",
		Long: `get prints KEY's value to standard output and remembers its context, so a
following put of the same key supersedes what you saw. If concurrent writes left
several versions (siblings), all are printed, each under a header line, and the
exit code is 4; resolve them with put --resolve.
Exit codes: 0 ok, 3 not found, 4 siblings, 5 quorum unavailable, 6 rejected, 1 other.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			res, err := c.fetch(args[0], q, ifNoneMatch)
			if errors.Is(err, errNotModified) {
				fmt.Fprintf(cmd.ErrOrStderr(), "not modified (ETag %s)\n", res.ETag)
				return nil
			}
			if err != nil {
				return err
			}
			return printVersions(cmd.OutOrStdout(), args[0], res, asJSON)
		},
	}
	q.readFlags(cmd)
	cmd.Flags().StringVar(&ifNoneMatch, "if-none-match", "", "an ETag (from get --json): print nothing and exit 0 while the versions are unchanged (304)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON form (context and base64 siblings)")
	return cmd
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func putCmd(g *globalOptions) *cobra.Command {
	var (
		q           quorumFlags
		ctxFlag     string
		contentType string
		resolve     bool
		blind       bool
		ifNoneMatch bool
		ifMatch     bool
		returnBody  bool
		ttl         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "put KEY [FILE|-]",
		Short: "Write KEY's value from FILE or standard input",
		Long: `put writes a value, read from FILE, or from standard input when FILE is - or
absent (with no FILE, standard input must not be a terminal). It sends the context
of your last get or put of KEY (kept in a small cache), so the write supersedes the
versions you saw, and nothing else: a concurrent write you were never shown stays as
a sibling. --context passes a context explicitly; --blind sends none (the write
becomes a sibling of whatever exists); --resolve reads KEY first and supersedes
every current version (use it to merge siblings after get showed them).
--if-none-match writes only if KEY has no value (create-only); --if-match writes
only if nothing was written since the context was read (compare-and-set). Either
answers exit code 6 (412 precondition_failed) when the condition does not hold.
--ttl 30m makes the version expire (whole seconds, at most 3650 days).
Exit codes: 0 ok, 2 usage, 5 quorum unavailable, 6 rejected (bad key, too large, too many siblings, precondition failed), 1 other.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			key := args[0]
			var data []byte
			var err error
			switch {
			case len(args) == 1 && isTerminal(cmd.InOrStdin()):
				return fail(exitUsage, "give the value as a FILE, or pipe it in: echo hi | cartwheel put %s", key)
			case len(args) == 1 || args[1] == "-":
				data, err = io.ReadAll(cmd.InOrStdin())
			default:
				data, err = os.ReadFile(args[1])
			}
			if err != nil {
				return fail(exitUsage, "reading the value: %v", err)
			}
			if ifNoneMatch && (ifMatch || resolve || ctxFlag != "") {
				return fail(exitUsage, "--if-none-match takes no context: drop --if-match, --resolve and --context")
			}
			token := ctxFlag
			switch {
			case blind || ifNoneMatch:
				token = ""
			case resolve:
				res, err := c.fetch(key, q, "")
				var ee *exitErr
				if err != nil && !(errors.As(err, &ee) && ee.code == exitNotFound) {
					return err
				}
				token = res.Context
				if token == "" {
					token = c.savedContext(key)
				}
			case token == "":
				token = c.savedContext(key)
			}
			headers := map[string]string{"Content-Type": contentType, api.ContextHeader: token}
			if ifNoneMatch {
				headers["If-None-Match"] = "*"
			}
			if ifMatch {
				if token == "" {
					return fail(exitUsage, "--if-match needs a context: get KEY first, or pass --context")
				}
				headers["If-Match"], headers[api.ContextHeader] = token, ""
			}
			query := q.values()
			if returnBody {
				query.Set("returnbody", "true")
			}
			if err := setTTL(query, ttl); err != nil {
				return err
			}
			cached := ctxFlag == "" && token != "" && token == c.savedContext(key)
			resp, body, err := c.do(http.MethodPut, keyPath(key), query, data, headers)
			if err != nil {
				return err
			}
			if cached && staleContext(resp, body) {
				// The cluster no longer accepts the cached context (its context key
				// changed, or another cluster answers at this URL). Without one the
				// write is a sibling of what the key holds: nothing is lost.
				c.forgetContext(key)
				if ifMatch {
					return fail(exitRejected, "the cached context of %s is no longer accepted (the cluster's context key changed, or another cluster answers at this URL); it was dropped: get %s again", key, key)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "cartwheel: the cached context of %s is no longer accepted (the cluster's context key changed, or another cluster answers at this URL); wrote without it, so the value is a sibling of what %s holds\n", key, key)
				headers[api.ContextHeader] = ""
				if resp, body, err = c.do(http.MethodPut, keyPath(key), query, data, headers); err != nil {
					return err
				}
			}
			if resp.StatusCode == http.StatusOK && returnBody {
				var res getJSON
				if err := json.Unmarshal(body, &res); err != nil {
					return fail(exitError, "bad JSON from the server: %v", err)
				}
				c.saveContext(key, res.Context) // covers the siblings printed
				return printVersions(cmd.OutOrStdout(), key, res, false)
			}
			if resp.StatusCode != http.StatusNoContent {
				return apiError(resp, body)
			}
			c.saveContext(key, resp.Header.Get(api.ContextHeader))
			return nil
		},
	}
	q.writeFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&ifNoneMatch, "if-none-match", false, "create-only: write only if KEY has no value (If-None-Match: *)")
	f.BoolVar(&ifMatch, "if-match", false, "compare-and-set: write only if nothing was written since the context was read (If-Match)")
	f.BoolVar(&returnBody, "returnbody", false, "print every version after the write (exit 4 if there are siblings); the cached context then covers them all")
	f.StringVar(&ctxFlag, "context", "", "the context to write with (default: from your last get or put of KEY)")
	f.StringVar(&contentType, "content-type", "application/octet-stream", "the value's media type")
	f.BoolVar(&resolve, "resolve", false, "read KEY first and supersede every current version")
	f.BoolVar(&blind, "blind", false, "send no context: the write becomes a sibling of existing versions")
	f.DurationVar(&ttl, "ttl", 0, "time to live of the new version (a Go duration in whole seconds, e.g. 30m; default: the cluster's, none unless set)")
	return cmd
}

func delCmd(g *globalOptions) *cobra.Command {
	var q quorumFlags
	var ctxFlag string
	var ifMatch bool
	cmd := &cobra.Command{
		Use:   "del KEY",
		Short: "Delete KEY (the versions your context covers; without one, what a read sees: exit 3 if KEY has no value)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			token := ctxFlag
			if token == "" {
				token = c.savedContext(args[0])
			}
			headers := map[string]string{api.ContextHeader: token}
			if ifMatch {
				if token == "" {
					return fail(exitUsage, "--if-match needs a context: get KEY first, or pass --context")
				}
				headers["If-Match"], headers[api.ContextHeader] = token, ""
			}
			cached := ctxFlag == "" && token != ""
			if token == "" {
				// The server would read and delete what it sees; reading
				// here first tells a key that never existed (exit 3).
				seen, err := c.currentContext(args[0], q)
				if err != nil {
					return err
				}
				headers[api.ContextHeader] = seen
			}
			resp, body, err := c.do(http.MethodDelete, keyPath(args[0]), q.values(), nil, headers)
			if err != nil {
				return err
			}
			if cached && staleContext(resp, body) {
				// Deleting without a context would delete versions you never saw.
				c.forgetContext(args[0])
				return fail(exitRejected, "the cached context of %s is no longer accepted (the cluster's context key changed, or another cluster answers at this URL); it was dropped: get %s again, then delete", args[0], args[0])
			}
			if resp.StatusCode != http.StatusNoContent {
				return apiError(resp, body)
			}
			c.saveContext(args[0], resp.Header.Get(api.ContextHeader))
			return nil
		},
	}
	q.writeFlags(cmd)
	cmd.Flags().BoolVar(&ifMatch, "if-match", false, "delete only if nothing was written since the context was read (If-Match)")
	cmd.Flags().StringVar(&ctxFlag, "context", "", "the context to delete with (default: from your last get or put)")
	return cmd
}

// adminCall sends an admin request and prints the JSON answer indented.
func adminCall(cmd *cobra.Command, g *globalOptions, method, path string, body any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return fail(exitUsage, "%v", err)
		}
	}
	resp, rb, err := g.client().do(method, path, nil, b, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return apiError(resp, rb)
	}
	if len(rb) == 0 {
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, rb, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(rb)
	}
	pretty.WriteByte('\n')
	_, err = cmd.OutOrStdout().Write(pretty.Bytes())
	return err
}

// isTerminal reports whether r is an interactive terminal; pipes, files,
// /dev/null and in-memory readers are not.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// isTerminalWriter reports whether w is an interactive terminal (progress
// lines are written only there).
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
