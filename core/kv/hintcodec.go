package kv

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadHint is wrapped by the errors of CheckHint, EncodeHint and DecodeHint
// for a hint that lacks Key, Intended or Fallback.
var ErrBadHint = errors.New("hint needs key, intended and fallback")

// CheckHint reports why h cannot be queued or delivered (an error wrapping
// ErrBadHint), or nil.
func CheckHint(h Hint) error {
	if h.Key == "" || h.Intended == "" || h.Fallback == "" {
		return ErrBadHint
	}
	return nil
}

// EncodeHint is the one encoding of a hint as a queue message body (JSON of
// Hint), used by every HintQueue. A hint CheckHint rejects is not encoded.
func EncodeHint(h Hint) ([]byte, error) {
	if err := CheckHint(h); err != nil {
		return nil, fmt.Errorf("encode hint %q: %w", h.Key, err)
	}
	body, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode hint %q: %w", h.Key, err)
	}
	return body, nil
}

// DecodeHint decodes a queue message body written by EncodeHint: JSON of a
// Hint with Key, Intended and Fallback set. Any other body (a poison message)
// gives an error and a zero Hint.
func DecodeHint(body []byte) (Hint, error) {
	var h Hint
	if err := json.Unmarshal(body, &h); err != nil {
		return Hint{}, fmt.Errorf("decode hint: %w", err)
	}
	if err := CheckHint(h); err != nil {
		return Hint{}, fmt.Errorf("decode hint: %w", err)
	}
	return h, nil
}
