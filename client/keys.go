package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// ListKeys fetches one page of GET /keys: up to limit live keys (0: the
// server's default, DefaultKeysLimit) that start with prefix, in byte order,
// after the page whose Next is after ("": the first page).
func (c *Client) ListKeys(ctx context.Context, prefix string, limit int, after string) (KeysPage, error) {
	q := url.Values{}
	if prefix != "" {
		q.Set(ParamPrefix, prefix)
	}
	if limit != 0 {
		q.Set(ParamLimit, strconv.Itoa(limit))
	}
	if after != "" {
		q.Set(ParamAfter, after)
	}
	resp, body, err := c.doPath(ctx, http.MethodGet, "/keys", q, nil, nil)
	if err != nil {
		return KeysPage{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return KeysPage{}, apiError(resp, body)
	}
	var p KeysPage
	if err := json.Unmarshal(body, &p); err != nil {
		return KeysPage{}, fmt.Errorf("cartwheel: GET /keys: %w: %w", ErrBadAnswer, err)
	}
	return p, nil
}

// Keys iterates over every live key that starts with prefix, in byte order,
// fetching pages of pageSize keys (0: the server's default) as it goes. A
// key present for the whole iteration is yielded exactly once. On an error
// it yields ("", err) and stops.
//
//	for key, err := range c.Keys(ctx, "cart:", 0) {
//		if err != nil { return err }
//		fmt.Println(key)
//	}
func (c *Client) Keys(ctx context.Context, prefix string, pageSize int) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		after := ""
		for {
			p, err := c.ListKeys(ctx, prefix, pageSize, after)
			if err != nil {
				yield("", err)
				return
			}
			for _, k := range p.Keys {
				if !yield(k, nil) {
					return
				}
			}
			if p.Next == "" {
				return
			}
			after = p.Next
		}
	}
}
