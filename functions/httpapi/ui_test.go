package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/cartwheel/cartwheel/core/ring"
)

const noAuth = "apigw-v2-request-no-authorizer.json"

// body returns a response's body bytes, decoding base64 when flagged.
func body(t *testing.T, r Response) []byte {
	t.Helper()
	if !r.IsBase64Encoded {
		return []byte(r.Body)
	}
	b, err := base64.StdEncoding.DecodeString(r.Body)
	if err != nil {
		t.Fatalf("bad base64 body: %v", err)
	}
	return b
}

func TestUIPage(t *testing.T) {
	h := testHandler(t)
	for _, file := range []string{noAuth, "apigw-v2-request-iam.json"} {
		r := do(t, h, event(t, file, "GET", "/ui", nil, nil))
		b := string(body(t, r))
		if r.StatusCode != 200 || r.Headers["Content-Type"] != "text/html; charset=utf-8" {
			t.Fatalf("%s: GET /ui = %d %v", file, r.StatusCode, r.Headers)
		}
		for _, want := range []string{`<svg id="ring"`, `src="ui/app.js"`, `href="ui/style.css"`, `id="nodes"`, `id="key"`, `<label for="key">`} {
			if !strings.Contains(b, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		// Nothing from the network: no absolute URLs to fetch.
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if strings.Contains(strings.ReplaceAll(b, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
				t.Errorf("the page references %s", bad)
			}
		}
		for _, hdr := range []string{"Content-Security-Policy", "X-Content-Type-Options", "ETag", "Cache-Control"} {
			if r.Headers[hdr] == "" {
				t.Errorf("no %s header", hdr)
			}
		}
	}
	if r := do(t, h, event(t, noAuth, "HEAD", "/ui", nil, nil)); r.StatusCode != 200 {
		t.Fatalf("HEAD /ui = %d", r.StatusCode)
	}
}

// Every embedded asset is served with its content type, byte for byte.
func TestUIAssets(t *testing.T) {
	h := testHandler(t)
	want := map[string]string{
		"index.html": "text/html; charset=utf-8", "style.css": "text/css; charset=utf-8",
		"app.js": "text/javascript; charset=utf-8", "favicon.svg": "image/svg+xml",
	}
	n := 0
	err := fs.WalkDir(uiFiles, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		r := do(t, h, event(t, noAuth, "GET", "/ui/"+name, nil, nil))
		if name == "index.html" {
			return nil // one URL for the page: see TestUIRedirects
		}
		file, _ := fs.ReadFile(uiFiles, name)
		if r.StatusCode != 200 || !bytes.Equal(body(t, r), file) {
			t.Errorf("GET /ui/%s = %d, %d bytes; want 200 and the file's %d bytes", name, r.StatusCode, len(body(t, r)), len(file))
		}
		if ct, ok := want[name]; ok && r.Headers["Content-Type"] != ct {
			t.Errorf("/ui/%s: Content-Type %q, want %q", name, r.Headers["Content-Type"], ct)
		}
		return nil
	})
	if err != nil || n < len(want) {
		t.Fatalf("walked %d files: %v", n, err)
	}
}

func TestUIRedirectsAndErrors(t *testing.T) {
	h := testHandler(t)
	for _, p := range []string{"/ui/", "/ui/index.html"} {
		r := do(t, h, event(t, noAuth, "GET", p, nil, nil))
		if r.StatusCode != http.StatusFound || r.Headers["Location"] != "../ui" {
			t.Errorf("GET %s = %d %v, want 302 to ../ui", p, r.StatusCode, r.Headers)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/ui/missing.js", 404},
		{"GET", "/ui/../httpapi.go", 404},
		{"GET", "/ui/%2e%2e/httpapi.go", 404},
		{"GET", "/ui/%zz", 404},
		{"GET", "/uix", 404},
		{"POST", "/ui", 405},
		{"DELETE", "/ui/app.js", 405},
	} {
		r := do(t, h, event(t, noAuth, tc.method, tc.path, nil, nil))
		var e struct{ Error, Message string }
		if r.StatusCode != tc.status || json.Unmarshal([]byte(r.Body), &e) != nil || e.Error == "" {
			t.Errorf("%s %s = %d %s, want %d with a JSON error", tc.method, tc.path, r.StatusCode, r.Body, tc.status)
		}
	}
}

func TestUIConditionalGet(t *testing.T) {
	h := testHandler(t)
	r := do(t, h, event(t, noAuth, "GET", "/ui/app.js", nil, nil))
	etag := r.Headers["ETag"]
	if etag == "" {
		t.Fatal("no ETag")
	}
	r = do(t, h, event(t, noAuth, "GET", "/ui/app.js", nil, map[string]string{"If-None-Match": etag}))
	if r.StatusCode != http.StatusNotModified || r.Body != "" {
		t.Fatalf("revalidation: %d", r.StatusCode)
	}
	r = do(t, h, event(t, noAuth, "GET", "/ui/app.js", nil, map[string]string{"If-None-Match": `"other"`}))
	if r.StatusCode != 200 {
		t.Fatalf("stale ETag: %d", r.StatusCode)
	}
}

// Binary assets travel base64-encoded (API Gateway decodes them), text as is.
func TestUIBinarySafe(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0xff, 0xfe, 0x80}
	old := uiFiles
	uiFiles = fstest.MapFS{
		"logo.png":   {Data: png},
		"blob.bin":   {Data: []byte{0, 1, 2, 0xff}},
		"mod.wasm":   {Data: []byte("\x00asm")},
		"notes.txt":  {Data: []byte("héllo")},
		"latin1.txt": {Data: []byte{'c', 'a', 'f', 0xe9}}, // not UTF-8
		"dir/a.css":  {Data: []byte("a{}")},
	}
	t.Cleanup(func() { uiFiles = old })
	h := testHandler(t)
	for _, tc := range []struct {
		name, ctype string
		b64         bool
		data        []byte
	}{
		{"logo.png", "image/png", true, png},
		{"blob.bin", "application/octet-stream", true, []byte{0, 1, 2, 0xff}},
		{"mod.wasm", "application/wasm", true, []byte("\x00asm")},
		{"notes.txt", "text/plain; charset=utf-8", false, []byte("héllo")},
		{"latin1.txt", "text/plain; charset=utf-8", true, []byte{'c', 'a', 'f', 0xe9}},
		{"dir/a.css", "text/css; charset=utf-8", false, []byte("a{}")},
	} {
		r := do(t, h, event(t, noAuth, "GET", "/ui/"+tc.name, nil, nil))
		if r.StatusCode != 200 || r.Headers["Content-Type"] != tc.ctype || r.IsBase64Encoded != tc.b64 || !bytes.Equal(body(t, r), tc.data) {
			t.Errorf("%s: %d %q base64=%v %q", tc.name, r.StatusCode, r.Headers["Content-Type"], r.IsBase64Encoded, body(t, r))
		}
	}
	// And through the local adapter, byte for byte.
	srv := httptest.NewServer(&Local{H: h})
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ui/logo.png")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, png) {
		t.Fatalf("local: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
}

// ---- the dashboard's admin routes -------------------------------------------------

type preflistBody struct {
	Key       string  `json:"key"`
	Partition int     `json:"partition"`
	Q         int     `json:"q"`
	N         int     `json:"n"`
	Position  float64 `json:"position"`
	Replicas  []struct {
		Node        string `json:"node"`
		Zone        string `json:"zone"`
		Primary     bool   `json:"primary"`
		StandsInFor string `json:"standsInFor"`
	} `json:"replicas"`
}

func getPreflist(t *testing.T, h *Handler, rawKey string) preflistBody {
	t.Helper()
	r := do(t, h, event(t, noAuth, "GET", "/admin/preflist/"+rawKey, nil, nil))
	var p preflistBody
	if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &p) != nil {
		t.Fatalf("preflist %s: %d %s", rawKey, r.StatusCode, r.Body)
	}
	return p
}

func TestPreflistRoute(t *testing.T) {
	h := testHandler(t)
	for raw, key := range map[string]string{"cart%2Falice": "cart/alice", "caf%C3%A9": "café", "a/b/": "a/b/", "plain": "plain"} {
		p := getPreflist(t, h, raw)
		if p.Key != key || p.Q != 64 || p.N != 3 || p.Partition != ring.PartitionOf(64, ring.HashKey(key)) || len(p.Replicas) != 3 {
			t.Fatalf("%s: %+v", raw, p)
		}
		if p.Position < 0 || p.Position >= 1 || int(p.Position*64) != p.Partition {
			t.Fatalf("%s: position %v is not in partition %d", raw, p.Position, p.Partition)
		}
		zones := map[string]bool{}
		for _, r := range p.Replicas {
			if !r.Primary || r.StandsInFor != "" || r.Zone == "" {
				t.Fatalf("%s: all up, want primaries: %+v", raw, p.Replicas)
			}
			zones[r.Zone] = true
		}
		if len(zones) != 3 {
			t.Fatalf("%s: replicas in %d zones, want 3", raw, len(zones))
		}
	}
	// A primary marked down is replaced by a fallback standing in for it.
	p := getPreflist(t, h, "k")
	down := p.Replicas[0].Node
	if r := do(t, h, event(t, noAuth, "PUT", "/admin/nodes/"+down+"/state", []byte(`{"state":"down"}`), nil)); r.StatusCode != 200 {
		t.Fatalf("set state: %+v", r)
	}
	p = getPreflist(t, h, "k")
	if p.Replicas[0].Primary || p.Replicas[0].StandsInFor != down || p.Replicas[0].Node == down {
		t.Fatalf("with %s down: %+v", down, p.Replicas)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/admin/preflist", 400, "bad_key"},
		{"GET", "/admin/preflist/", 400, "bad_key"},
		{"GET", "/admin/preflist/%zz", 400, "bad_key"},
		{"POST", "/admin/preflist/k", 405, "method_not_allowed"},
		{"PUT", "/admin/hints", 405, "method_not_allowed"},
		{"POST", "/admin/stats", 405, "method_not_allowed"},
	} {
		r := do(t, h, event(t, noAuth, tc.method, tc.path, nil, nil))
		var e struct{ Error, Message string }
		if r.StatusCode != tc.status || json.Unmarshal([]byte(r.Body), &e) != nil || e.Error != tc.code {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, r.StatusCode, r.Body, tc.status, tc.code)
		}
	}
}

func TestHintsAndStatsRoutes(t *testing.T) {
	h := testHandler(t)
	p := getPreflist(t, h, "k")
	down := p.Replicas[0].Node
	if r := do(t, h, event(t, noAuth, "PUT", "/admin/nodes/"+down+"/state", []byte(`{"state":"down"}`), nil)); r.StatusCode != 200 {
		t.Fatalf("set state: %+v", r)
	}
	if r := do(t, h, event(t, noAuth, "PUT", "/kv/k", []byte("v"), nil)); r.StatusCode != 204 {
		t.Fatalf("put: %+v", r)
	}
	h.d.Coord.Wait()
	r := do(t, h, event(t, noAuth, "GET", "/admin/hints", nil, nil))
	var hints struct {
		Nodes []struct {
			Node string
			Held int
			For  map[string]int
		}
		Queue *struct{ Visible, InFlight, Dead int }
	}
	if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &hints) != nil || len(hints.Nodes) != 4 || hints.Queue == nil {
		t.Fatalf("hints: %d %s", r.StatusCode, r.Body)
	}
	held := 0
	for _, n := range hints.Nodes {
		held += n.For[down]
	}
	if held != 1 || hints.Queue.Visible+hints.Queue.InFlight != 1 {
		t.Fatalf("want one hinted replica held and queued for %s: %s", down, r.Body)
	}

	r = do(t, h, event(t, noAuth, "GET", "/admin/stats", nil, nil))
	var st struct {
		Coordinator struct{ Puts, HintsQueued int }
		Hints       *struct{ Visible int }
		Suspects    []string
		Recent      struct {
			StepMs     int64
			PutsPerSec float64
			Series     []struct{ Puts int }
		}
	}
	if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &st) != nil {
		t.Fatalf("stats: %d %s", r.StatusCode, r.Body)
	}
	puts := 0
	for _, p := range st.Recent.Series {
		puts += p.Puts
	}
	if st.Coordinator.Puts != 1 || st.Coordinator.HintsQueued != 1 || st.Hints == nil || st.Recent.StepMs != 5000 ||
		len(st.Recent.Series) != 61 || puts != 1 || st.Recent.PutsPerSec <= 0 || !strings.Contains(r.Body, `"suspects":`) {
		t.Fatalf("stats: %s", r.Body)
	}
}

// ---- request-scoped logs ---------------------------------------------------------

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// Every line written while serving a request carries its id, once: the
// handler's request line, its error lines and the coordinator's lines.
func TestServeLogsCarryRequestID(t *testing.T) {
	h := testHandler(t)
	var buf syncBuffer
	h.d.Log = slog.New(slog.NewJSONHandler(&buf, nil))
	serve := func(id, method, path string, b []byte) Response {
		t.Helper()
		ev := event(t, noAuth, method, path, b, nil)
		ev.RequestContext.RequestID = id
		r, err := h.Serve(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// A hint for a node marked down: the repair's delivery attempt logs
	// "hint not delivered" from the coordinator.
	down := getPreflist(t, h, "k").Replicas[0].Node
	serve("req-state", "PUT", "/admin/nodes/"+down+"/state", []byte(`{"state":"down"}`))
	serve("req-put", "PUT", "/kv/k", []byte("v"))
	h.d.Coord.Wait()
	serve("req-repair", "POST", "/admin/repair", nil)
	// A quorum failure: the handler logs "quorum not reached".
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		serve("req-fault-"+id, "PUT", "/admin/faults/"+id, []byte(`{"mode":"down"}`))
	}
	if r := serve("req-fail", "PUT", "/kv/a", []byte("x")); r.StatusCode != 503 {
		t.Fatalf("want a quorum failure: %+v", r)
	}
	h.d.Coord.Wait()

	seen := map[string]string{}
	for _, line := range buf.lines() {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if n := strings.Count(line, `"requestId"`); n != 1 {
			t.Fatalf("%d requestId attributes in %s", n, line)
		}
		seen[m["msg"].(string)+" "+m["requestId"].(string)] = line
	}
	for _, want := range []string{"hint not delivered req-repair", "request req-repair", "quorum not reached req-fail", "request req-fail"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("no %q line; got %v", want, seen)
		}
	}
}

func TestRequestLoggerGroupsAndAttrs(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, nil))
	l := RequestLogger(base, "id-1")
	decode := func() map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", buf.String(), err)
		}
		buf.Reset()
		return m
	}
	l.Info("plain")
	if m := decode(); m[RequestIDKey] != "id-1" {
		t.Fatalf("plain: %v", m)
	}
	l.Info("own", RequestIDKey, "other")
	if m := decode(); m[RequestIDKey] != "other" {
		t.Fatalf("a line's own id wins: %v", m)
	}
	l.With(RequestIDKey, "with").Info("with")
	if m := decode(); m[RequestIDKey] != "with" {
		t.Fatalf("With: %v", m)
	}
	l.With("k", "v").WithGroup("g").Info("grouped", "x", 1)
	m := decode()
	if g, ok := m["g"].(map[string]any); m[RequestIDKey] != "id-1" || m["k"] != "v" || !ok || g["x"] != 1.0 {
		t.Fatalf("grouped: %v", m)
	}
	l.With(RequestIDKey, "w").WithGroup("g").Info("grouped")
	if m := decode(); m[RequestIDKey] != "w" {
		t.Fatalf("grouped after With: %v", m)
	}
	if !l.Enabled(context.Background(), slog.LevelInfo) || l.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatal("Enabled does not follow the base handler")
	}
}
