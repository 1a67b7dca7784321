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

// TestAppAllowedEndpoints: the admin API accepts the configured endpoints
// plus the services' own endpoint when one is set, and asking never changes
// the configuration.
func TestAppAllowedEndpoints(t *testing.T) {
	a := &App{Config: DefaultConfig()}
	a.Config.AllowedEndpoints = make([]string, 1, 4)
	a.Config.AllowedEndpoints[0] = "https://minio.internal:9000"
	a.Config.AWS.Endpoint = ""
	if got := a.AllowedEndpoints(); !slices.Equal(got, []string{"https://minio.internal:9000"}) {
		t.Fatalf("no endpoint: %q", got)
	}
	a.Config.AWS.Endpoint = "http://127.0.0.1:4566"
	if got := a.AllowedEndpoints(); !slices.Equal(got, []string{"https://minio.internal:9000", "http://127.0.0.1:4566"}) {
		t.Fatalf("with endpoint: %q", got)
	}
	if a.Config.AllowedEndpoints[:2][1] != "" {
		t.Fatalf("the configuration's slice was written: %q", a.Config.AllowedEndpoints[:2])
	}
}
