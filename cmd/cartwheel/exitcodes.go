// Exit codes, and how an answer or a failed request becomes one.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	api "github.com/cartwheel/cartwheel/client"
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

// exitErr carries an exit code out of a command.
type exitErr struct {
	code int
	msg  string
}

func (e *exitErr) Error() string { return e.msg }

func fail(code int, format string, a ...any) error {
	return &exitErr{code: code, msg: fmt.Sprintf(format, a...)}
}

// answerError turns an error answer into an exit error with the server's
// message: 404 is exit 3, 503 exit 5, a refused query parameter (a flag's
// value, --r 4) exit 2, any other 4xx exit 6, the rest exit 1.
func answerError(e *api.Error) error {
	msg := e.Body.Message
	if msg == "" {
		msg = strings.TrimSpace(string(e.Raw))
	}
	code := exitError
	switch {
	case e.Status == http.StatusNotFound: // a key, a node, a route
		code = exitNotFound
	case e.Status == http.StatusServiceUnavailable:
		code = exitUnavailable
	case e.Body.Code == api.CodeBadRequest:
		code = exitUsage
	case e.Status >= 400 && e.Status < 500:
		code = exitRejected
	}
	return fail(code, "%s (%d %s)", msg, e.Status, e.Body.Code)
}

// apiError turns a raw error answer (from client.Do) into an exit error.
func apiError(resp *http.Response, body []byte) error {
	e := &api.Error{Status: resp.StatusCode, Raw: body}
	_ = json.Unmarshal(body, &e.Body)
	return answerError(e)
}

// cliError turns what a client.Client call returned into an exit error: an
// answer by answerError, an undecodable answer, a failed signature, or a
// request that reached no server (connError).
func cliError(err error) error {
	var ee *exitErr
	var ae *api.Error
	var ue *url.Error
	var se *signError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return ee
	case errors.As(err, &ae):
		return answerError(ae)
	case errors.Is(err, api.ErrBadAnswer):
		return fail(exitError, "bad JSON from the server: %v", err)
	case errors.As(err, &ue) && errors.As(err, &se):
		return fail(exitError, "signing %s %s: %v", strings.ToUpper(ue.Op), ue.URL, se.err)
	case errors.As(err, &ue):
		return connError(strings.ToUpper(ue.Op), ue.URL, ue)
	}
	return fail(exitError, "%v", err)
}
