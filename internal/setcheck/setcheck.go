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
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	// Quorum, if set, is the r and w of the clients' reads and writes (1..N,
	// one, quorum, all or local); "" keeps the cluster's. The final read is
	// always r=N.
	Quorum string
	// CRDT runs the workload over typed sets (/crdt) with removes too, and
	// counts resurrected removes besides lost adds (crdt.go).
	CRDT bool
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
	case c.CRDT && c.LWW:
		return fmt.Errorf("%w: --crdt and --lww: data types need the siblings mode", ErrConfig)
	case c.Duration == 0 && c.Ops == 0:
		return fmt.Errorf("%w: give a duration or an operation count (the workload must be bounded)", ErrConfig)
	case c.MaxDown < 0 || c.Settle < 0 || c.NemesisInterval < 0 || c.MaxLatency < 0 || c.Timeout < 0:
		return fmt.Errorf("%w: max-down, settle, nemesis interval, max latency and timeout must not be negative", ErrConfig)
	case c.Sloppy > 1:
		return fmt.Errorf("%w: sloppy=%v must be at most 1", ErrConfig, c.Sloppy)
	case c.MaxLatency > time.Minute:
		return fmt.Errorf("%w: max latency %v exceeds a minute", ErrConfig, c.MaxLatency)
	case !validQuorum(c.Quorum):
		return fmt.Errorf("%w: quorum %q must be 1..N, one, quorum, all or local", ErrConfig, c.Quorum)
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

// validQuorum reports whether q is "" or a quorum the API takes for r and w
// (a number is checked against N by the server).
func validQuorum(q string) bool {
	switch q {
	case "", "one", "quorum", "all", "local":
		return true
	}
	n, err := strconv.Atoi(q)
	return err == nil && n >= 1 && strconv.Itoa(n) == q
}
