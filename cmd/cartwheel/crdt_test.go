package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	api "github.com/cartwheel/cartwheel/client"
)

// TestCRDTEndToEnd builds the README's shopping cart against `cartwheel
// serve` on every backend: two clients add items concurrently through the Go
// client, one removes an item with the CLI, and the typed key answers
// type_mismatch on /kv.
func TestCRDTEndToEnd(t *testing.T) {
	for name, ep := range endpoints(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, ep)
			ctx := context.Background()
			c := api.New(base)
			var wg sync.WaitGroup
			for i, item := range []string{"apple", "pear"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					op := api.Op{Type: "map", Update: map[string]api.Op{item: api.Increment(int64(i + 1))}}
					if _, err := c.TypedUpdate(ctx, "cart:alice", op, api.Options{}); err != nil {
						t.Errorf("add %s: %v", item, err)
					}
				}()
			}
			wg.Wait()
			v, err := c.TypedGet(ctx, "cart:alice", api.Options{R: "all"})
			if m, _ := v.Map(); err != nil || m["apple"] != float64(1) || m["pear"] != float64(2) {
				t.Fatalf("cart after concurrent adds: %+v %v", v, err)
			}
			code, out, errOut := cli(t, base, "", "crdt", "update", "cart:alice", "--json", `{"type":"map","remove":["pear"],"update":{"checkout":{"type":"flag","enable":true}}}`)
			if code != 0 || strings.TrimSpace(out) != `{"apple":1,"checkout":true}` {
				t.Fatalf("crdt update: %d %q %q", code, out, errOut)
			}
			if code, out, _ = cli(t, base, "", "crdt", "incr", "visits", "--", "-2"); code != 0 || strings.TrimSpace(out) != "-2" {
				t.Fatalf("crdt incr: %d %q", code, out)
			}
			if code, out, _ = cli(t, base, "", "crdt", "add", "tags", "b", "a"); code != 0 || strings.TrimSpace(out) != `["a","b"]` {
				t.Fatalf("crdt add: %d %q", code, out)
			}
			if code, out, _ = cli(t, base, "", "crdt", "remove", "tags", "a"); code != 0 || strings.TrimSpace(out) != `["b"]` {
				t.Fatalf("crdt remove: %d %q", code, out)
			}
			if code, _, errOut = cli(t, base, "", "crdt", "remove", "tags", "zzz"); code != exitRejected || !strings.Contains(errOut, "precondition_failed") {
				t.Fatalf("crdt remove unseen: %d %q", code, errOut)
			}
			if code, out, _ = cli(t, base, "", "crdt", "get", "tags"); code != 0 || strings.TrimSpace(out) != `["b"]` {
				t.Fatalf("crdt get: %d %q", code, out)
			}
			if code, _, errOut = cli(t, base, "", "get", "tags"); code != exitRejected || !strings.Contains(errOut, "type_mismatch") {
				t.Fatalf("get of a typed key: %d %q", code, errOut)
			}
			if v, err := c.SetRemove(ctx, "tags", []string{"b"}, api.Options{ReturnBody: true}); err != nil || string(v.Value) != "[]" {
				t.Fatalf("SetRemove: %+v %v", v, err)
			}
			var e *api.Error
			if _, err := c.TypedUpdate(ctx, "tags", api.Increment(1), api.Options{}); !errors.As(err, &e) || e.Status != http.StatusConflict || e.Body.Code != api.CodeTypeMismatch {
				t.Fatalf("counter op on a set: %v", err)
			}
		})
	}
}

// TestCRDTCheck runs `cartwheel check --crdt` (typed sets, adds and removes,
// with the nemesis) against a local server: nothing lost, nothing resurrected.
// The check waits for the hint queue to empty before its verdict; hints that
// failed under a fault stay hidden for the local queue's 30 s visibility, so
// the test bounds the settle phase at 5 s (the verdict then covers what was
// delivered by then).
func TestCRDTCheck(t *testing.T) {
	base := startServer(t, "")
	out := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr := cli(t, base, "", "check", "--crdt", "--duration", "3s", "--clients", "4", "--keys", "2",
		"--nemesis-interval", "100ms", "--max-latency", "50ms", "--settle", "5s", "--seed", "3", "--prefix", "crdt-check", "--out", out)
	if code != 0 {
		t.Fatalf("check --crdt: exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Logf("crdt check:\n%s", stdout)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Mode                                     string
		Acknowledged, Removed, Lost, Resurrected int
		Nemesis                                  struct{ Actions map[string]int }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Mode != "crdt" || rep.Acknowledged == 0 || rep.Removed == 0 || rep.Lost != 0 || rep.Resurrected != 0 || len(rep.Nemesis.Actions) == 0 {
		t.Fatalf("report: %+v", rep)
	}
}
