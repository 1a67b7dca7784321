package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/bench/sim"
)

// simCmd runs the simulator (bench/sim): the Dynamo paper's tables on a
// large simulated ring, with the real core packages.
func simCmd(_ *globalOptions) *cobra.Command {
	c := sim.DefaultConfig()
	var parts, label string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate a large ring with the real core packages and compare with the Dynamo paper (make sim)",
		Long: `sim runs a deterministic, seeded discrete-event simulation of a ring of hundreds of
nodes and a million keys, using core/ring, core/quorum and core/vclock:

  a  quorum get/put latency relative to one request, replica latencies drawn
     independently from a lognormal fitted to S3 (--get-p50 ... --put-p99),
     beside the order-statistics theory
  b  section 6.2: load-balance efficiency and membership metadata size of
     partitioning strategies 1, 2 and 3 under zipfian key popularity
  c  section 6.3: share of reads seeing 1, 2, 3, 4 versions under concurrent
     writers and node failures; then carts with contents, merged by union
     (by hand) against typed carts (core/crdt): deleted items brought back
  d  data moved when a node joins or leaves

It prints the tables beside the paper's numbers and writes sim.json and sim.md
into --out (default: a new temporary directory; it says which). make sim writes
them to bench/results. The same --seed gives the same tables.

Typical duration with the defaults: about 2 minutes on 2 cores (the parts run in
parallel; part c, the longest with its typed and union cart rows, takes about
2.5 CPU-minutes). Progress goes to standard
error when it is a terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.Parts = splitList(strings.ToLower(parts))
			c.Command = label
			if c.Command == "" {
				c.Command = "cartwheel " + strings.Join(os.Args[1:], " ")
			}
			if err := c.Validate(); err != nil {
				return fail(exitUsage, "%v", err)
			}
			switch c.OutDir {
			case "-":
				c.OutDir = ""
			case "":
				dir, err := os.MkdirTemp("", "cartwheel-sim-")
				if err != nil {
					return fail(exitError, "making a results directory: %v", err)
				}
				c.OutDir = dir
			}
			if isTerminalWriter(cmd.ErrOrStderr()) {
				c.Progress = cmd.ErrOrStderr()
			}
			if _, err := sim.Run(c, cmd.OutOrStdout()); err != nil {
				return err
			}
			if c.OutDir != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "sim: wrote sim.json and sim.md to %s\n", c.OutDir)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&c.Seed, "seed", c.Seed, "random seed (same seed, same tables)")
	f.StringVar(&parts, "parts", strings.Join(c.Parts, ","), "parts to run: a (latency), b (load balance), c (versions), d (data moved), e (geography)")
	f.IntVar(&c.Nodes, "nodes", c.Nodes, "nodes of the ring in parts a, c and d")
	f.IntVar(&c.Q, "q", c.Q, "partitions of the ring in parts a and c (a power of two)")
	f.Float64Var(&c.GetP50Ms, "get-p50", c.GetP50Ms, "GET latency median, ms (lognormal)")
	f.Float64Var(&c.GetP99Ms, "get-p99", c.GetP99Ms, "GET latency 99th percentile, ms")
	f.Float64Var(&c.PutP50Ms, "put-p50", c.PutP50Ms, "PUT latency median, ms")
	f.Float64Var(&c.PutP99Ms, "put-p99", c.PutP99Ms, "PUT latency 99th percentile, ms")
	f.IntVar(&c.LatencyOps, "latency-ops", c.LatencyOps, "part a: operations per kind")
	f.IntVar(&c.BalanceKeys, "keys", c.BalanceKeys, "part b: keys")
	f.IntVar(&c.BalanceTrials, "trials", c.BalanceTrials, "part b: random token sets per strategy 1/2 point")
	f.IntVar(&c.Carts, "carts", c.Carts, "part c: keys (shopping carts)")
	f.IntVar(&c.Sessions, "sessions", c.Sessions, "part c: read-modify-write sessions per scenario")
	f.Float64Var(&c.ThinkMs, "think", c.ThinkMs, "part c: mean time between a session's get and its put, ms")
	f.IntVar(&c.MoveKeys, "move-keys", c.MoveKeys, "part d: keys")
	f.StringVar(&c.OutDir, "out", "", "directory for sim.json and sim.md (default: a new temporary directory; -: print only)")
	f.StringVar(&label, "command-label", "", "how the results say they were made (default: this command line)")
	_ = f.MarkHidden("command-label")
	return cmd
}
