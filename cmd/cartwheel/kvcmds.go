// The key-value commands: get, put and del.

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

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
			if ifMatch && token == "" {
				return fail(exitUsage, "--if-match needs a context: get KEY first, or pass --context")
			}
			if err := checkTTL(ttl); err != nil {
				return err
			}
			o := q.options()
			o.IfNoneMatch, o.IfMatch, o.ReturnBody, o.TTL = ifNoneMatch, ifMatch, returnBody, ttl
			cached := ctxFlag == "" && token != "" && token == c.savedContext(key)
			if err := c.ready(); err != nil {
				return err
			}
			v, err := c.api.Put(context.Background(), key, token, data, contentType, o)
			if cached && staleContext(err) {
				// The cluster no longer accepts the cached context (its context key
				// changed, or another cluster answers at this URL). Without one the
				// write is a sibling of what the key holds: nothing is lost.
				c.forgetContext(key)
				if ifMatch {
					return fail(exitRejected, "the cached context of %s is no longer accepted (the cluster's context key changed, or another cluster answers at this URL); it was dropped: get %s again", key, key)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "cartwheel: the cached context of %s is no longer accepted (the cluster's context key changed, or another cluster answers at this URL); wrote without it, so the value is a sibling of what %s holds\n", key, key)
				v, err = c.api.Put(context.Background(), key, "", data, contentType, o)
			}
			if err != nil {
				return cliError(err)
			}
			c.saveContext(key, v.Context) // with --returnbody it covers the siblings printed
			if returnBody {
				return printVersions(cmd.OutOrStdout(), key, versionsJSON(v), false)
			}
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
			if ifMatch && token == "" {
				return fail(exitUsage, "--if-match needs a context: get KEY first, or pass --context")
			}
			cached := ctxFlag == "" && token != ""
			if token == "" {
				// The server would read and delete what it sees; reading
				// here first tells a key that never existed (exit 3).
				seen, err := c.currentContext(args[0], q)
				if err != nil {
					return err
				}
				token = seen
			}
			if err := c.ready(); err != nil {
				return err
			}
			o := q.options()
			o.IfMatch = ifMatch
			v, err := c.api.Delete(context.Background(), args[0], token, o)
			if cached && staleContext(err) {
				// Deleting without a context would delete versions you never saw.
				c.forgetContext(args[0])
				return fail(exitRejected, "the cached context of %s is no longer accepted (the cluster's context key changed, or another cluster answers at this URL); it was dropped: get %s again, then delete", args[0], args[0])
			}
			if err != nil {
				return cliError(err)
			}
			c.saveContext(args[0], v.Context)
			return nil
		},
	}
	q.writeFlags(cmd)
	cmd.Flags().BoolVar(&ifMatch, "if-match", false, "delete only if nothing was written since the context was read (If-Match)")
	cmd.Flags().StringVar(&ctxFlag, "context", "", "the context to delete with (default: from your last get or put)")
	return cmd
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
