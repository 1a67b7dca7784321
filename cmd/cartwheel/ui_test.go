package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The dashboard in a real browser: headless Chromium (Debian's chromium
// package; scripts/install-chromium.sh installs it) drives /ui on a local
// server, checks that the ring and the nodes render, looks up a key's
// preference list, takes a node down with its button, runs a repair, adds a
// node through the confirmation dialog, and saves a screenshot in the test's
// temporary directory, or at CARTWHEEL_SCREENSHOT (`make screenshot` sets it to
// docs/dashboard.png, the README's picture).
//
// Without Chromium the test fails, unless CARTWHEEL_SKIP_BROWSER=1.

// chromium returns the browser to drive, failing (or skipping, when
// CARTWHEEL_SKIP_BROWSER=1) the test when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CARTWHEEL_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "headless-shell"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found (looked for $CARTWHEEL_CHROMIUM, chromium, chromium-browser, google-chrome, headless-shell): " +
		"install it with scripts/install-chromium.sh (Debian's chromium package)"
	if os.Getenv("CARTWHEEL_SKIP_BROWSER") == "1" {
		banner := strings.Repeat("#", 78)
		fmt.Fprintf(os.Stderr, "\n%s\n## SKIPPING the dashboard's browser test: CARTWHEEL_SKIP_BROWSER=1\n## %s\n%s\n\n", banner, msg, banner)
		t.Skip("SKIPPED (CARTWHEEL_SKIP_BROWSER=1): " + msg)
	}
	t.Fatal(msg + "; or set CARTWHEEL_SKIP_BROWSER=1 to skip this test")
	return ""
}

// browser starts headless Chromium and returns a chromedp context for one tab.
func browser(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1360, 1000),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// page is the browser tab under test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// do runs actions with a deadline.
func (p tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](p tab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript predicate until it holds (bounded).
func (p tab) wait(what, predicate string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 45*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(40*time.Second)))
	if err != nil {
		text := eval[string](p, `document.body.innerText.slice(0, 3000)`)
		p.t.Fatalf("waiting for %s: %v\n--- page text ---\n%s", what, err, text)
	}
}

// refreshed waits until the dashboard has refreshed after this call.
func (p tab) refreshed() {
	p.t.Helper()
	n := eval[int](p, `Number(document.body.dataset.refreshes || 0)`)
	p.wait("a refresh", fmt.Sprintf(`Number(document.body.dataset.refreshes || 0) > %d`, n))
}

// traffic sends a steady trickle of writes and reads (and reads of key, so
// a node taken down is noticed) until the test ends.
func traffic(t *testing.T, base, key string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	client := &http.Client{Timeout: 5 * time.Second}
	send := func(method, u, body string) {
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(60 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			u := base + "/kv/" + url.PathEscape(fmt.Sprintf("user-%d", i%40))
			if i%3 == 0 {
				send(http.MethodPut, u, fmt.Sprintf("v%d", i))
			} else {
				send(http.MethodGet, u, "")
			}
			send(http.MethodGet, base+"/kv/"+url.PathEscape(key), "")
		}
	}()
}

type preflist struct {
	Partition int `json:"partition"`
	Replicas  []struct {
		Node        string `json:"node"`
		Primary     bool   `json:"primary"`
		StandsInFor string `json:"standsInFor"`
	} `json:"replicas"`
}

func TestDashboardInBrowser(t *testing.T) {
	exe := chromium(t)
	base := startServer(t, kumoEndpoint(t))
	const key = "cart/alice"
	if r := call(t, "PUT", base+"/kv/"+url.PathEscape(key), []byte("apples"), "Content-Type", "text/plain"); r.status != 204 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	traffic(t, base, key)

	var nodes struct {
		Nodes []struct{ ID, Zone string }
	}
	if err := json.Unmarshal(call(t, "GET", base+"/admin/nodes", nil).body, &nodes); err != nil || len(nodes.Nodes) != 5 {
		t.Fatalf("nodes: %v %+v", err, nodes)
	}
	var ids []string
	for _, n := range nodes.Nodes {
		ids = append(ids, n.ID)
	}

	ctx := browser(t, exe)
	// Collect the page's uncaught exceptions and console errors.
	var (
		mu       sync.Mutex
		problems []string
	)
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	// Answer confirm() dialogs as the test says, and remember their text.
	var (
		accept  atomic.Bool
		dialogs = make(chan string, 8)
	)
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range opening {
			if err != nil {
				return
			}
			dialogs <- ev.Message
			ok := accept.Load()
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: ok})
			}()
		}
	}()
	p := tab{t: t, ctx: ctx}

	// The page loads and renders the ring and the nodes.
	p.do("open /ui", chromedp.EmulateViewport(1360, 1000), chromedp.Navigate(base+"/ui"))
	p.wait("the first refresh", `Number(document.body.dataset.refreshes || 0) >= 1`)
	ring := eval[struct {
		Arcs   int      `json:"arcs"`
		Owners []string `json:"owners"`
		Fills  int      `json:"fills"`
		Q      string   `json:"q"`
	}](p, `(() => {
		const arcs = [...document.querySelectorAll('#ring-arcs path.arc')];
		return {
			arcs: arcs.length,
			owners: [...new Set(arcs.map((a) => a.dataset.owner))].sort(),
			fills: new Set(arcs.map((a) => a.getAttribute('fill'))).size,
			q: document.querySelector('#ring').dataset.q,
		};
	})()`)
	if ring.Arcs < 64 || !slices.Equal(ring.Owners, ids) || ring.Fills != len(ids) || ring.Q != "4096" {
		t.Fatalf("ring: %d arcs owned by %v in %d colours, q=%s; want every node %v in its own colour", ring.Arcs, ring.Owners, ring.Fills, ring.Q, ids)
	}
	rows := eval[[]string](p, `[...document.querySelectorAll('#nodes tbody tr')].map((r) => r.dataset.node)`)
	if !slices.Equal(rows, ids) {
		t.Fatalf("node rows %v, want %v", rows, ids)
	}
	if states := eval[[]string](p, `[...document.querySelectorAll('#nodes tbody .status')].map((c) => c.textContent.trim())`); len(states) != 5 || !strings.Contains(states[0], "active") {
		t.Fatalf("states %v", states)
	}
	if n := eval[int](p, `document.querySelectorAll('#legend li.node').length`); n != 5 {
		t.Fatalf("legend lists %d nodes", n)
	}
	// Each node its own colour (also within a zone); zones in the outer band.
	if n := eval[int](p, `new Set([...document.querySelectorAll('#legend li.node .swatch')].map((e) => e.style.background)).size`); n != 5 {
		t.Fatalf("the legend shows %d distinct node colours, want 5", n)
	}
	if zones := eval[[]string](p, `[...new Set([...document.querySelectorAll('#ring-zones path.zone-seg')].map((e) => e.dataset.zone))].sort()`); !slices.Equal(zones, []string{"a", "b", "c"}) {
		t.Fatalf("the ring's zone band shows zones %v", zones)
	}
	// Per-node load: ownership, replicas and hints held, with "–" explained.
	load := eval[[][]string](p, `[...document.querySelectorAll('#nodes tbody tr')].map((r) => [...r.cells].slice(3, 6).map((c) => c.textContent.trim()))`)
	for i, l := range load {
		if len(l) != 3 || !strings.HasSuffix(l[0], "%") || l[1] == "–" || l[1] == "" || l[2] == "" {
			t.Fatalf("node %s: owns, replicas, hints held = %q", ids[i], l)
		}
	}
	if note := eval[string](p, `document.querySelector('#nodes-note').textContent`); !strings.Contains(note, "– not counted yet") || !strings.Contains(note, "? the node could not be listed") {
		t.Fatalf("no note explains the hints column's marks: %q", note)
	}
	params := eval[map[string]string](p, `Object.fromEntries([...document.querySelectorAll('#params [data-param]')].map((e) => [e.dataset.param, e.querySelector('dd').textContent]))`)
	if params["ring epoch"] != "1" || params["membership epoch"] == "" {
		t.Fatalf("header: %v; want the ring epoch (1) apart from the membership epoch", params)
	}
	// Nothing pending: both ring-change buttons are disabled.
	if !eval[bool](p, `document.querySelector('.plan-panel').dataset.pending === 'false' && document.querySelector('#plan-commit').disabled && document.querySelector('#plan-cancel').disabled`) {
		t.Fatal("ring-change panel: want nothing pending and both buttons disabled")
	}

	// A key's preference list, as the API computes it, shows in the list and
	// on the ring.
	p.do("look up a key",
		chromedp.SendKeys(chromedp.CSS("#key"), key, chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS("#key-form button[type=submit]"), chromedp.NodeVisible))
	p.wait("the preference list", `document.querySelectorAll('#preflist li').length === 3`)
	var want preflist
	if err := json.Unmarshal(call(t, "GET", base+"/admin/preflist/"+url.PathEscape(key), nil).body, &want); err != nil || len(want.Replicas) != 3 {
		t.Fatalf("preflist API: %v %+v", err, want)
	}
	shown := eval[[]string](p, `[...document.querySelectorAll('#preflist li')].map((li) => li.dataset.node)`)
	for i, r := range want.Replicas {
		if shown[i] != r.Node {
			t.Fatalf("the page shows %v, the API %+v", shown, want.Replicas)
		}
	}
	if n := eval[int](p, `document.querySelectorAll('#ring-overlay .badge').length`); n != 3 {
		t.Fatalf("%d badges on the ring, want 3", n)
	}
	if !eval[bool](p, `!document.querySelector('#walk').hasAttribute('hidden') && document.querySelectorAll('#walk rect.found').length === 3`) {
		t.Fatal("the walk strip does not mark the 3 replicas")
	}
	if got := eval[string](p, `document.querySelector('#ring-center .center-big').textContent`); got != fmt.Sprint(want.Partition) {
		t.Fatalf("the ring's centre shows partition %s, want %d", got, want.Partition)
	}

	// Repair: the "last repair" panel shows the answer of POST /admin/repair.
	p.do("run repair", chromedp.Click(chromedp.CSS("#repair"), chromedp.NodeVisible))
	p.wait("the repair's result", `(document.querySelector('#last-repair .when') || {textContent: ''}).textContent.startsWith('finished')`)
	if errText := eval[string](p, `(document.querySelector('#last-repair .err') || {textContent: ''}).textContent`); errText != "" {
		t.Fatalf("repair failed: %s", errText)
	}

	// Add a node, confirming the dialog: a ring change is pending, settling
	// (so nothing is transferred yet), and Commit stays disabled.
	accept.Store(true)
	p.do("add a node",
		chromedp.SendKeys(chromedp.CSS("#add-id"), "n9", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS("#add-zone"), "b", chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS("#add-form button[type=submit]"), chromedp.NodeVisible))
	if msg := <-dialogs; !strings.Contains(msg, "Add node n9 in zone b") {
		t.Fatalf("confirm dialog: %q", msg)
	}
	p.wait("the new node's row", `document.querySelector('tr[data-node="n9"]') !== null`)
	p.wait("the pending ring change", `document.querySelector('.plan-panel').dataset.pending === 'true' &&
		document.querySelectorAll('#plan-grid span').length > 0 && document.querySelector('#plan-nodes tr[data-node="n9"]') !== null`)
	if !eval[bool](p, `document.querySelector('#plan-commit').disabled && !document.querySelector('#plan-cancel').disabled &&
		document.querySelectorAll('#plan-grid span.done').length < document.querySelectorAll('#plan-grid span').length`) {
		t.Fatal("with transfers remaining, Commit must be disabled and Cancel enabled")
	}
	// Once every transfer is done, Commit is enabled: shown by answering
	// the page's plan requests as if the transfers had finished.
	p.do("pretend the transfers are done", chromedp.Evaluate[chromedp.Void](`(() => {
		window.realFetch = window.fetch;
		window.fetch = async (u, o) => {
			const r = await window.realFetch(u, o);
			if (String(u) !== 'admin/plan') return r;
			const j = await r.json();
			j.done = j.moves; j.settling = false;
			return new Response(JSON.stringify(j), { status: 200, headers: { 'Content-Type': 'application/json' } });
		};
	})()`))
	p.wait("Commit enabled", `!document.querySelector('#plan-commit').disabled && document.querySelector('#plan-status').className === 'ready'`)
	p.do("stop pretending", chromedp.Evaluate[chromedp.Void](`window.fetch = window.realFetch`))
	p.wait("Commit disabled again", `document.querySelector('#plan-commit').disabled`)

	// Take the key's first primary down with its button: its state changes,
	// its partitions are striped, and (once the coordinator notices) a
	// fallback stands in for it.
	victim := want.Replicas[0].Node
	p.do("click Down", chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-node=%q][data-action="down"]`, victim)), chromedp.NodeVisible))
	p.wait(victim+" shown down", fmt.Sprintf(`(() => {
		const row = document.querySelector('tr[data-node=%q]');
		return row && row.querySelector('.status').textContent.includes('fault: down') &&
			row.querySelector('button[data-action="up"]') !== null &&
			document.querySelectorAll('#ring-arcs path.arc.bad[data-owner=%q]').length > 0;
	})()`, victim, victim))
	// Its requests fail: the errors column counts them; every node shows a p99.
	p.wait(victim+"'s errors counted", fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll('#nodes tbody tr')];
		const cell = (r, i) => r.cells[i].textContent.trim();
		const v = rows.find((r) => r.dataset.node === %q);
		return v && Number(cell(v, 6).replace(/,/g, '')) > 0 && v.cells[6].classList.contains('alert') &&
			rows.filter((r) => r.dataset.node !== 'n9').every((r) => cell(r, 7) !== '–' && cell(r, 6) !== '–');
	})()`, victim))
	if r := call(t, "GET", base+"/admin/faults", nil); !strings.Contains(string(r.body), fmt.Sprintf(`%q:{"mode":"down"}`, victim)) {
		t.Fatalf("the click did not inject the fault: %s", r.body)
	}
	p.wait("a fallback for "+victim, fmt.Sprintf(`(() => {
		const fb = document.querySelector('#preflist li.fallback');
		return fb !== null && fb.textContent.includes('fallback for %s') && document.querySelector('#ring-overlay .badge.fallback') !== null;
	})()`, victim))

	// The screenshot, once the action's toast is gone and the traffic shows.
	p.wait("the toast to go", `!document.querySelector('#toast').classList.contains('show')`)
	p.wait("traffic on the chart", `document.querySelectorAll('#chart-rate path.line').length === 2`)
	// The y-axes follow the data: the top is the next round number above the
	// largest value (never a fixed range that flattens real traffic).
	for _, id := range []string{"chart-rate", "chart-latency"} {
		sc := eval[[]float64](p, fmt.Sprintf(`(() => { const e = document.getElementById(%q); return [Number(e.dataset.ymax), Number(e.dataset.datamax)]; })()`, id))
		if sc[1] <= 0 || sc[0] < sc[1] || sc[0] > 2.5*sc[1] {
			t.Fatalf("%s: y-axis top %v for data up to %v", id, sc[0], sc[1])
		}
	}
	p.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	p.refreshed()
	shotCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	shot, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
	cancel()
	if err != nil || len(shot) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(shot), err)
	}
	out := os.Getenv("CARTWHEEL_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "dashboard.png")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	small, err := paletted(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(out, small, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KiB)", out, len(small)>>10)

	// Bring it back up.
	p.do("click Up", chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-node=%q][data-action="up"]`, victim)), chromedp.NodeVisible))
	p.wait(victim+" up", fmt.Sprintf(`document.querySelector('button[data-node=%q][data-action="down"]') !== null`, victim))

	// Dismiss a removal: nothing changes.
	accept.Store(false)
	p.do("remove a node", chromedp.Click(chromedp.CSS(`button[data-node="n9"][data-action="remove"]`), chromedp.NodeVisible))
	if msg := <-dialogs; !strings.Contains(msg, "Remove node n9") {
		t.Fatalf("confirm dialog: %q", msg)
	}
	p.refreshed()
	if !eval[bool](p, `document.querySelector('tr[data-node="n9"]') !== null`) ||
		!strings.Contains(string(call(t, "GET", base+"/admin/nodes", nil).body), `"id":"n9"`) {
		t.Fatal("a dismissed removal removed the node")
	}
	// Cancel the ring change, confirming: nothing pending, n9 gone.
	accept.Store(true)
	p.do("cancel the ring change", chromedp.Click(chromedp.CSS("#plan-cancel"), chromedp.NodeVisible))
	if msg := <-dialogs; !strings.Contains(msg, "Cancel the pending ring change") {
		t.Fatalf("confirm dialog: %q", msg)
	}
	p.wait("no ring change pending", `document.querySelector('.plan-panel').dataset.pending === 'false' &&
		document.querySelector('#nodes tr[data-node="n9"]') === null && document.querySelector('#plan-nodes tbody tr') === null`)

	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("the page reported errors:\n%s", strings.Join(problems, "\n"))
	}
}

// paletted re-encodes a PNG screenshot with the 256 most frequent colours
// (the others map to the nearest), about a third of the size for a flat UI,
// so the screenshot is small enough to keep in the repository.
func paletted(b []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r := img.Bounds()
	counts := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			counts[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	colors := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		colors = append(colors, c)
	}
	sort.Slice(colors, func(i, j int) bool {
		if counts[colors[i]] != counts[colors[j]] {
			return counts[colors[i]] > counts[colors[j]]
		}
		a, b := colors[i], colors[j]
		return uint32(a.R)<<24|uint32(a.G)<<16|uint32(a.B)<<8|uint32(a.A) < uint32(b.R)<<24|uint32(b.G)<<16|uint32(b.B)<<8|uint32(b.A)
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range colors[:min(256, len(colors))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(r, pal)
	index := map[color.RGBA]uint8{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := index[c]
			if !ok {
				i = uint8(pal.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
