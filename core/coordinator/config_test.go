package coordinator

import (
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// ---- config, deps, New -----------------------------------------------------

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"bad limits", func(c *Config) { c.Limits.MaxSiblings = 0 }, "MaxSiblings"},
		{"zero replica timeout", func(c *Config) { c.ReplicaTimeout = 0 }, "ReplicaTimeout"},
		{"negative replica timeout", func(c *Config) { c.ReplicaTimeout = -time.Second }, "ReplicaTimeout"},
		{"zero CAS retries", func(c *Config) { c.CASRetries = 0 }, "CASRetries"},
		{"one CAS retry", func(c *Config) { c.CASRetries = 1 }, ""},
		{"negative TTL", func(c *Config) { c.ClusterTTL = -1 }, "ClusterTTL"},
		{"zero TTL", func(c *Config) { c.ClusterTTL = 0 }, ""},
		{"zero SuspectAfter", func(c *Config) { c.SuspectAfter = 0 }, "SuspectAfter"},
		{"negative SuspectFor", func(c *Config) { c.SuspectFor = -1 }, "SuspectFor"},
		{"zero SuspectFor", func(c *Config) { c.SuspectFor = 0 }, ""},
		{"prune", func(c *Config) { p := vclock.DefaultPrunePolicy(); c.Prune = &p }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "coordinator config: ") {
				t.Fatalf("Validate = %v, want a coordinator config error about %s", err, tc.want)
			}
			if co, err := New(cfg, newEnv(t, 3).deps()); err == nil || co != nil {
				t.Fatalf("New accepted an invalid config: %v", err)
			}
		})
	}
}

func TestDepsValidate(t *testing.T) {
	e := newEnv(t, 3)
	cases := []struct {
		field string
		edit  func(*Deps)
	}{
		{"Store", func(d *Deps) { d.Store = nil }},
		{"Hints", func(d *Deps) { d.Hints = nil }},
		{"Members", func(d *Deps) { d.Members = nil }},
		{"Now", func(d *Deps) { d.Now = nil }},
		{"Rand", func(d *Deps) { d.Rand = nil }},
	}
	for _, tc := range cases {
		d := e.deps()
		tc.edit(&d)
		co, err := New(e.config(), d)
		if err == nil || co != nil || !strings.Contains(err.Error(), tc.field+" is required") {
			t.Errorf("New without %s = %v, %v", tc.field, co, err)
		}
	}
	d := e.deps()
	d.Log = nil
	co, err := New(e.config(), d)
	if err != nil {
		t.Fatalf("New without a logger: %v", err)
	}
	if co.log == nil {
		t.Fatal("nil Log must be replaced by a discarding logger")
	}
	// A coordinator does no I/O until the first request.
	if n := e.members.loads.Load(); n != 0 {
		t.Fatalf("New loaded membership %d times", n)
	}
	if e.faults.Counts().Total() != 0 {
		t.Fatal("New touched the store")
	}
	// And works with the discarding logger.
	mustPut(t, co, "k", "", "v", Options{})
}
