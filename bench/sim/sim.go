// Package sim is Cartwheel's simulator (`cartwheel sim`, `make sim`): a
// deterministic, seeded discrete-event simulation of a large ring (hundreds
// of nodes, a million keys) that runs the real core packages — core/ring for
// partitioning and preference lists, core/quorum for read and write quorums,
// core/vclock for versions — to check at a scale this machine cannot deploy
// what the Dynamo paper measured:
//
//	(a) quorum latency relative to one request, with replica latencies drawn
//	    independently from a lognormal fitted to S3, beside the
//	    order-statistics theory;
//	(b) section 6.2: load-balance efficiency and membership metadata size of
//	    partitioning strategies 1, 2 and 3 under zipfian key popularity;
//	(c) section 6.3: the share of reads that see 1, 2, 3, 4 versions under
//	    concurrent writers and node failures, then with cart contents: union
//	    carts merged by hand against typed carts (core/crdt), and the deleted
//	    items a union brings back (carts.go);
//	(d) the data moved when a node joins or leaves.
//
// The same seed gives the same tables on every machine.
package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// BalanceSet is one group of part (b)'s rows: a ring size, a skew, and the
// partition counts Q (strategies 1 and 2 get T = Q/S tokens per node: the
// same metadata size).
type BalanceSet struct {
	Nodes int     `json:"nodes"`
	Theta float64 `json:"zipfTheta"`
	Qs    []int   `json:"qs"`
}

// Config is the simulator's configuration. Start from DefaultConfig.
type Config struct {
	Seed uint64 `json:"seed"`
	// Nodes and Q shape the ring of parts (a), (c) and (d).
	Nodes int `json:"nodes"`
	Q     int `json:"q"`
	// Replica latency distributions (lognormal fitted to p50 and p99).
	GetP50Ms float64 `json:"getP50Ms"`
	GetP99Ms float64 `json:"getP99Ms"`
	PutP50Ms float64 `json:"putP50Ms"`
	PutP99Ms float64 `json:"putP99Ms"`
	// LatencyOps is part (a)'s operations per kind.
	LatencyOps int `json:"latencyOpsPerKind"`
	// Part (b).
	BalanceKeys   int          `json:"balanceKeys"`
	BalanceTrials int          `json:"balanceTrials"`
	BalanceSets   []BalanceSet `json:"balanceSets"`
	// Part (c).
	Carts            int               `json:"carts"`
	Sessions         int               `json:"sessionsPerScenario"`
	ThinkMs          float64           `json:"thinkMeanMs"`
	VersionScenarios []VersionScenario `json:"versionScenarios"`
	// Part (d).
	MoveKeys int   `json:"moveKeys"`
	MoveQs   []int `json:"moveQs"`
	// Parts to run: any of "a", "b", "c", "d".
	Parts []string `json:"parts"`
	// OutDir receives sim.json and sim.md ("" writes nothing).
	OutDir string `json:"-"`
	// Command is the command line, for the record.
	Command string `json:"command"`
	// Progress, if set, receives a line when a part finishes and every
	// ProgressEvery (default 5 s) while parts run.
	Progress      io.Writer     `json:"-"`
	ProgressEvery time.Duration `json:"-"`
}

// partNames are the parts' names in words.
var partNames = map[string]string{"a": "latency", "b": "load balance", "c": "versions", "d": "data moved", "e": "geography"}

// DefaultConfig returns the settings `make sim` uses (under a minute on a
// 2-core machine).
func DefaultConfig() Config {
	return Config{
		Seed:  1,
		Nodes: 300,
		Q:     4096,
		// Round numbers for S3 Standard small objects in-region (the design
		// notes' anchor: median tens of ms); they are assumptions, not
		// measurements. The ratios to one request depend only on the spread
		// (sigma, i.e. p99/p50), not on the scale.
		GetP50Ms: 20, GetP99Ms: 80,
		PutP50Ms: 30, PutP99Ms: 120,
		LatencyOps:    100_000,
		BalanceKeys:   1_000_000,
		BalanceTrials: 3,
		BalanceSets: []BalanceSet{
			// The paper's S=30, N=3, with a skew whose hottest key (1.3% of
			// requests) is well below a node's share (10%), as the paper assumes.
			{Nodes: 30, Theta: 0.8, Qs: []int{256, 1024, 4096, 16384}},
			// YCSB's skew: the hottest key alone is 6.9% of the requests, so
			// the nodes holding it are hot whatever the partitioning.
			{Nodes: 30, Theta: 0.99, Qs: []int{256, 1024, 4096, 16384}},
			// A large ring: a node's share is 1%, so the skew must be milder
			// for the paper's assumption to hold.
			{Nodes: 300, Theta: 0.5, Qs: []int{4096, 16384, 65536}},
		},
		Carts:    1_000_000,
		Sessions: 200_000,
		ThinkMs:  50,
		VersionScenarios: []VersionScenario{
			{Name: "shopping carts", Rate: 20, Theta: 0.8},
			{Name: "carts + node failures", Rate: 20, Theta: 0.8, MTBFHours: 6, MTTRMinutes: 15},
			{Name: "carts, 10x the rate", Rate: 200, Theta: 0.8},
			{Name: "carts + busy robots", Rate: 20, Theta: 0.8, RobotRate: 5, RobotKeys: 100},
		},
		MoveKeys: 1_000_000,
		MoveQs:   []int{4096, 16384},
		Parts:    []string{"a", "b", "c", "d", "e"},
		OutDir:   "bench/results",
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Nodes < 4 || c.Nodes > 4096:
		return fmt.Errorf("sim: nodes=%d must be in [4, 4096]", c.Nodes)
	case c.Q < c.Nodes || c.Q&(c.Q-1) != 0 || c.Q > 65536:
		return fmt.Errorf("sim: q=%d must be a power of two in [nodes, 65536]", c.Q)
	case !(c.GetP50Ms > 0 && c.GetP99Ms > c.GetP50Ms && c.PutP50Ms > 0 && c.PutP99Ms > c.PutP50Ms):
		return fmt.Errorf("sim: latencies need 0 < p50 < p99")
	case c.LatencyOps < 1 || c.BalanceKeys < 1 || c.BalanceTrials < 1 || c.Carts < 1 || c.Sessions < 1 || c.MoveKeys < 1:
		return fmt.Errorf("sim: counts must be >= 1")
	case c.ThinkMs < 0:
		return fmt.Errorf("sim: think time must be >= 0")
	}
	for _, s := range c.VersionScenarios {
		if s.Rate <= 0 || !(s.Theta >= 0 && s.Theta < 1) || s.RobotRate < 0 || (s.RobotRate > 0 && s.RobotKeys < 1) ||
			s.MTBFHours < 0 || (s.MTBFHours > 0 && s.MTTRMinutes <= 0) {
			return fmt.Errorf("sim: bad scenario %+v", s)
		}
	}
	for _, b := range c.BalanceSets {
		if b.Nodes < 4 || !(b.Theta >= 0 && b.Theta < 1) {
			return fmt.Errorf("sim: bad balance set %+v", b)
		}
		for _, q := range b.Qs {
			if q < b.Nodes || q&(q-1) != 0 || q > 65536 {
				return fmt.Errorf("sim: balance q=%d must be a power of two in [nodes, 65536]", q)
			}
		}
	}
	for _, q := range c.MoveQs {
		if q < c.Nodes || q&(q-1) != 0 || q > 65536 {
			return fmt.Errorf("sim: move q=%d must be a power of two in [nodes, 65536]", q)
		}
	}
	for _, p := range c.Parts {
		if p != "a" && p != "b" && p != "c" && p != "d" && p != "e" {
			return fmt.Errorf("sim: unknown part %q (want a, b, c, d, e)", p)
		}
	}
	return nil
}

// Result is the simulator's output (bench/results/sim.json).
type Result struct {
	Tool     string             `json:"tool"`
	Command  string             `json:"command"`
	Config   Config             `json:"config"`
	Host     string             `json:"host"`
	Seconds  map[string]float64 `json:"secondsPerPart"`
	Latency  *LatencyResult     `json:"latency,omitempty"`
	Balance  *BalanceResult     `json:"loadBalance,omitempty"`
	Versions *VersionResult     `json:"versions,omitempty"`
	Movement *MoveResult        `json:"dataMoved,omitempty"`
	Geo      *GeoResult         `json:"geography,omitempty"`
}

func (c Config) has(p string) bool {
	for _, x := range c.Parts {
		if x == p {
			return true
		}
	}
	return false
}

// Run runs the configured parts, writes sim.json and sim.md into OutDir and
// prints the tables to out.
func Run(cfg Config, out io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The simulation allocates many small short-lived objects; trade memory
	// for less garbage collection while it runs.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	res := &Result{Tool: "cartwheel sim", Command: cfg.Command, Config: cfg, Seconds: map[string]float64{},
		Host: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}
	// The parts are independent, each with its own seeded generator: they
	// run in parallel and give the same tables as run one by one.
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 5)
	start := time.Now()
	timed := func(i int, part string, f func() error) {
		if !cfg.has(part) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			errs[i] = f()
			mu.Lock()
			res.Seconds[part] = time.Since(t).Round(time.Millisecond).Seconds()
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "sim: part %s (%s) done in %.0f s\n", part, partNames[part], res.Seconds[part])
			}
			mu.Unlock()
		}()
	}
	if cfg.Progress != nil {
		every := cfg.ProgressEvery
		if every <= 0 {
			every = 5 * time.Second
		}
		// The ticker writes under mu (the parts write to the same
		// writer) and is stopped and waited for before Run returns, so
		// a caller may read its writer as soon as Run is done.
		stop := make(chan struct{})
		ticked := make(chan struct{})
		defer func() { close(stop); <-ticked }()
		go func() {
			defer close(ticked)
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					mu.Lock()
					var running []string
					for _, p := range cfg.Parts {
						if _, done := res.Seconds[p]; !done {
							running = append(running, p+" ("+partNames[p]+")")
						}
					}
					fmt.Fprintf(cfg.Progress, "sim: %.0f s elapsed; running %s\n", time.Since(start).Seconds(), strings.Join(running, ", "))
					mu.Unlock()
				}
			}
		}()
	}
	timed(0, "a", func() error { r, err := runLatency(cfg); res.Latency = &r; return err })
	timed(1, "b", func() error { r, err := runBalance(cfg); res.Balance = &r; return err })
	timed(2, "c", func() error { r, err := runVersions(cfg); res.Versions = &r; return err })
	timed(3, "d", func() error { r, err := runMovement(cfg); res.Movement = &r; return err })
	timed(4, "e", func() error { r, err := runGeo(cfg); res.Geo = &r; return err })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var md strings.Builder
	res.markdown(&md)
	if cfg.OutDir != "" {
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, err
		}
		data, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cfg.OutDir, "sim.json"), append(data, '\n'), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cfg.OutDir, "sim.md"), []byte(md.String()), 0o644); err != nil {
			return nil, err
		}
	}
	fmt.Fprint(out, md.String())
	return res, nil
}

func pct(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x < 0.01:
		return fmt.Sprintf("%.5f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}

// markdown renders every table with the paper's figures beside ours.
func (r *Result) markdown(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "# Cartwheel simulator results\n\n")
	fmt.Fprintf(w, "Made by `%s` (seed %d; deterministic: the same seed gives the same tables). Host: %s.\n", r.Command, c.Seed, r.Host)
	fmt.Fprintf(w, "Real core packages: core/ring (Claim, PreferenceList), core/quorum (read and write quorums), core/vclock (Update, MergeObjects).\n")
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "\n## (a) Quorum latency with independent replicas (S3-like lognormal)\n\n")
		fmt.Fprintf(w, "GET: p50 %.0f ms, p99 %.0f ms (sigma %.3f); PUT: p50 %.0f ms, p99 %.0f ms (sigma %.3f). %d operations per kind on a ring of %d nodes (Q=%d), N=3 R=2 W=2; %d events. "+
			"Hedged get: 2 GETs, the third after the GET's p95 (%.1f ms).\n\n",
			l.Get.P50Ms, l.Get.P99Ms, l.Get.Sigma, l.Put.P50Ms, l.Put.P99Ms, l.Put.Sigma, l.OpsPerKind, l.Nodes, l.Q, l.Events, l.HedgeDelayMs)
		fmt.Fprintf(w, "| operation | sim p50 | sim p99 | sim p99.9 | theory p50 | theory p99 | theory p99.9 | p50 / one request | p99 / one request | p99.9 / one request | requests/op | theory |\n")
		fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range l.Rows {
			th := func(v float64) string {
				if v == 0 {
					return "-"
				}
				return fmt.Sprintf("%.1f", v)
			}
			fmt.Fprintf(w, "| %s | %.1f | %.1f | %.1f | %s | %s | %s | %.2f (%s) | %.2f | %.2f | %.2f | %s |\n", x.Op, x.SimP50, x.SimP99, x.SimP999,
				th(x.TheoryP50), th(x.TheoryP99), th(x.TheoryP999), x.P50VsOne, x.Base, x.P99VsOne, x.P999VsOne, x.Requests, x.TheoryNotes)
		}
		fmt.Fprintf(w, "\nDesign notes' claim: a (3,2) read's p50 equals one GET's p50 and its p99 equals one GET's p94 (exactly p%.2f).\n", l.GetP99IsGetQuantile)
	}
	if b := r.Balance; b != nil {
		fmt.Fprintf(w, "\n## (b) Section 6.2: load-balance efficiency at equal metadata size\n\n")
		fmt.Fprintf(w, "Efficiency = average node load / hottest node load; %d keys with zipfian popularity, each request counted at its N=%d replicas; "+
			"strategies 1 and 2 averaged over %d random token sets (min in brackets). Strategy 3 is core/ring (one zone, as in the paper). "+
			"Metadata bytes: 18 per token (16-byte position + node index), 2 per partition (node index); Cartwheel's actual membership record (JSON in DynamoDB) in the last column.\n\n",
			b.Keys, b.N, c.BalanceTrials)
		fmt.Fprintf(w, "| nodes S | zipf theta | metadata entries | strategy 1 (T tokens) | strategy 2 (T tokens, Q=65536) | strategy 3 (Q partitions) | bytes S1/S2 | bytes S3 | Cartwheel record |\n")
		fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|\n")
		for i := 0; i+2 < len(b.Rows); i += 3 {
			s1, s2, s3 := b.Rows[i], b.Rows[i+1], b.Rows[i+2]
			rec := "over kv.MaxQ"
			if s3.CartwheelRecordBytes > 0 {
				rec = fmt.Sprintf("%d B", s3.CartwheelRecordBytes)
			}
			fmt.Fprintf(w, "| %d | %.2f | %d / %d | %.3f [%.3f] (%s) | %.3f [%.3f] | %.3f (%s) | %d | %d | %s |\n",
				s1.Nodes, s1.Theta, s1.MetadataEntries, s3.MetadataEntries, s1.Efficiency, s1.EfficiencyMin, s1.Param,
				s2.Efficiency, s2.EfficiencyMin, s3.Efficiency, s3.Param, s1.MetadataBytes, s3.MetadataBytes, rec)
		}
		fmt.Fprintln(w)
		for _, f := range b.Findings {
			fmt.Fprintf(w, "- %s\n", f)
		}
		fmt.Fprintf(w, "\nPaper (Figure 8, S=30, N=3): strategy 3 achieves the best load-balancing efficiency and strategy 2 the worst; "+
			"compared with strategy 1, strategy 3 is more efficient and needs three orders of magnitude less membership metadata per node "+
			"(the figure's values are not given in the text, so only the ordering is compared here).\n")
	}
	if v := r.Versions; v != nil {
		fmt.Fprintf(w, "\n## (c) Section 6.3: versions seen by reads\n\n")
		fmt.Fprintf(w, "Read-modify-write sessions (get R=2, think %.0f ms on average, put W=2 with the get's context) over %d carts on %d nodes (Q=%d), "+
			"sloppy quorum, hinted handoff, read repair; %d sessions per scenario.\n\n", v.ThinkMs, v.Carts, v.Nodes, v.Q, c.Sessions)
		fmt.Fprintf(w, "| scenario | simulated hours | reads | 1 version %% | 2 versions %% | 3 versions %% | 4+ versions %% | max | overlapping sessions %% | node failures | hinted writes | failed reads/writes |\n")
		fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range v.Rows {
			sc := x.Scenario
			name := fmt.Sprintf("%s (%.0f/s, theta %.2f", sc.Name, sc.Rate, sc.Theta)
			if sc.RobotRate > 0 {
				name += fmt.Sprintf(", robots %.0f/s on %d keys", sc.RobotRate, sc.RobotKeys)
			}
			if sc.MTBFHours > 0 {
				name += fmt.Sprintf(", each node down %.0f min every %.0f h", sc.MTTRMinutes, sc.MTBFHours)
			}
			name += ")"
			fmt.Fprintf(w, "| %s | %.1f | %d | %s | %s | %s | %s | %d | %s | %d | %d | %d/%d |\n", name, x.SimHours, x.Reads,
				pct(x.Pct[0]), pct(x.Pct[1]), pct(x.Pct[2]), pct(x.Pct[3]), x.MaxVersions, pct(x.OverlappingPct), x.NodeFailures, x.HintedWrites, x.FailedReads, x.FailedWrites)
		}
		fmt.Fprintf(w, "| **paper** (shopping cart, 24 h) | 24 | - | %.2f | %s | %s | %s | 4 | - | - | - | - |\n", v.Paper[0], pct(v.Paper[1]), pct(v.Paper[2]), pct(v.Paper[3]))
		fmt.Fprintln(w)
		for _, n := range v.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		writeCartRows(w, v)
	}
	if m := r.Movement; m != nil {
		fmt.Fprintf(w, "\n## (d) Data moved when a node joins or leaves\n\n")
		fmt.Fprintf(w, "Share of key replicas (N=%d, %d keys) that must be copied; ideal = the joining node's share 1/(S+1), or the leaving node's 1/S. "+
			"Strategy 1 uses T = Q/S random tokens per node (the same metadata).\n\n", m.N, m.Keys)
		fmt.Fprintf(w, "| event | strategy | parameters | partitions moved (ideal) | replicas moved %% | ideal %% | nodes sending | nodes receiving |\n|---|---|---|---|---|---|---|---|\n")
		for _, x := range m.Rows {
			pm := "-"
			if x.Strategy == 3 {
				pm = fmt.Sprintf("%d (%.1f)", x.PartitionsMoved, x.IdealPartitions)
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %.3f | %.3f | %d | %d |\n", x.Event, x.Strategy, x.Param, pm, x.ReplicasMovedPct, x.IdealPct, x.Senders, x.Receivers)
		}
		fmt.Fprintf(w, "\nPaper (6.2): with strategy 1 a joining node steals key ranges that many nodes must scan for; with strategy 3 partitions move as whole units "+
			"(here: whole S3 prefixes), and only to or from the node that joins or leaves.\n")
	}
	var times []string
	for _, p := range []string{"a", "b", "c", "d", "e"} {
		if sec, ok := r.Seconds[p]; ok {
			times = append(times, fmt.Sprintf("%s (%s) %.1f s", p, partNames[p], sec))
		}
	}
	fmt.Fprintf(w, "\nTime per part (run in parallel): %s.\n", strings.Join(times, ", "))
	if g := r.Geo; g != nil {
		g.markdown(w)
	}
}
