package main

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/bench/perf"
)

// benchCmd runs the benchmark (bench/perf): Cartwheel's operations beside the
// raw S3 request patterns they are made of, on local endpoints it starts.
func benchCmd(_ *globalOptions) *cobra.Command {
	c := perf.DefaultConfig()
	var endpoints, workloads, zones, label string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Cartwheel against the raw S3 request patterns it is made of (make bench)",
		Long: `bench runs YCSB-style workloads A, B and F (zipfian keys, 1 KB values) through
Cartwheel's coordinator in-process, interleaved with the raw S3 patterns they are
made of (one GET or PUT; 3 GETs waiting for 2; a conditional PUT then 2 PUTs waiting
for 1 or 2), against each endpoint set-up of --endpoints, which it starts and stops
itself: kumo (in-process), moto (one moto_server), moto-per-node (one moto_server per
storage node), lognormal (the in-memory store, each replica request delayed by a
seeded draw from the simulator's S3-like lognormal latencies, at least 20,000
operations of each kind by many concurrent clients, then a slow-replica phase), or
the URL of a running endpoint. It prints p50/p99/p99.9, the ratios
of Cartwheel to the raw patterns, backend requests and request fees per operation,
a one-node-down comparison, and writes bench.json, bench.md and latency-CDF plots
(SVG) into --out.

Absolute latencies on a shared machine with local endpoints are noisy; the ratios,
measured side by side in one run, are what matter.

Typical duration with the defaults: 8 to 10 minutes (about 1.5 minutes per emulator
set-up: calibration, three 15 s workloads, and the healthy and one-node-down
phases; 4 to 5 minutes for lognormal's 340,000 operations). Progress lines go to standard error when it is a terminal (--quiet
silences them there too).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.Endpoints = splitList(endpoints)
			c.Workloads = splitList(strings.ToUpper(workloads))
			c.Zones = splitList(zones)
			c.Command = label
			if c.Command == "" {
				c.Command = "cartwheel " + strings.Join(os.Args[1:], " ")
			}
			if !quiet && isTerminalWriter(cmd.ErrOrStderr()) {
				c.Log = cmd.ErrOrStderr()
			}
			if err := c.Validate(); err != nil {
				return fail(exitUsage, "%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err := perf.Run(ctx, c, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoints, "endpoints", strings.Join(c.Endpoints, ","), "endpoint set-ups to run, in order: kumo, moto, moto-per-node, lognormal (the in-memory store with S3-like lognormal latencies), or an http(s) URL")
	f.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "workers, each with one operation in flight")
	f.StringVar(&workloads, "workloads", strings.Join(c.Workloads, ","), "YCSB workloads to run: A (50/50 get/update), B (95/5), F (read-modify-write)")
	f.DurationVar(&c.PhaseDuration, "duration", c.PhaseDuration, "measured time of each workload")
	f.DurationVar(&c.CalibrateDuration, "calibrate", c.CalibrateDuration, "closed-loop run that finds the capacity (when --rate is 0)")
	f.DurationVar(&c.DegradedDuration, "degraded", c.DegradedDuration, "time of each of the healthy and one-node-down phases (0: skip)")
	f.Float64Var(&c.Rate, "rate", c.Rate, "total target rate, operations per second (0: --rate-fraction of the calibrated capacity)")
	f.Float64Var(&c.RateFraction, "rate-fraction", c.RateFraction, "share of the calibrated capacity to run at")
	f.IntVar(&c.Records, "records", c.Records, "keys loaded and drawn from")
	f.IntVar(&c.ValueSize, "value-size", c.ValueSize, "bytes per value")
	f.Float64Var(&c.Theta, "theta", c.Theta, "zipfian constant of key popularity (YCSB: 0.99; 0: uniform)")
	f.Float64Var(&c.ProbeShare, "probe-share", c.ProbeShare, "share of slots running the raw patterns and other operation kinds in turn")
	f.IntVar(&c.Nodes, "nodes", c.Nodes, "storage nodes (>= 4: one down leaves a fallback)")
	f.StringVar(&zones, "zones", strings.Join(c.Zones, ","), "zones, spread over the nodes")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "seed of key choices and operation mixes")
	f.StringVar(&c.OutDir, "out", c.OutDir, "directory for bench.json, bench.md and the plots")
	f.StringVar(&c.LambdaJSON, "lambda-json", c.LambdaJSON, "Lambda measurements written by the contract test (CARTWHEEL_BENCH_OUT); missing: n/a")
	f.StringVar(&c.MotoServer, "moto-server", c.MotoServer, "the moto_server program")
	f.IntVar(&c.Lognormal.SamplesPerKind, "lognormal-samples", c.Lognormal.SamplesPerKind, "lognormal endpoint: operations of each kind per phase")
	f.IntVar(&c.Lognormal.Concurrency, "lognormal-concurrency", c.Lognormal.Concurrency, "lognormal endpoint: concurrent clients")
	f.Float64Var(&c.Lognormal.TimeScale, "lognormal-scale", c.Lognormal.TimeScale, "lognormal endpoint: multiply every drawn latency (the machine's scheduling delays stay small beside them; ratios do not change)")
	f.BoolVar(&c.Lognormal.TwoPhasePut, "two-phase-put", false, "lognormal endpoint: turn the one-round put off (commit at one replica, then replicate), for an A/B run")
	f.Float64Var(&c.Lognormal.HedgeQuantile, "hedge-quantile", c.Lognormal.HedgeQuantile, "lognormal endpoint: the coordinator's hedge delay for reads and writes, as a quantile of a typical replica's observed latency (0: no hedging, every get asks all N and no write is hedged)")
	f.BoolVar(&c.Lognormal.Slow, "slow-replica", c.Lognormal.Slow, "lognormal endpoint: also run the slow-replica phase (n1 10x slower, rare stalls)")
	f.BoolVar(&quiet, "quiet", false, "no progress lines on stderr (there are none unless it is a terminal)")
	f.StringVar(&label, "command-label", "", "how the results say they were made (default: this command line)")
	_ = f.MarkHidden("command-label")
	return cmd
}
