// Package setcheck is Cartwheel's Jepsen-style set check, run over the HTTP
// API only (so it checks a local server and a deployed stack alike).
//
// Concurrent clients add distinct integers to a few sets (keys) by
// read-modify-write: get every sibling with its context, union the sets, add
// the element, put with the context. An element is acknowledged only when its
// put answered 204. Meanwhile a nemesis uses the admin fault API to take nodes
// down and up, slow them and make them fail a fraction of requests. Then the
// faults are cleared, repair runs, and every set is read with R=N: an
// acknowledged element missing from the final read is lost. With siblings
// (the default) nothing may be lost; with last-write-wins (LWW) the loss is
// the documented price, and the check measures it.
//
// Every loop is bounded: the workload by a duration and/or an operation count,
// the settling phase by a deadline, each request by a timeout.
package setcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/client"
)

// ContextHeader carries the causal context between a get and the next put.
const ContextHeader = client.ContextHeader

// ErrConfig wraps every error in the configuration (a usage error).
var ErrConfig = errors.New("setcheck: bad configuration")

// ErrMode means the cluster's conflict mode is not the one the check was
// asked to expect (siblings vs last-write-wins).
var ErrMode = errors.New("setcheck: cluster mode mismatch")

// Config shapes one check. Zero fields take the documented defaults.
type Config struct {
	// URL is the Cartwheel API base URL (required).
	URL string
	// HTTP is the client to use; nil makes one with Timeout per request.
	HTTP *http.Client
	// Timeout bounds each request when HTTP is nil (default 30 s).
	Timeout time.Duration
	// Clients is the number of concurrent clients (default 4).
	Clients int
	// Keys is the number of sets (default 3).
	Keys int
	// Prefix names the sets: Prefix/set-0 .. (default "check/<unix nanos>",
	// so runs never share keys).
	Prefix string
	// Duration bounds the workload in time; Ops bounds it in read-modify-write
	// operations. At least one must be set; the first reached ends it.
	Duration time.Duration
	Ops      int
	// Nemesis enables fault injection through the admin API.
	Nemesis bool
	// NemesisInterval is the time between nemesis actions (default 1 s).
	NemesisInterval time.Duration
	// RingChanges adds a second nemesis that changes the ring while the
	// clients write: it adds a node (RingNode), commits, removes it, commits,
	// and again, one step per NemesisInterval.
	RingChanges bool
	// MaxDown is how many nodes may be down at once (default N-W); with
	// probability Sloppy an action may take one more down (two with N=3, W=2)
	// to exercise the sloppy quorum, if at least N nodes stay up.
	MaxDown int
	// Sloppy is that probability (default 0.25; negative: never).
	Sloppy float64
	// MaxLatency bounds the latency of "slow" faults (default 200 ms).
	MaxLatency time.Duration
	// LWW says the cluster runs last-write-wins: losses are expected and
	// measured, not failures. The check refuses a cluster in the other mode.
	LWW bool
	// Settle bounds the final phase (clear faults, repair, read with R=N
	// until nothing acknowledged is missing or the hint queue is empty)
	// (default 60 s).
	Settle time.Duration
	// Seed seeds the clients' and the nemesis's choices (0: from the clock).
	Seed uint64
	// Progress, if set, receives a progress line every ProgressEvery (default 10 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Coordinators are more API base URLs (coordinators in other regions);
	// client i sends its requests to the i-th of URL, Coordinators... in
	// turn. Admin calls and the final read use URL.
	Coordinators []string
	// Region, if set, is the "region" nemesis (region.go): it cuts one
	// region off during the workload and heals it before the settle phase.
	Region *RegionCut
}

func (c *Config) defaults() error {
	if c.URL == "" {
		return fmt.Errorf("%w: no URL", ErrConfig)
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: bad URL %q", ErrConfig, c.URL)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	switch {
	case c.Clients < 0 || c.Clients > 256:
		return fmt.Errorf("%w: clients=%d must be in [1, 256]", ErrConfig, c.Clients)
	case c.Keys < 0 || c.Keys > 1000:
		return fmt.Errorf("%w: keys=%d must be in [1, 1000]", ErrConfig, c.Keys)
	case c.Duration < 0 || c.Ops < 0:
		return fmt.Errorf("%w: duration and ops must not be negative", ErrConfig)
	case c.Duration == 0 && c.Ops == 0:
		return fmt.Errorf("%w: give a duration or an operation count (the workload must be bounded)", ErrConfig)
	case c.MaxDown < 0 || c.Settle < 0 || c.NemesisInterval < 0 || c.MaxLatency < 0 || c.Timeout < 0:
		return fmt.Errorf("%w: max-down, settle, nemesis interval, max latency and timeout must not be negative", ErrConfig)
	case c.Sloppy > 1:
		return fmt.Errorf("%w: sloppy=%v must be at most 1", ErrConfig, c.Sloppy)
	case c.MaxLatency > time.Minute:
		return fmt.Errorf("%w: max latency %v exceeds a minute", ErrConfig, c.MaxLatency)
	}
	if c.Clients == 0 {
		c.Clients = 4
	}
	if c.Keys == 0 {
		c.Keys = 3
	}
	if c.Prefix == "" {
		c.Prefix = fmt.Sprintf("check/%d", time.Now().UnixNano())
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.NemesisInterval == 0 {
		c.NemesisInterval = time.Second
	}
	if c.Sloppy == 0 {
		c.Sloppy = 0.25
	}
	if c.MaxLatency == 0 {
		c.MaxLatency = 200 * time.Millisecond
	}
	if c.Settle == 0 {
		c.Settle = 60 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 10 * time.Second
	}
	if c.HTTP == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = c.Clients + 4 // reuse connections: no port exhaustion on long runs
		c.HTTP = &http.Client{Timeout: c.Timeout, Transport: tr}
	}
	return nil
}

// ---- HTTP -------------------------------------------------------------------

type api struct {
	base string
	hc   *http.Client
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (a *api) do(ctx context.Context, method, path string, q url.Values, body []byte, hdr map[string]string) (reply, error) {
	u := a.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// admin calls an admin route and decodes its JSON answer into out (if not nil).
func (a *api) admin(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	r, err := a.do(ctx, method, path, nil, body, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if r.status >= 300 {
		return &statusError{method: method, path: path, status: r.status, code: errorCode(r.body), body: r.body}
	}
	if out != nil && len(r.body) > 0 {
		if err := json.Unmarshal(r.body, out); err != nil {
			return fmt.Errorf("%s %s: bad JSON answer: %w", method, path, err)
		}
	}
	return nil
}

type statusError struct {
	method, path string
	status       int
	code         string
	body         []byte
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %.200s", e.method, e.path, e.status, e.code, bytes.TrimSpace(e.body))
}

// errorCode returns the "error" field of a JSON error body ("" if none).
func errorCode(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

// errorKind names a failed request for the error table: "put 503
// quorum_failed", "get timeout", "put network".
func errorKind(op string, r reply, err error) string {
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return op + " timeout"
		}
		return op + " network"
	}
	code := errorCode(r.body)
	if code == "" {
		code = strings.ReplaceAll(strings.ToLower(http.StatusText(r.status)), " ", "_")
	}
	return fmt.Sprintf("%s %d %s", op, r.status, code)
}

// ---- sets -------------------------------------------------------------------

// EncodeSet encodes a set as a JSON array of its elements in ascending order.
func EncodeSet(elems []int64) []byte {
	s := slices.Clone(elems)
	slices.Sort(s)
	s = slices.Compact(s)
	if s == nil {
		s = []int64{}
	}
	b, _ := json.Marshal(s)
	return b
}

// ParseSet decodes a set written as a JSON array of integers or as a list of
// integers, one a line. Empty input is the empty set.
func ParseSet(b []byte) ([]int64, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, nil
	}
	if t[0] == '[' {
		var out []int64
		if err := json.Unmarshal(t, &out); err != nil {
			return nil, fmt.Errorf("set: not a JSON array of integers: %w", err)
		}
		return out, nil
	}
	var out []int64
	for i, line := range strings.Split(string(t), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("set: line %d: %q is not an integer", i+1, line)
		}
		out = append(out, n)
	}
	return out, nil
}

// readSet reads key (with quorum r, 0 for the default) and returns the union
// of its siblings, its context and its sibling count. A failed request returns
// the error-table kind.
func (a *api) readSet(ctx context.Context, key string, r int) (set map[int64]bool, token string, siblings int, kind string, err error) {
	var q url.Values
	if r > 0 {
		q = url.Values{"r": {strconv.Itoa(r)}}
	}
	rep, err := a.do(ctx, http.MethodGet, "/kv/"+url.PathEscape(key), q, nil, map[string]string{"Accept": "application/json"})
	set = map[int64]bool{}
	switch {
	case err != nil:
		return nil, "", 0, errorKind("get", rep, err), err
	case rep.status == http.StatusNotFound && errorCode(rep.body) == "not_found":
		return set, rep.header.Get(ContextHeader), 0, "", nil
	case rep.status != http.StatusOK && rep.status != http.StatusMultipleChoices:
		return nil, "", 0, errorKind("get", rep, nil), fmt.Errorf("get %s: status %d", key, rep.status)
	}
	var g client.GetBody // values are base64 in the JSON; a bad one fails the decode
	if err := json.Unmarshal(rep.body, &g); err != nil {
		return nil, "", 0, "get bad_json", fmt.Errorf("get %s: %w", key, err)
	}
	for _, s := range g.Siblings {
		elems, err := ParseSet(s.Value)
		if err != nil {
			return nil, "", 0, "get bad_value", fmt.Errorf("get %s: %w", key, err)
		}
		for _, e := range elems {
			set[e] = true
		}
	}
	return set, g.Context, len(g.Siblings), "", nil
}

// ---- the report ---------------------------------------------------------------

// SetReport is the outcome for one set.
type SetReport struct {
	Key          string `json:"key"`
	Attempted    int    `json:"attempted"`
	Acknowledged int    `json:"acknowledged"`
	Present      int    `json:"present"`
	Lost         int    `json:"lost"`
	Unexpected   int    `json:"unexpected"`
	// Recovered are unacknowledged elements present anyway (their put failed
	// or timed out after some replica stored it).
	Recovered int `json:"recovered"`
	// LostSample and UnexpectedSample list up to 20 elements each.
	LostSample       []int64 `json:"lostSample,omitempty"`
	UnexpectedSample []int64 `json:"unexpectedSample,omitempty"`
	// FinalSiblings is the sibling count of the final read.
	FinalSiblings int `json:"finalSiblings"`
}

// Nemesis counts what the nemesis did.
type Nemesis struct {
	Enabled bool `json:"enabled"`
	// Actions counts fault settings by kind (down, slow, errors); Heals counts
	// faults cleared during the run.
	Actions map[string]int `json:"actions"`
	Heals   int            `json:"heals"`
	// MaxDown is the most nodes down at once; Sloppy counts the actions that
	// left more than N-W nodes down, so that some keys had fewer than W
	// primaries up and needed the sloppy quorum's fallbacks.
	MaxDown int `json:"maxDown"`
	Sloppy  int `json:"sloppy"`
	// Errors counts admin requests of the nemesis that failed.
	Errors int `json:"errors"`
	// InjectedFailures is how many replica requests the server failed by
	// injection during the check (from /admin/stats; -1 if unknown).
	InjectedFailures int64 `json:"injectedFailures"`
	// Ring is what the ring-change nemesis did (Config.RingChanges).
	Ring *RingChanges `json:"ring,omitempty"`
}

// Faults is the number of faults the nemesis injected.
func (n Nemesis) Faults() int {
	t := 0
	for _, v := range n.Actions {
		t += v
	}
	return t
}

// Report is the outcome of a check.
type Report struct {
	URL     string `json:"url"`
	Mode    string `json:"mode"` // "siblings" or "lww"
	Seed    uint64 `json:"seed"`
	Prefix  string `json:"prefix"`
	Clients int    `json:"clients"`
	Keys    int    `json:"keys"`
	N       int    `json:"n"`
	R       int    `json:"r"`
	W       int    `json:"w"`
	Nodes   int    `json:"nodes"`

	// Seconds is the workload's duration; OpsPerSec its read-modify-write rate.
	Seconds    float64 `json:"seconds"`
	Operations int     `json:"operations"`
	OpsPerSec  float64 `json:"opsPerSec"`
	// Attempted elements had their put sent; Acknowledged got a 204.
	Attempted    int `json:"attempted"`
	Acknowledged int `json:"acknowledged"`
	Lost         int `json:"lost"`
	// LostPercent is Lost as a percentage of Acknowledged.
	LostPercent float64 `json:"lostPercent"`
	Unexpected  int     `json:"unexpected"`
	Recovered   int     `json:"recovered"`
	// RequestErrors counts failed client requests by kind (expected under
	// faults: 503 is the API's "retry later").
	RequestErrors      map[string]int `json:"requestErrors"`
	RequestErrorsTotal int            `json:"requestErrorsTotal"`
	// MaxSiblings is the largest sibling count any read saw.
	MaxSiblings int     `json:"maxSiblings"`
	Nemesis     Nemesis `json:"nemesis"`
	// Region is what the region nemesis did (nil when off).
	Region *RegionReport `json:"region,omitempty"`
	// Settle: how long the final phase took, how many repairs it ran, and the
	// hint queue as it ended.
	SettleSeconds float64     `json:"settleSeconds"`
	Repairs       int         `json:"repairs"`
	HintsAfter    QueueStats  `json:"hintsAfter"`
	Sets          []SetReport `json:"sets"`
}

// QueueStats is the hint queue as /admin/stats reports it.
type QueueStats struct {
	Visible  int `json:"visible"`
	InFlight int `json:"inFlight"`
	Dead     int `json:"dead"`
}

// OK reports whether the check passed: something was acknowledged, nothing
// unexpected appeared, and (with siblings) nothing acknowledged was lost.
func (r *Report) OK() bool {
	return r.Acknowledged > 0 && r.Unexpected == 0 && (r.Mode == "lww" || r.Lost == 0)
}

// Verdict is a one-line summary of the outcome.
func (r *Report) Verdict() string {
	switch {
	case r.Acknowledged == 0:
		return "INCONCLUSIVE: no element was acknowledged"
	case r.Unexpected > 0:
		return fmt.Sprintf("FAIL: %d elements present that no client wrote", r.Unexpected)
	case r.Mode == "lww":
		return fmt.Sprintf("LWW: %d of %d acknowledged elements lost (%.1f%%), the documented price of last-write-wins",
			r.Lost, r.Acknowledged, r.LostPercent)
	case r.Lost > 0:
		return fmt.Sprintf("FAIL: %d acknowledged elements lost", r.Lost)
	}
	return "PASS: every acknowledged element is present"
}

// WriteTable prints the report as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	row := func(k, f string, a ...any) { fmt.Fprintf(&b, "%-18s %s\n", k, fmt.Sprintf(f, a...)) }
	row("check", "%s mode, %d clients, %d sets (%s/*), nemesis %s, seed %d", r.Mode, r.Clients, r.Keys, r.Prefix, onOff(r.Nemesis.Enabled), r.Seed)
	row("cluster", "%s: %d nodes, N=%d R=%d W=%d", r.URL, r.Nodes, r.N, r.R, r.W)
	row("duration", "%.1f s, then %.1f s to settle (%d repairs; hints left: %d visible, %d in flight, %d dead)",
		r.Seconds, r.SettleSeconds, r.Repairs, r.HintsAfter.Visible, r.HintsAfter.InFlight, r.HintsAfter.Dead)
	row("operations", "%d read-modify-writes (%.1f ops/s)", r.Operations, r.OpsPerSec)
	if g := r.Region; g != nil {
		row("region nemesis", "cut %s off at %.1fs, healed at %.1fs, %d coordinators writing%s", g.Name, g.CutAt, g.HealedAt, g.Coordinators, map[bool]string{true: ", error: " + g.Error, false: ""}[g.Error != ""])
	}
	if r.Nemesis.Enabled {
		var kinds []string
		for _, k := range sortedKeys(r.Nemesis.Actions) {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, r.Nemesis.Actions[k]))
		}
		inj := "unknown"
		if r.Nemesis.InjectedFailures >= 0 {
			inj = strconv.FormatInt(r.Nemesis.InjectedFailures, 10)
		}
		row("faults injected", "%d (%s; %d heals); up to %d nodes down at once, %d sloppy-quorum actions; %s replica requests failed by injection",
			r.Nemesis.Faults(), strings.Join(kinds, ", "), r.Nemesis.Heals, r.Nemesis.MaxDown, r.Nemesis.Sloppy, inj)
	} else {
		row("faults injected", "none (nemesis off)")
	}
	if rc := r.Nemesis.Ring; rc != nil {
		row("ring changes", "%d nodes added, %d removed, %d commits while clients wrote (%d admin errors)", rc.Added, rc.Removed, rc.Commits, rc.Errors)
	}
	row("attempted", "%d", r.Attempted)
	row("acknowledged", "%d", r.Acknowledged)
	row("lost", "%d (%.2f%% of acknowledged)", r.Lost, r.LostPercent)
	row("unexpected", "%d", r.Unexpected)
	row("recovered", "%d (unacknowledged, present anyway)", r.Recovered)
	var errs []string
	for _, k := range sortedKeys(r.RequestErrors) {
		errs = append(errs, fmt.Sprintf("%s: %d", k, r.RequestErrors[k]))
	}
	if len(errs) == 0 {
		errs = []string{"none"}
	}
	row("request errors", "%d (%s)", r.RequestErrorsTotal, strings.Join(errs, ", "))
	row("max siblings", "%d", r.MaxSiblings)
	width := len("set")
	for _, s := range r.Sets {
		width = max(width, len(s.Key))
	}
	fmt.Fprintf(&b, "\n%-*s %9s %12s %8s %6s %10s %9s %8s\n", width, "set", "attempted", "acknowledged", "present", "lost", "unexpected", "recovered", "siblings")
	for _, s := range r.Sets {
		fmt.Fprintf(&b, "%-*s %9d %12d %8d %6d %10d %9d %8d\n", width, s.Key, s.Attempted, s.Acknowledged, s.Present, s.Lost, s.Unexpected, s.Recovered, s.FinalSiblings)
		if len(s.LostSample) > 0 {
			fmt.Fprintf(&b, "  lost, e.g.: %v\n", s.LostSample)
		}
		if len(s.UnexpectedSample) > 0 {
			fmt.Fprintf(&b, "  unexpected, e.g.: %v\n", s.UnexpectedSample)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.Verdict())
	_, err := io.WriteString(w, b.String())
	return err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- the run ----------------------------------------------------------------------

type ringInfo struct {
	N   int  `json:"n"`
	R   int  `json:"r"`
	W   int  `json:"w"`
	LWW bool `json:"lww"`
}

type nodesInfo struct {
	Nodes []struct {
		ID   string `json:"id"`
		Zone string `json:"zone"`
	} `json:"nodes"`
}

type statsInfo struct {
	FaultsInjected *int64      `json:"faultsInjected"`
	Hints          *QueueStats `json:"hints"`
}

// history is what the clients did: elements attempted and acknowledged per
// key, and failed requests by kind.
type history struct {
	mu        sync.Mutex
	attempted map[string]map[int64]bool
	acked     map[string]map[int64]bool
	errors    map[string]int
}

func (h *history) add(m map[string]map[int64]bool, key string, e int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := m[key]
	if s == nil {
		s = map[int64]bool{}
		m[key] = s
	}
	s[e] = true
}

func (h *history) fail(kind string) {
	h.mu.Lock()
	h.errors[kind]++
	h.mu.Unlock()
}

type run struct {
	cfg   Config
	api   *api
	ring  ringInfo
	nodes []string
	keys  []string
	hist  *history

	ops, acked, errs atomic.Int64
	maxSib           atomic.Int64
	next             atomic.Int64
}

func (r *run) sawSiblings(n int) {
	for {
		cur := r.maxSib.Load()
		if int64(n) <= cur || r.maxSib.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// Run runs the check and returns its report. An error means the check could
// not run (bad configuration, unreachable server, mode mismatch, faults that
// would not clear); a report whose OK is false means it ran and found a
// problem.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &run{
		cfg: cfg, api: &api{base: cfg.URL, hc: cfg.HTTP},
		hist: &history{attempted: map[string]map[int64]bool{}, acked: map[string]map[int64]bool{}, errors: map[string]int{}},
	}
	if err := r.api.admin(ctx, http.MethodGet, "/admin/ring", nil, &r.ring); err != nil {
		return nil, fmt.Errorf("setcheck: reading the ring: %w", err)
	}
	if r.ring.N < 1 || r.ring.W < 1 {
		return nil, fmt.Errorf("setcheck: the ring reports N=%d W=%d", r.ring.N, r.ring.W)
	}
	switch {
	case cfg.LWW && !r.ring.LWW:
		return nil, fmt.Errorf("%w: --lww expects a last-write-wins cluster, but this one keeps siblings (start one with serve --lww)", ErrMode)
	case !cfg.LWW && r.ring.LWW:
		return nil, fmt.Errorf("%w: this cluster is last-write-wins and will lose writes; run the check with --lww to measure the loss", ErrMode)
	}
	var ni nodesInfo
	if err := r.api.admin(ctx, http.MethodGet, "/admin/nodes", nil, &ni); err != nil {
		return nil, fmt.Errorf("setcheck: reading the nodes: %w", err)
	}
	for _, n := range ni.Nodes {
		if cfg.RingChanges && n.ID == RingNode {
			continue // the ring-change nemesis's node: it comes and goes
		}
		r.nodes = append(r.nodes, n.ID)
	}
	sort.Strings(r.nodes)
	for i := 0; i < cfg.Keys; i++ {
		r.keys = append(r.keys, fmt.Sprintf("%s/set-%d", cfg.Prefix, i))
	}
	rep := &Report{
		URL: cfg.URL, Mode: "siblings", Seed: cfg.Seed, Prefix: cfg.Prefix, Clients: cfg.Clients, Keys: cfg.Keys,
		N: r.ring.N, R: r.ring.R, W: r.ring.W, Nodes: len(r.nodes),
		Nemesis: Nemesis{Enabled: cfg.Nemesis, Actions: map[string]int{}, InjectedFailures: -1},
	}
	if cfg.LWW {
		rep.Mode = "lww"
	}
	injectedBefore := r.injected(ctx)
	var nem *nemesis
	if cfg.Nemesis {
		if len(r.nodes) == 0 {
			return nil, fmt.Errorf("setcheck: the cluster lists no nodes")
		}
		nem = newNemesis(rand.New(rand.NewPCG(cfg.Seed, 0x6e656d65)), r.nodes, r.ring.N, r.ring.W, cfg.MaxDown, cfg.Sloppy, cfg.MaxLatency)
		// Start from a healthy cluster; this also proves the fault API is on.
		if err := r.clearFaults(ctx); err != nil {
			return nil, err
		}
	}

	// The workload: clients and the nemesis until the duration or the
	// operation budget is spent (or ctx ends).
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	start := time.Now()
	var wg sync.WaitGroup
	var clients sync.WaitGroup
	apis := []*api{r.api}
	for _, u := range cfg.Coordinators {
		apis = append(apis, &api{base: strings.TrimRight(u, "/"), hc: cfg.HTTP})
	}
	for i := 0; i < cfg.Clients; i++ {
		clients.Add(1)
		go func() {
			defer clients.Done()
			r.client(ctx, apis[i%len(apis)], rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)), stop)
		}()
	}
	if cfg.Region != nil {
		rep.Region = &RegionReport{Name: cfg.Region.Name, Coordinators: len(apis)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg.Region.run(ctx, rep.Region, stop)
		}()
	}
	if nem != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.nemesis(ctx, nem, stop)
		}()
	}
	var ringc *RingChanges
	if cfg.RingChanges {
		if len(r.nodes) == 0 {
			return nil, fmt.Errorf("setcheck: the cluster lists no nodes")
		}
		ringc = &RingChanges{}
		rep.Nemesis.Ring = ringc
		zone := ni.Nodes[len(ni.Nodes)-1].Zone
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.ringNemesis(ctx, ringc, zone, cfg.NemesisInterval, stop)
		}()
	}
	if cfg.Progress != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.progress(nem, start, stop)
		}()
	}
	var timer <-chan time.Time
	if cfg.Duration > 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		timer = t.C
	}
	clientsDone := make(chan struct{})
	go func() { clients.Wait(); close(clientsDone) }()
	select {
	case <-timer:
	case <-clientsDone: // the operation budget is spent
	case <-ctx.Done():
	}
	halt()
	<-clientsDone
	wg.Wait()
	elapsed := time.Since(start)
	rep.Seconds = elapsed.Seconds()
	rep.Operations = int(min(r.ops.Load(), int64(maxOps(cfg.Ops))))
	if elapsed > 0 {
		rep.OpsPerSec = float64(rep.Operations) / elapsed.Seconds()
	}
	if nem != nil {
		rep.Nemesis.Actions, rep.Nemesis.Heals = nem.actions, nem.heals
		rep.Nemesis.MaxDown, rep.Nemesis.Sloppy, rep.Nemesis.Errors = nem.maxDown, nem.sloppy, nem.errors
	}
	if err := ctx.Err(); err != nil {
		if nem != nil {
			// Leave no fault behind, even when interrupted.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if cerr := r.clearFaults(cctx); cerr != nil {
				return nil, fmt.Errorf("setcheck: interrupted (%w), and clearing the faults failed: %w", err, cerr)
			}
		}
		return nil, fmt.Errorf("setcheck: interrupted (faults cleared): %w", err)
	}

	// Settle: heal, repair, and read every set with R=N.
	settleStart := time.Now()
	if nem != nil {
		if err := r.clearFaults(ctx); err != nil {
			return nil, err
		}
	}
	if ringc != nil {
		// Leave the ring as it was: the nemesis's node goes.
		if err := r.ringRestore(ctx, cfg.Settle); err != nil {
			return nil, err
		}
	}
	final, err := r.settle(ctx, rep)
	rep.SettleSeconds = time.Since(settleStart).Seconds()
	if err != nil {
		return nil, err
	}
	if injectedAfter := r.injected(ctx); injectedBefore >= 0 && injectedAfter >= 0 {
		rep.Nemesis.InjectedFailures = injectedAfter - injectedBefore
	}
	r.summarize(rep, final)
	return rep, nil
}

func maxOps(ops int) int {
	if ops <= 0 {
		return int(^uint(0) >> 1)
	}
	return ops
}

// injected reads the server's count of injected failures (-1 if unknown).
func (r *run) injected(ctx context.Context) int64 {
	var st statsInfo
	if err := r.api.admin(ctx, http.MethodGet, "/admin/stats", nil, &st); err != nil || st.FaultsInjected == nil {
		return -1
	}
	return *st.FaultsInjected
}

// client runs read-modify-writes until stop closes or the budget is spent.
func (r *run) client(ctx context.Context, a *api, rng *rand.Rand, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if n := r.ops.Add(1); r.cfg.Ops > 0 && n > int64(r.cfg.Ops) {
			return
		}
		key := r.keys[rng.IntN(len(r.keys))]
		elem := r.next.Add(1)
		if !r.addElement(ctx, a, key, elem) {
			// Back off a little after a failure so a down cluster is not
			// hammered; stop still ends the wait.
			t := time.NewTimer(time.Duration(20+rng.IntN(60)) * time.Millisecond)
			select {
			case <-t.C:
			case <-stop:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
}

// addElement adds elem to key's set by read-modify-write; it reports whether
// the put was acknowledged.
func (r *run) addElement(ctx context.Context, a *api, key string, elem int64) bool {
	set, token, sibs, kind, err := a.readSet(ctx, key, 0)
	if err != nil {
		r.errs.Add(1)
		r.hist.fail(kind)
		return false
	}
	r.sawSiblings(sibs)
	elems := make([]int64, 0, len(set)+1)
	for e := range set {
		elems = append(elems, e)
	}
	elems = append(elems, elem)
	r.hist.add(r.hist.attempted, key, elem)
	rep, err := a.do(ctx, http.MethodPut, "/kv/"+url.PathEscape(key), nil, EncodeSet(elems),
		map[string]string{"Content-Type": "application/json", ContextHeader: token})
	if err != nil || rep.status != http.StatusNoContent {
		r.errs.Add(1)
		r.hist.fail(errorKind("put", rep, err))
		return false
	}
	r.hist.add(r.hist.acked, key, elem)
	r.acked.Add(1)
	return true
}

func (r *run) progress(nem *nemesis, start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			faults := 0
			if nem != nil {
				faults = nem.faults()
			}
			elapsed := fmt.Sprintf("%.0fs", time.Since(start).Seconds())
			if r.cfg.Duration > 0 {
				elapsed += fmt.Sprintf(" of %s", r.cfg.Duration)
			}
			if r.cfg.Ops > 0 {
				elapsed += fmt.Sprintf(", ops %d of %d", r.ops.Load(), r.cfg.Ops)
			}
			fmt.Fprintf(r.cfg.Progress, "check: %s  ops %d  acknowledged %d  request errors %d  faults %d  max siblings %d\n",
				elapsed, r.ops.Load(), r.acked.Load(), r.errs.Load(), faults, r.maxSib.Load())
		}
	}
}

// nemesis applies one fault action per interval until stop closes.
func (r *run) nemesis(ctx context.Context, n *nemesis, stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.NemesisInterval)
	defer t.Stop()
	for {
		a := n.next()
		var err error
		if a.heal {
			err = r.api.admin(ctx, http.MethodDelete, "/admin/faults/"+url.PathEscape(a.node), nil, nil)
		} else {
			err = r.api.admin(ctx, http.MethodPut, "/admin/faults/"+url.PathEscape(a.node), a.mode, nil)
		}
		n.applied(a, err)
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// clearFaults clears every node's fault and checks that none is left.
func (r *run) clearFaults(ctx context.Context) error {
	for _, id := range r.nodes {
		err := r.api.admin(ctx, http.MethodDelete, "/admin/faults/"+url.PathEscape(id), nil, nil)
		var se *statusError
		if errors.As(err, &se) && se.code == "faults_disabled" {
			return fmt.Errorf("setcheck: the server has fault injection disabled; run with the nemesis off: %w", err)
		}
		if err != nil {
			return fmt.Errorf("setcheck: clearing faults: %w", err)
		}
	}
	var left struct {
		Faults map[string]json.RawMessage `json:"faults"`
	}
	if err := r.api.admin(ctx, http.MethodGet, "/admin/faults", nil, &left); err != nil {
		return fmt.Errorf("setcheck: listing faults: %w", err)
	}
	if len(left.Faults) > 0 {
		return fmt.Errorf("setcheck: faults still set after clearing: %v", sortedKeys(left.Faults))
	}
	return nil
}

// settle repairs and reads every set with R=N until nothing acknowledged is
// missing, or (LWW, where losses are expected) the hint queue stayed empty for
// two rounds, or the settle deadline passes. It returns the final sets.
func (r *run) settle(ctx context.Context, rep *Report) (map[string]finalSet, error) {
	deadline := time.Now().Add(r.cfg.Settle)
	emptyRounds := 0
	var final map[string]finalSet
	for round := 0; ; round++ {
		if err := r.api.admin(ctx, http.MethodPost, "/admin/repair", nil, nil); err != nil {
			r.hist.fail("repair " + kindOf(err))
		} else {
			rep.Repairs++
		}
		var st statsInfo
		statsKnown := r.api.admin(ctx, http.MethodGet, "/admin/stats", nil, &st) == nil && st.Hints != nil
		if statsKnown {
			rep.HintsAfter = *st.Hints
		}
		cur, readErr := r.readAll(ctx)
		if readErr == nil {
			final = cur
		}
		missing := -1
		if readErr == nil {
			missing = r.missing(cur)
		}
		if statsKnown && st.Hints.Visible == 0 && st.Hints.InFlight == 0 {
			emptyRounds++
		} else {
			emptyRounds = 0
		}
		switch {
		case missing == 0:
			return final, nil
		case r.cfg.LWW && missing > 0 && (emptyRounds >= 2 || (!statsKnown && round >= 1)):
			// Losses are expected and nothing queued can still change the
			// sets. (With siblings a loss is a failure: the check waits the
			// whole settle time for it to come back, e.g. from a node the
			// server still suspects, rather than report it early.)
			return final, nil
		case time.Now().After(deadline):
			if final == nil {
				return nil, fmt.Errorf("setcheck: the final read with r=%d did not succeed within %v: %w", r.ring.N, r.cfg.Settle, readErr)
			}
			return final, nil
		}
		t := time.NewTimer(time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("setcheck: interrupted while settling: %w", ctx.Err())
		}
	}
}

func kindOf(err error) string {
	var se *statusError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %s", se.status, se.code)
	}
	return "network"
}

type finalSet struct {
	elems    map[int64]bool
	siblings int
}

// readAll reads every set with R=N.
func (r *run) readAll(ctx context.Context) (map[string]finalSet, error) {
	out := map[string]finalSet{}
	for _, k := range r.keys {
		set, _, sibs, kind, err := r.api.readSet(ctx, k, r.ring.N)
		if err != nil {
			r.hist.fail("final " + kind)
			return nil, err
		}
		r.sawSiblings(sibs)
		out[k] = finalSet{elems: set, siblings: sibs}
	}
	return out, nil
}

// missing counts acknowledged elements absent from final.
func (r *run) missing(final map[string]finalSet) int {
	r.hist.mu.Lock()
	defer r.hist.mu.Unlock()
	n := 0
	for k, acked := range r.hist.acked {
		for e := range acked {
			if !final[k].elems[e] {
				n++
			}
		}
	}
	return n
}

func (r *run) summarize(rep *Report, final map[string]finalSet) {
	h := r.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	rep.RequestErrors = map[string]int{}
	for k, v := range h.errors {
		rep.RequestErrors[k] = v
		rep.RequestErrorsTotal += v
	}
	for _, k := range r.keys {
		s := SetReport{Key: k, Attempted: len(h.attempted[k]), Acknowledged: len(h.acked[k]),
			Present: len(final[k].elems), FinalSiblings: final[k].siblings}
		for _, e := range sortedElems(h.acked[k]) {
			if !final[k].elems[e] {
				s.Lost++
				if len(s.LostSample) < 20 {
					s.LostSample = append(s.LostSample, e)
				}
			}
		}
		for _, e := range sortedElems(final[k].elems) {
			switch {
			case !h.attempted[k][e]:
				s.Unexpected++
				if len(s.UnexpectedSample) < 20 {
					s.UnexpectedSample = append(s.UnexpectedSample, e)
				}
			case !h.acked[k][e]:
				s.Recovered++
			}
		}
		rep.Sets = append(rep.Sets, s)
		rep.Attempted += s.Attempted
		rep.Acknowledged += s.Acknowledged
		rep.Lost += s.Lost
		rep.Unexpected += s.Unexpected
		rep.Recovered += s.Recovered
	}
	if rep.Acknowledged > 0 {
		rep.LostPercent = 100 * float64(rep.Lost) / float64(rep.Acknowledged)
	}
	rep.MaxSiblings = int(r.maxSib.Load())
}

func sortedElems(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for e := range m {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}
