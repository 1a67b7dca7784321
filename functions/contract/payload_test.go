//go:build linux

package contract

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// TestContractPayloadLimit checks Lambda's response limit where it is
// enforced, under the Runtime Interface Emulator:
//
//  1. the emulator's real limit: testdata/sizer answers a JSON string of a
//     chosen size; the largest size the emulator accepts must be at least
//     httpapi.MaxResponseBytes (and something larger must be refused, or the
//     check proves nothing);
//  2. the largest allowed object: siblings put through the api function until
//     the 4 MiB replica-object cap refuses more; its full JSON get must fit,
//     and its size is logged (the measurement quoted in the README);
//  3. the listing edge: a sibling set (written by the test with a larger
//     object cap, as a read merging divergent replicas can produce) whose
//     full answer is just under MaxResponseBytes-ListingMargin comes whole
//     through the emulator; a little more and the api function answers 300
//     with sibling ids, each then fetched alone.
func TestContractPayloadLimit(t *testing.T) {
	rie := findRIE(t)
	bins := buildPackages(t, map[string]string{"api": "./functions/api", "sizer": "./functions/contract/testdata/sizer"})
	env := provision(t, awstest.KumoEndpoint(), func(c *wire.Config) { c.Coordinator.Limits.MaxObjectBytes = 16 << 20 })

	t.Run("emulator limit", func(t *testing.T) {
		e := startEmulator(t, rie, bins["sizer"], env)
		accepts := func(n int) bool {
			status, body := invokeRaw(t, e, map[string]int{"bytes": n})
			if status == http.StatusOK && len(body) == n && !bytes.Contains(body[:min(len(body), 200)], []byte("errorType")) {
				return true
			}
			t.Logf("%d bytes: emulator answered %d: %.200s", n, status, body)
			return false
		}
		if !accepts(httpapi.MaxResponseBytes) {
			t.Fatalf("the emulator refused a response of MaxResponseBytes=%d bytes", httpapi.MaxResponseBytes)
		}
		lo, hi := httpapi.MaxResponseBytes, httpapi.MaxResponseBytes+4096 // lo accepted
		if accepts(hi) {
			t.Fatalf("the emulator accepted %d bytes: its limit is not where this test looks", hi)
		}
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if accepts(mid) {
				lo = mid
			} else {
				hi = mid
			}
		}
		t.Logf("the emulator accepts responses of up to %d bytes (MaxResponseBytes = %d)", lo, httpapi.MaxResponseBytes)
	})

	t.Run("api", func(t *testing.T) {
		e := startEmulator(t, rie, bins["api"], env)
		getJSON := func(path string) (httpapi.Response, int) {
			body := e.invoke(t, apiEvent(t, "GET", path, nil, map[string]string{"Accept": "application/json"}))
			var r httpapi.Response
			decode(t, body, &r)
			return r, len(body)
		}

		// 2. The largest object the put cap allows: 1 MiB values until the
		// cap refuses one, then the largest value that still fits.
		put := func(key string, v []byte) int {
			var r httpapi.Response
			decode(t, e.invoke(t, apiEvent(t, "PUT", "/kv/"+key, v, nil)), &r)
			return r.StatusCode
		}
		size := 1 << 20
		puts := 0
		for size > 0 && puts < 40 {
			puts++
			switch put("max-object", bytes.Repeat([]byte{'m'}, size)) {
			case http.StatusNoContent:
				continue
			case http.StatusConflict: // too_many_siblings: the object would pass 4 MiB
				size -= max(size/8, 256)
				if size < 1024 {
					size = 0
				}
			default:
				t.Fatalf("put into max-object failed")
			}
		}
		r, n := getJSON("/kv/max-object")
		var full struct{ Siblings []struct{ Value string } }
		if err := json.Unmarshal([]byte(r.Body), &full); err != nil || r.StatusCode != http.StatusMultipleChoices || len(full.Siblings) < 4 {
			t.Fatalf("get of the largest object: %d, %v", r.StatusCode, err)
		}
		values := 0
		for _, s := range full.Siblings {
			values += len(s.Value) / 4 * 3
		}
		t.Logf("largest allowed object: %d siblings, %d value bytes; its full JSON get is a %d-byte Lambda response (limit %d)",
			len(full.Siblings), values, n, httpapi.MaxResponseBytes)
		if n > httpapi.MaxResponseBytes-httpapi.ListingMargin {
			t.Errorf("the largest allowed object's get (%d bytes) no longer comes whole", n)
		}

		// 3. The listing edge, with siblings the test writes directly: four
		// of 1 MiB and a fifth sized so the full answer is within 64 bytes
		// under the threshold (a new key per attempt; two or three do).
		ctx := context.Background()
		threshold := httpapi.MaxResponseBytes - httpapi.ListingMargin
		key := ""
		fullSize := func() int {
			g, err := env.app.Coord.Get(ctx, key, coordinator.Options{R: 3})
			if err != nil {
				t.Fatal(err)
			}
			return httpapi.FullGetSize(g, true)
		}
		write := func(v []byte) {
			if _, err := env.app.Coord.Put(ctx, key, "", coordinator.Value{Data: v}, coordinator.Options{W: 3}); err != nil {
				t.Fatal(err)
			}
		}
		last := 512 << 10
		for try := 0; ; try++ {
			key = fmt.Sprintf("edge-%d", try)
			for range 4 {
				write(bytes.Repeat([]byte{'e'}, 1<<20))
			}
			write(bytes.Repeat([]byte{'f'}, last))
			gap := threshold - fullSize()
			if gap >= 8 && gap <= 64 {
				break
			}
			if try == 5 {
				t.Fatalf("could not bring the full answer within 64 bytes under %d (gap %d)", threshold, gap)
			}
			last += (gap - 36) / 4 * 3
		}
		r, n = getJSON("/kv/" + key)
		if err := json.Unmarshal([]byte(r.Body), &full); err != nil || r.StatusCode != http.StatusMultipleChoices || len(full.Siblings) != 5 || full.Siblings[0].Value == "" {
			t.Fatalf("get just under the threshold: %d, %v, %.200s", r.StatusCode, err, r.Body)
		}
		if n > threshold || n < threshold-256 {
			t.Errorf("the full answer is %d bytes, want just under %d", n, threshold)
		}
		t.Logf("just under the threshold: a %d-byte response came whole through the emulator", n)

		// A 100-byte sibling more: listed.
		write(bytes.Repeat([]byte{'g'}, 100))
		if fs := fullSize(); fs <= threshold {
			t.Fatalf("setup: full answer %d bytes, want over %d", fs, threshold)
		}
		r, n = getJSON("/kv/" + key)
		var listing struct {
			ValuesOmitted bool
			Siblings      []struct {
				ID   string
				Size int
			}
		}
		if err := json.Unmarshal([]byte(r.Body), &listing); err != nil || r.StatusCode != http.StatusMultipleChoices || !listing.ValuesOmitted || len(listing.Siblings) != 6 {
			t.Fatalf("get just over the threshold: %d, %v, %.300s", r.StatusCode, err, r.Body)
		}
		t.Logf("just over the threshold: a %d-byte listing of %d siblings", n, len(listing.Siblings))
		for _, s := range listing.Siblings {
			var one httpapi.Response
			ev := apiEvent(t, "GET", "/kv/"+key, nil, nil)
			ev.RawQueryString = httpapi.SiblingParam + "=" + s.ID
			ev.QueryStringParameters = map[string]string{httpapi.SiblingParam: s.ID}
			decode(t, e.invoke(t, ev), &one)
			v, err := base64.StdEncoding.DecodeString(one.Body)
			if one.StatusCode != http.StatusOK || err != nil || len(v) != s.Size {
				t.Fatalf("?sibling=%s: %d, %d bytes, want %d", s.ID, one.StatusCode, len(v), s.Size)
			}
		}
	})
}

// buildPackages builds each package (name: import path relative to the
// module) as a linux bootstrap with sam.mk's flags; it returns the paths.
func buildPackages(t *testing.T, pkgs map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bins := map[string]string{}
	for name, pkg := range pkgs {
		out := filepath.Join(dir, name, "bootstrap")
		args := append(append([]string{"build"}, buildFlags...), "-o", out, pkg)
		cmd := exec.Command("go", args...)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		bins[name] = out
	}
	return bins
}

// invokeRaw posts event to the emulator and returns its status and body,
// whatever they are.
func invokeRaw(t *testing.T, e *emulator, event any) (int, []byte) {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := invokeClient.Post(e.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke: read response: %v", err)
	}
	return resp.StatusCode, body
}
