package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// CodeTypeMismatch: the key holds opaque values and a data type operation
// used it, or the other way round, or a map field holds another type (409).
const CodeTypeMismatch = "type_mismatch"

// TypedValue is a data type's answer (GET /crdt/{key}, or POST with
// returnbody): its type, its value (a counter's integer, a set's sorted
// array, a map's object) and the context a remove needs.
type TypedValue struct {
	Type    string          `json:"type"`
	Value   json.RawMessage `json:"value"`
	Context string          `json:"context,omitempty"`
}

// Counter decodes a counter's value.
func (v TypedValue) Counter() (int64, error) {
	var n int64
	return n, v.decode(&n)
}

// Set decodes a set's members.
func (v TypedValue) Set() ([]string, error) {
	var s []string
	return s, v.decode(&s)
}

// Map decodes a map's fields (counters as float64, sets as []any, flags as
// bool, registers as string, maps as map[string]any).
func (v TypedValue) Map() (map[string]any, error) {
	var m map[string]any
	return m, v.decode(&m)
}

func (v TypedValue) decode(dst any) error {
	if err := json.Unmarshal(v.Value, dst); err != nil {
		return fmt.Errorf("cartwheel: a %s value: %w", v.Type, err)
	}
	return nil
}

// Op is one data type operation (POST /crdt/{key}); only the members of its
// Type are set. Nested operations (map Update) carry no Context.
type Op struct {
	Type      string        `json:"type"`
	Increment *int64        `json:"increment,omitempty"`
	Add       []string      `json:"add,omitempty"`
	Remove    []string      `json:"remove,omitempty"`
	Enable    *bool         `json:"enable,omitempty"`
	Assign    *string       `json:"assign,omitempty"`
	Update    map[string]Op `json:"update,omitempty"`
	Context   string        `json:"context,omitempty"`
}

// Increment is the counter operation adding n (negative to subtract).
func Increment(n int64) Op { return Op{Type: "counter", Increment: &n} }

// Enable is the flag operation setting it to on.
func Enable(on bool) Op { return Op{Type: "flag", Enable: &on} }

// Assign is the register operation setting its text.
func Assign(text string) Op { return Op{Type: "register", Assign: &text} }

// TypedGet reads a data type. An absent key is ErrNotFound; a key holding
// opaque values is an *Error with code type_mismatch.
func (c *Client) TypedGet(ctx context.Context, key string, o Options) (TypedValue, error) {
	return c.typed(ctx, http.MethodGet, key, o.query(true), nil)
}

// TypedUpdate applies one operation; with o.ReturnBody it answers the state
// after it, else a zero TypedValue.
func (c *Client) TypedUpdate(ctx context.Context, key string, op Op, o Options) (TypedValue, error) {
	body, err := json.Marshal(op)
	if err != nil {
		return TypedValue{}, fmt.Errorf("cartwheel: encoding the operation: %w", err)
	}
	return c.typed(ctx, http.MethodPost, key, o.query(false), body)
}

// SetRemove reads the set at key and removes elems with that read's
// context (412 precondition_failed names an element the read did not see).
func (c *Client) SetRemove(ctx context.Context, key string, elems []string, o Options) (TypedValue, error) {
	v, err := c.TypedGet(ctx, key, Options{R: o.R, PR: o.PR})
	if err != nil {
		return TypedValue{}, err
	}
	return c.TypedUpdate(ctx, key, Op{Type: "set", Remove: elems, Context: v.Context}, o)
}

func (c *Client) typed(ctx context.Context, method, key string, q url.Values, body []byte) (TypedValue, error) {
	u := c.base + "/crdt/" + url.PathEscape(key)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return TypedValue{}, fmt.Errorf("cartwheel: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return TypedValue{}, fmt.Errorf("cartwheel: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return TypedValue{}, fmt.Errorf("cartwheel: %s %s: reading the answer: %w", method, u, err)
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		return TypedValue{}, nil
	case http.StatusOK:
		var v TypedValue
		if err := json.Unmarshal(b, &v); err != nil {
			return TypedValue{}, fmt.Errorf("cartwheel: %s %s: %w: %w", method, u, ErrBadAnswer, err)
		}
		return v, nil
	}
	return TypedValue{}, apiError(resp, b)
}
