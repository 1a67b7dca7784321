package main

import (
	"encoding/json"
	"strings"
	"testing"

	api "github.com/cartwheel/cartwheel/client"
)

// cliKeys: `cartwheel keys` prints every live key with the prefix, one a line
// in byte order whatever the page size, or one JSON document; a deleted key
// is left out; a bad --limit is a usage error. /healthz and /readyz answer.
func cliKeys(t *testing.T, base string) {
	t.Helper()
	for _, k := range []string{"lk/b", "lk/a b", "lk/ü", "lk/a", "lk/gone"} {
		if code, _, errs := cli(t, base, "v", "put", k, "-", "--blind"); code != 0 {
			t.Fatalf("put %s: exit %d (%s)", k, code, errs)
		}
	}
	if code, _, errs := cli(t, base, "", "del", "lk/gone"); code != 0 {
		t.Fatalf("del: exit %d (%s)", code, errs)
	}
	want := "lk/a\nlk/a b\nlk/b\nlk/ü\n"
	for _, limit := range []string{"1", "3", "10000"} {
		if code, out, errs := cli(t, base, "", "keys", "--prefix", "lk/", "--limit", limit); code != 0 || out != want {
			t.Errorf("keys --limit %s: exit %d %q (%s), want %q", limit, code, out, errs, want)
		}
	}
	code, out, _ := cli(t, base, "", "keys", "--prefix", "lk/a", "--json")
	var p api.KeysPage
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || strings.Join(p.Keys, ",") != "lk/a,lk/a b" || p.Next != "" {
		t.Errorf("keys --json: exit %d %q", code, out)
	}
	if code, _, _ := cli(t, base, "", "keys", "--limit", "0"); code != exitUsage {
		t.Errorf("keys --limit 0: exit %d, want %d", code, exitUsage)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		r := call(t, "GET", base+path, nil)
		var h api.Health
		if r.status != 200 || json.Unmarshal(r.body, &h) != nil || h.Status != "ok" {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
}
