package wire

import (
	"slices"
	"strings"
	"testing"
)

// TestAllowedEndpointsFromEnv: CARTWHEEL_ALLOWED_ENDPOINTS (the template's
// AllowedNodeEndpoints, joined) is a comma-separated list of base URLs; an
// empty one (the default) allows none, and a malformed entry fails start-up
// with a message naming the variable.
func TestAllowedEndpointsFromEnv(t *testing.T) {
	env := map[string]string{"CARTWHEEL_ALLOWED_ENDPOINTS": "https://minio.internal:9000, http://10.0.0.5:9000,"}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.AllowedEndpoints, []string{"https://minio.internal:9000", "http://10.0.0.5:9000"}) {
		t.Fatalf("allowed endpoints %q", c.AllowedEndpoints)
	}
	env["CARTWHEEL_ALLOWED_ENDPOINTS"] = ""
	if c, err := FromEnv(func(k string) string { return env[k] }); err != nil || len(c.AllowedEndpoints) != 0 {
		t.Fatalf("empty: %q %v", c.AllowedEndpoints, err)
	}
	for _, bad := range []string{"minio.internal:9000", "ftp://x", "https://", "https://h/path"} {
		env["CARTWHEEL_ALLOWED_ENDPOINTS"] = bad
		if _, err := FromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "CARTWHEEL_ALLOWED_ENDPOINTS") {
			t.Errorf("CARTWHEEL_ALLOWED_ENDPOINTS=%q accepted (err %v)", bad, err)
		}
	}
}
