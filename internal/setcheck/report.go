// The report of a run: what was acknowledged, lost and injected, and its
// table.

package setcheck

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

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
	// Removed and Resurrected (data type mode): acknowledged removes, and
	// those whose element is present at the end.
	Removed     int `json:"removed,omitempty"`
	Resurrected int `json:"resurrected,omitempty"`
}

// Nemesis counts what the nemesis did.
type Nemesis struct {
	Enabled bool `json:"enabled"`
	// Actions counts fault settings by kind (down, slow, errors); Heals counts
	// faults cleared during the run.
	Actions map[string]int `json:"actions"`
	Heals   int            `json:"heals"`
	// MaxDown is the most nodes down at once (a region cut's nodes included
	// when the cut names them, RegionCut.Nodes); Sloppy counts the actions that
	// left more than N-W nodes down, so that some keys had fewer than W
	// primaries up and needed the sloppy quorum's fallbacks.
	MaxDown int `json:"maxDown"`
	Sloppy  int `json:"sloppy"`
	// Errors counts admin requests of the nemesis that failed.
	Errors int `json:"errors"`
	// InjectedFailures is how many replica requests the server failed by
	// injection during the check, the region cut's faults included (from
	// /admin/stats; -1 if unknown).
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
	Mode    string `json:"mode"` // "siblings", "lww" or "crdt"
	Seed    uint64 `json:"seed"`
	Prefix  string `json:"prefix"`
	Clients int    `json:"clients"`
	Keys    int    `json:"keys"`
	N       int    `json:"n"`
	R       int    `json:"r"`
	W       int    `json:"w"`
	// Quorum is the r and w the clients asked for ("" for the cluster's).
	Quorum string `json:"quorum,omitempty"`
	Nodes  int    `json:"nodes"`

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
	// Removed and Resurrected: see SetReport (data type mode).
	Removed     int `json:"removed,omitempty"`
	Resurrected int `json:"resurrected,omitempty"`
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
	return r.Acknowledged > 0 && r.Unexpected == 0 && r.Resurrected == 0 && (r.Mode == "lww" || r.Lost == 0)
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
	case r.Lost > 0 || r.Resurrected > 0:
		return fmt.Sprintf("FAIL: %d acknowledged elements lost, %d removed elements resurrected", r.Lost, r.Resurrected)
	case r.Mode == "crdt":
		return fmt.Sprintf("PASS: every acknowledged add is present and all %d acknowledged removes held", r.Removed)
	}
	return "PASS: every acknowledged element is present"
}

// WriteTable prints the report as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	row := func(k, f string, a ...any) { fmt.Fprintf(&b, "%-18s %s\n", k, fmt.Sprintf(f, a...)) }
	row("check", "%s mode, %d clients, %d sets (%s/*), nemesis %s, seed %d", r.Mode, r.Clients, r.Keys, r.Prefix, onOff(r.Nemesis.Enabled), r.Seed)
	row("cluster", "%s: %d nodes, N=%d R=%d W=%d%s", r.URL, r.Nodes, r.N, r.R, r.W, map[bool]string{true: ", clients ask r=w=" + r.Quorum, false: ""}[r.Quorum != ""])
	row("duration", "%.1f s, then %.1f s to settle (%d repairs; hints left: %d visible, %d in flight, %d dead)",
		r.Seconds, r.SettleSeconds, r.Repairs, r.HintsAfter.Visible, r.HintsAfter.InFlight, r.HintsAfter.Dead)
	row("operations", "%d read-modify-writes (%.1f ops/s)", r.Operations, r.OpsPerSec)
	if g := r.Region; g != nil {
		row("region nemesis", "cut %s off at %.1fs, healed at %.1fs, %d coordinators writing%s", g.Name, g.CutAt, g.HealedAt, g.Coordinators, map[bool]string{true: ", error: " + g.Error, false: ""}[g.Error != ""])
		for _, c := range g.DuringCut {
			row("  during the cut", "%s: %d acknowledged, %d failed", c.URL, c.Acknowledged, c.Failed)
		}
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
	} else if r.Region != nil && r.Nemesis.InjectedFailures >= 0 {
		row("faults injected", "by the region cut only (nemesis off); %d replica requests failed by injection", r.Nemesis.InjectedFailures)
	} else {
		row("faults injected", "none (nemesis off)")
	}
	if rc := r.Nemesis.Ring; rc != nil {
		row("ring changes", "%d nodes added, %d removed, %d commits while clients wrote (%d admin errors)", rc.Added, rc.Removed, rc.Commits, rc.Errors)
		if rc.Commits == 0 && rc.SettlingWaits > 0 {
			settle := (time.Duration(rc.SettleMs) * time.Millisecond).Round(10 * time.Second)
			row("", "no commit: every plan was still settling (the server transfers a plan only %v after it; serve --plan-settle 1s, or a longer --duration)", settle)
		}
	}
	row("attempted", "%d", r.Attempted)
	row("acknowledged", "%d", r.Acknowledged)
	row("lost", "%d (%.2f%% of acknowledged)", r.Lost, r.LostPercent)
	row("unexpected", "%d", r.Unexpected)
	row("recovered", "%d (unacknowledged, present anyway)", r.Recovered)
	if r.Mode == "crdt" {
		row("removed", "%d acknowledged removes, %d resurrected", r.Removed, r.Resurrected)
	}
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
