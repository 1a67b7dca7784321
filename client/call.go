package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ErrBadAnswer is wrapped by the error of a call whose answer did not decode
// (not the JSON the route answers, or a value that is not base64).
var ErrBadAnswer = errors.New("bad answer")

// Call sends a JSON request to path (already escaped, e.g. "/admin/ring")
// with in as its body (none if nil) and decodes a JSON answer into out (if
// not nil). An answer of 300 or above is an *Error. It serves the admin
// routes, which have no typed methods here.
func (c *Client) Call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("cartwheel: %s %s: encoding the request: %w", method, path, err)
		}
	}
	resp, b, err := c.doPath(ctx, method, path, nil, body, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return err
	}
	if resp.StatusCode >= http.StatusMultipleChoices {
		return fmt.Errorf("%s %s: %w", method, path, apiError(resp, b))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("cartwheel: %s %s: %w: %w", method, path, ErrBadAnswer, err)
		}
	}
	return nil
}
