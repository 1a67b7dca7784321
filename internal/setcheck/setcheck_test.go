package setcheck

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cartwheel/cartwheel/client"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestParseSet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int64
		bad  bool
	}{
		{"", nil, false},
		{"  \n", nil, false},
		{"[]", []int64{}, false},
		{"[3,1,2]", []int64{3, 1, 2}, false},
		{" [ 7 ] \n", []int64{7}, false},
		{"1\n2\n\n3\n", []int64{1, 2, 3}, false},
		{"  42  ", []int64{42}, false},
		{"-5\n6", []int64{-5, 6}, false},
		{"[1,", nil, true},
		{`["a"]`, nil, true},
		{"[1.5]", nil, true},
		{"1\nx\n", nil, true},
		{"{}", nil, true},
	} {
		got, err := ParseSet([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("ParseSet(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseSet(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestEncodeSetRoundTrip(t *testing.T) {
	if got := string(EncodeSet(nil)); got != "[]" {
		t.Fatalf("EncodeSet(nil) = %s", got)
	}
	if got := string(EncodeSet([]int64{3, 1, 3, 2})); got != "[1,2,3]" {
		t.Fatalf("EncodeSet sorts and dedups: %s", got)
	}
	rapid.Check(t, func(t *rapid.T) {
		in := rapid.SliceOf(rapid.Int64()).Draw(t, "elems")
		got, err := ParseSet(EncodeSet(in))
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(in)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("round trip %v -> %v", in, got)
		}
	})
}

// TestNemesisInvariants: whatever the random choices, the nemesis starts with
// a down, never has more than maxDown+1 nodes down, goes past maxDown only if
// at least N nodes stay up, and keeps at most half the nodes faulted.
func TestNemesisInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := rapid.IntRange(1, 9).Draw(t, "nodes")
		n := rapid.IntRange(1, 5).Draw(t, "n")
		w := rapid.IntRange(1, n).Draw(t, "w")
		maxDown := rapid.IntRange(0, 3).Draw(t, "maxDown")
		sloppy := rapid.Float64Range(0, 1).Draw(t, "sloppy")
		lat := time.Duration(rapid.IntRange(0, 500).Draw(t, "latencyMs")) * time.Millisecond
		var ids []string
		for i := 1; i <= nodes; i++ {
			ids = append(ids, fmt.Sprintf("n%d", i))
		}
		m := newNemesis(rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1)), ids, n, w, maxDown, sloppy, lat)
		base := maxDown
		if base == 0 {
			base = max(n-w, 1)
		}
		steps := rapid.IntRange(1, 200).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			a := m.next()
			if i == 0 && (a.heal || a.mode.Kind != "down") {
				t.Fatalf("first action %+v, want a down", a)
			}
			if i == 1 && m.downs() == 1 && sloppy > 0 && nodes-2 >= n && max((nodes+1)/2, 1) >= 2 && (a.heal || a.mode.Kind != "down") {
				t.Fatalf("second action %+v, want a second down (sloppy quorum)", a)
			}
			if !slices.Contains(ids, a.node) {
				t.Fatalf("action on unknown node %q", a.node)
			}
			_, faulted := m.modes[a.node]
			if a.heal != faulted {
				t.Fatalf("action %+v on a node faulted=%v", a, faulted)
			}
			switch a.mode.Kind {
			case "slow":
				if a.mode.LatencyMs < 1 || time.Duration(a.mode.LatencyMs)*time.Millisecond > max(lat, time.Millisecond) {
					t.Fatalf("slow latency %d ms outside (0, %v]", a.mode.LatencyMs, lat)
				}
			case "errors":
				if a.mode.Rate < 0.1 || a.mode.Rate > 0.5 {
					t.Fatalf("error rate %v", a.mode.Rate)
				}
			}
			var err error
			if rapid.IntRange(0, 9).Draw(t, "apiFails") == 0 {
				err = errors.New("admin API failed")
			}
			m.applied(a, err)
			d := m.downs()
			if d > base+1 || (d > base && nodes-d < n) {
				t.Fatalf("%d nodes down (base %d, %d nodes, N=%d)", d, base, nodes, n)
			}
			if len(m.modes) > max((nodes+1)/2, 1) {
				t.Fatalf("%d nodes faulted of %d", len(m.modes), nodes)
			}
		}
		if m.maxDown > base+1 || (m.sloppy > 0) != (m.maxDown > n-w) {
			t.Fatalf("maxDown %d, sloppy %d, base %d", m.maxDown, m.sloppy, base)
		}
	})
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{},
		{URL: "ftp://x", Duration: time.Second},
		{URL: "http://", Duration: time.Second},
		{URL: "http://127.0.0.1:1"},
		{URL: "http://127.0.0.1:1", Duration: -time.Second},
		{URL: "http://127.0.0.1:1", Duration: time.Second, Clients: -1},
		{URL: "http://127.0.0.1:1", Duration: time.Second, Keys: 5000},
		{URL: "http://127.0.0.1:1", Duration: time.Second, Sloppy: 2},
		{URL: "http://127.0.0.1:1", Duration: time.Second, MaxLatency: time.Hour},
		{URL: "http://127.0.0.1:1", Ops: 1, Settle: -1},
	} {
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrConfig) {
			t.Errorf("Run(%+v) = %v, want ErrConfig", c, err)
		}
	}
	if _, err := Run(context.Background(), Config{URL: "http://127.0.0.1:1", Ops: 1, Timeout: time.Second}); err == nil || errors.Is(err, ErrConfig) {
		t.Errorf("unreachable server: %v, want a connection error", err)
	}
}

// fake is an in-memory stand-in for the HTTP API with switchable misbehaviour,
// to show that the check catches what it must catch.
type fake struct {
	mu        sync.Mutex
	lww       bool
	noFaults  bool
	sets      map[string][]byte
	puts      int
	dropEvery int   // every k-th acknowledged put is not stored: a lost write
	inject    int64 // an element every read returns: an unexpected one
	failEvery int   // every k-th put answers 503 without storing
	faults    map[string]FaultMode
	faultLog  []string
	repairs   int
	onFault   func() // called when a fault is set
}

func newFake() *fake { return &fake{sets: map[string][]byte{}, faults: map[string]FaultMode{}} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/admin/ring":
		writeJSON(w, 200, map[string]any{"n": 3, "r": 2, "w": 2, "lww": f.lww})
	case p == "/admin/nodes":
		writeJSON(w, 200, map[string]any{"nodes": []map[string]string{{"id": "n1"}, {"id": "n2"}, {"id": "n3"}, {"id": "n4"}, {"id": "n5"}}})
	case p == "/admin/faults":
		writeJSON(w, 200, map[string]any{"faults": f.faults})
	case strings.HasPrefix(p, "/admin/faults/"):
		if f.noFaults {
			writeJSON(w, 403, map[string]string{"error": "faults_disabled", "message": "off"})
			return
		}
		node := strings.TrimPrefix(p, "/admin/faults/")
		if r.Method == http.MethodDelete {
			delete(f.faults, node)
			w.WriteHeader(204)
			return
		}
		var m FaultMode
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			writeJSON(w, 400, map[string]string{"error": "bad_json"})
			return
		}
		f.faults[node] = m
		f.faultLog = append(f.faultLog, node+"="+m.Kind)
		if f.onFault != nil {
			f.onFault()
		}
		writeJSON(w, 200, map[string]any{"node": node, "fault": m})
	case p == "/admin/repair":
		f.repairs++
		writeJSON(w, 200, map[string]any{})
	case p == "/admin/stats":
		writeJSON(w, 200, map[string]any{"faultsInjected": 2 * len(f.faultLog), "hints": QueueStats{}})
	case strings.HasPrefix(p, "/kv/"):
		key := strings.TrimPrefix(p, "/kv/")
		switch r.Method {
		case http.MethodGet:
			v, ok := f.sets[key]
			if !ok {
				w.Header().Set(ContextHeader, "ctx0")
				writeJSON(w, 404, map[string]string{"error": "not_found", "message": "none"})
				return
			}
			sibs := []map[string]string{{"value": base64.StdEncoding.EncodeToString(v)}}
			if f.inject != 0 {
				sibs = append(sibs, map[string]string{"value": base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(f.inject)))})
			}
			writeJSON(w, 200, map[string]any{"context": "ctx", "siblings": sibs})
		case http.MethodPut:
			var body bytes.Buffer
			_, _ = body.ReadFrom(r.Body)
			if _, err := ParseSet(body.Bytes()); err != nil || r.Header.Get(ContextHeader) == "" {
				writeJSON(w, 400, map[string]string{"error": "bad_request", "message": "want a set and a context"})
				return
			}
			f.puts++
			if f.failEvery > 0 && f.puts%f.failEvery == 0 {
				writeJSON(w, 503, map[string]string{"error": "quorum_failed", "message": "1 of 2"})
				return
			}
			if f.dropEvery == 0 || f.puts%f.dropEvery != 0 {
				// A correct store: concurrent read-modify-writes merge (as
				// siblings would), so none is lost.
				old, _ := ParseSet(f.sets[key])
				add, _ := ParseSet(body.Bytes())
				f.sets[key] = EncodeSet(append(old, add...))
			}
			w.WriteHeader(204)
		}
	default:
		writeJSON(w, 404, map[string]string{"error": "no_route"})
	}
}

func runFake(t *testing.T, f *fake, c Config) (*Report, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	if c.Ops == 0 && c.Duration == 0 {
		c.Ops = 120
	}
	if c.Settle == 0 {
		c.Settle = 10 * time.Second
	}
	c.Seed = 11
	return Run(context.Background(), c)
}

func TestCorrectStorePasses(t *testing.T) {
	f := newFake()
	var progress bytes.Buffer
	rep, err := runFake(t, f, Config{Nemesis: true, NemesisInterval: time.Millisecond, Clients: 3, Keys: 2, Ops: 150,
		Progress: &progress, ProgressEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The fake serializes requests, so every put succeeds and nothing is lost.
	if !rep.OK() || rep.Lost != 0 || rep.Unexpected != 0 || rep.Acknowledged != 150 || rep.Attempted != 150 || rep.Operations != 150 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Nemesis.Faults() == 0 || rep.Nemesis.Actions["down"] == 0 || rep.Nemesis.InjectedFailures != int64(2*len(f.faultLog)) {
		t.Fatalf("nemesis %+v, fault log %v", rep.Nemesis, f.faultLog)
	}
	if len(f.faults) != 0 {
		t.Fatalf("faults left behind: %v", f.faults)
	}
	if f.repairs == 0 || rep.Repairs != f.repairs {
		t.Fatalf("repairs: report %d, server %d", rep.Repairs, f.repairs)
	}
	if p := progress.String(); p != "" && !strings.Contains(p, ", ops ") {
		t.Fatalf("progress does not say how far the run is: %q", p)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PASS", "acknowledged       150", "faults injected", rep.Sets[0].Key} {
		if !strings.Contains(table.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, table.String())
		}
	}
	if rep.Seconds <= 0 || rep.OpsPerSec <= 0 || len(rep.Sets) != 2 {
		t.Fatalf("report %+v", rep)
	}
}

func TestLostWriteIsCaught(t *testing.T) {
	f := newFake()
	f.dropEvery = 7
	rep, err := runFake(t, f, Config{Clients: 2, Settle: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Lost == 0 || !strings.HasPrefix(rep.Verdict(), "FAIL") {
		t.Fatalf("a store that drops writes passed: %+v", rep)
	}
	if rep.Repairs < 2 {
		t.Fatalf("gave up after %d repairs: a loss must survive the whole settle time", rep.Repairs)
	}
	sample := 0
	for _, s := range rep.Sets {
		sample += len(s.LostSample)
	}
	if sample == 0 || rep.LostPercent <= 0 {
		t.Fatalf("no lost elements listed: %+v", rep.Sets)
	}
	var table bytes.Buffer
	_ = rep.WriteTable(&table)
	if !strings.Contains(table.String(), "lost, e.g.") {
		t.Fatalf("table does not list lost elements:\n%s", table.String())
	}
}

func TestUnexpectedElementIsCaught(t *testing.T) {
	f := newFake()
	f.inject = 1 << 40
	rep, err := runFake(t, f, Config{Clients: 2, Keys: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Unexpected != 1 || rep.Sets[0].UnexpectedSample[0] != 1<<40 || rep.MaxSiblings != 2 {
		t.Fatalf("an invented element passed: %+v", rep)
	}
}

func TestRequestErrorsAreCountedNotFailures(t *testing.T) {
	f := newFake()
	f.failEvery = 4
	rep, err := runFake(t, f, Config{Clients: 1, Ops: 40})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.RequestErrors["put 503 quorum_failed"] != 10 || rep.RequestErrorsTotal != 10 ||
		rep.Acknowledged != 30 || rep.Attempted != 40 {
		t.Fatalf("report %+v", rep)
	}
}

func TestLWWModeMeasuresLoss(t *testing.T) {
	f := newFake()
	f.lww = true
	f.dropEvery = 2
	rep, err := runFake(t, f, Config{LWW: true, Clients: 1, Ops: 40})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Mode != "lww" || rep.Lost == 0 || !strings.HasPrefix(rep.Verdict(), "LWW") {
		t.Fatalf("report %+v", rep)
	}
}

func TestModeMismatchAndDisabledFaults(t *testing.T) {
	f := newFake()
	f.lww = true
	if _, err := runFake(t, f, Config{}); !errors.Is(err, ErrMode) {
		t.Fatalf("siblings check on an LWW cluster: %v", err)
	}
	if _, err := runFake(t, newFake(), Config{LWW: true}); !errors.Is(err, ErrMode) {
		t.Fatalf("LWW check on a siblings cluster: %v", err)
	}
	off := newFake()
	off.noFaults = true
	if _, err := runFake(t, off, Config{Nemesis: true}); err == nil || !strings.Contains(err.Error(), "fault injection disabled") {
		t.Fatalf("nemesis against a server without faults: %v", err)
	}
	rep, err := runFake(t, off, Config{})
	if err != nil || !rep.OK() || rep.Nemesis.Enabled || len(off.faultLog) != 0 {
		t.Fatalf("check without the nemesis: %+v, %v", rep, err)
	}
}

func TestDurationBoundsTheRun(t *testing.T) {
	f := newFake()
	rep, err := runFake(t, f, Config{Duration: 200 * time.Millisecond, Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Operations == 0 || rep.Acknowledged != rep.Operations {
		t.Fatalf("report %+v", rep)
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&client.Error{Status: 503, Body: client.ErrorBody{Code: "quorum_failed"}}, "put 503 quorum_failed"},
		{&client.Error{Status: 502, Body: client.ErrorBody{Message: "<html>"}}, "put 502 bad_gateway"},
		{context.DeadlineExceeded, "put timeout"},
		{errors.New("connection refused"), "put network"},
		{fmt.Errorf("x: %w", client.ErrBadAnswer), "put bad_json"},
	} {
		if got := errorKind("put", tc.err); got != tc.want {
			t.Errorf("errorKind = %q, want %q", got, tc.want)
		}
	}
}

// TestInterruptedRunClearsFaults: a run interrupted while a fault is set
// (Ctrl-C) still clears every fault before it returns.
func TestInterruptedRunClearsFaults(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.onFault = cancel
	_, err := Run(ctx, Config{URL: srv.URL, Nemesis: true, Duration: time.Minute, Seed: 3})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "faults cleared") {
		t.Fatalf("interrupted run: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.faultLog) == 0 || len(f.faults) != 0 {
		t.Fatalf("fault log %v, faults left %v", f.faultLog, f.faults)
	}
}
