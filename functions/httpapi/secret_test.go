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
