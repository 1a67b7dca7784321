package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cartwheel/cartwheel/client"
)

// TestBadAnswerIsErrBadAnswer: an answer that is not the route's JSON is an
// error wrapping ErrBadAnswer on every typed call, never a zero value taken
// for a real one.
func TestBadAnswerIsErrBadAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"siblings": "not a list"`))
	}))
	defer srv.Close()
	c, ctx := client.New(srv.URL), context.Background()
	calls := map[string]func() error{
		"Get":      func() error { _, err := c.Get(ctx, "k", client.Options{}); return err },
		"TypedGet": func() error { _, err := c.TypedGet(ctx, "k", client.Options{}); return err },
		"ListKeys": func() error { _, err := c.ListKeys(ctx, "", 0, ""); return err },
		"Call":     func() error { var out map[string]any; return c.Call(ctx, http.MethodGet, "/admin/ring", nil, &out) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, client.ErrBadAnswer) {
			t.Errorf("%s: %v, want ErrBadAnswer", name, err)
		}
	}
}
