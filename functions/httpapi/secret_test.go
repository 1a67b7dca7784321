package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// TestContextSecretNeverServed: the cluster's context key lives in the
// membership record, and no admin route shows it.
func TestContextSecretNeverServed(t *testing.T) {
	h := testHandler(t)
	do(t, h, event(t, noAuth, "PUT", "/kv/s", []byte("v"), nil))
	c, err := h.d.Members.Load(context.Background())
	if err != nil || c.ContextKeys == nil {
		t.Fatalf("no context keys: %v", err)
	}
	secret := c.ContextKeys.Current.Secret
	forms := []string{base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret), hex.EncodeToString(secret), "contextKeys", "secret"}
	for _, path := range []string{"/admin/nodes", "/admin/ring", "/admin/plan", "/admin/transfers", "/admin/stats", "/admin/faults", "/admin/hints", "/admin/preflist/s"} {
		r := do(t, h, event(t, "apigw-v2-request-iam.json", "GET", path, nil, nil))
		for _, f := range forms {
			if strings.Contains(r.Body, f) {
				t.Errorf("GET %s shows %q", path, f)
			}
		}
	}
}

// TestRotateContextKey: after a rotation old contexts still work (within the
// grace period) and new ones are signed with the new key.
func TestRotateContextKey(t *testing.T) {
	h := testHandler(t)
	old := do(t, h, event(t, noAuth, "PUT", "/kv/rot", []byte("v1"), nil)).Headers[ContextHeader]
	r := do(t, h, event(t, "apigw-v2-request-iam.json", "POST", "/admin/context-key/rotate", nil, nil))
	if r.StatusCode != 200 || !strings.Contains(r.Body, `"current":2`) || !strings.Contains(r.Body, `"previous":1`) || !strings.Contains(r.Body, "previousAcceptedUntil") {
		t.Fatalf("rotate: %d %s", r.StatusCode, r.Body)
	}
	if strings.Contains(r.Body, "secret") {
		t.Fatalf("rotate shows a secret: %s", r.Body)
	}
	p := do(t, h, event(t, noAuth, "PUT", "/kv/rot", []byte("v2"), map[string]string{ContextHeader: old}))
	if p.StatusCode != 204 {
		t.Fatalf("a previous key's context within the grace period: %d %s", p.StatusCode, p.Body)
	}
	if p.Headers[ContextHeader] == old {
		t.Fatal("same token after a rotation")
	}
	if r := do(t, h, event(t, "apigw-v2-request-iam.json", "GET", "/admin/context-key/rotate", nil, nil)); r.StatusCode != 405 {
		t.Fatalf("GET rotate: %d", r.StatusCode)
	}
}
