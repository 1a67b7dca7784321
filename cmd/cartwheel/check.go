package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/internal/setcheck"
)

func checkCmd(g *globalOptions) *cobra.Command {
	var (
		cfg     setcheck.Config
		asJSON  bool
		out     string
		nemesis bool
		region  regionFlags
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run a Jepsen-style set check with fault injection; fail if an acknowledged write is lost",
		Long: `check proves, against a running cluster (--url), that no acknowledged write is lost.
Concurrent clients add distinct integers to a few sets by read-modify-write (get
every sibling with the context, union them, add, put with the context); an
element is acknowledged only when its put answered 204. Meanwhile a nemesis uses
the admin fault API to take random nodes down and up, slow them and make them
fail a fraction of requests (at most N-W down at once, sometimes one more to
force the sloppy quorum). With --ring-changes a second nemesis adds a node,
commits, removes it and commits again, over and over (the server's repair must
settle plans quickly: serve --plan-settle). Then it clears the faults, runs repair, and reads every
set with r=N. It reports acknowledged, lost and unexpected elements, request
errors by code (503s are expected under faults), faults injected, the largest
sibling count and ops/s.

With --region-cut NAME a region nemesis takes every node whose location is in
region NAME (or, when no node's is, every node of zone NAME: an AZ outage) down
through the same fault API from a quarter to three quarters of --duration
(--region-cut-at, --region-cut-for), then brings them back, also on Ctrl-C or an
error. The random nemesis runs beside it: it leaves the cut nodes alone, counts
them as down, and takes no more nodes down than its limit (N-W, sometimes one
more) with them; with --nemesis=false the cut is the only fault. --coordinators spreads
the clients over more API URLs (coordinators in other regions); admin calls and
the final read use --url. Against make run (zones a, b, c):
  cartwheel check --region-cut b --duration 20s

With --lww the cluster must run last-write-wins (serve --lww): losses are then
expected, and the check reports how many acknowledged writes LWW loses.

The check writes to fresh keys (--prefix) and leaves no fault behind (nor, with
--ring-changes, its node: the ring ends as it started). It takes --duration plus
the settling (usually a few seconds; at most --settle). Progress (operations,
faults, elapsed of total) goes to standard error when it is a terminal.
Exit codes: 0 passed (or --lww finished), 7 acknowledged elements were lost or
unexpected ones appeared, 2 bad usage or cluster mode mismatch, 1 other errors
(server unreachable, nothing acknowledged).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := checkURL(g.url); err != nil {
				return err
			}
			cfg.URL = g.url
			cfg.Timeout = g.timeout
			// Sign like every other command (--sign, $CARTWHEEL_JWT), so the
			// check runs against a deployed stack's IAM or JWT routes.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = cfg.Clients + 4
			timeout := cfg.Timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			cfg.HTTP = &http.Client{Timeout: timeout, Transport: signingTransport{base: tr, mode: g.sign}}
			cfg.Nemesis = nemesis
			if err := region.apply(g, &cfg); err != nil {
				return err
			}
			if isTerminalWriter(cmd.ErrOrStderr()) {
				cfg.Progress = cmd.ErrOrStderr()
				cfg.ProgressEvery = 2 * time.Second
			}
			// Ctrl-C ends the run early; the check then clears its faults.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := setcheck.Run(ctx, cfg)
			if errors.Is(err, setcheck.ErrConfig) || errors.Is(err, setcheck.ErrMode) {
				return fail(exitUsage, "%v", err)
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				return connError("GET", g.url+"/admin/ring", err)
			}
			if err != nil {
				if region.healErr != nil {
					return fail(exitError, "%v; and healing the region cut failed, so nodes may still be down (list: cartwheel fault; clear: cartwheel fault NODE clear): %v", err, region.healErr)
				}
				return fail(exitError, "%v", err)
			}
			js, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return fail(exitError, "encoding the report: %v", err)
			}
			js = append(js, '\n')
			if out != "" {
				if err := os.WriteFile(out, js, 0o644); err != nil {
					return fail(exitError, "writing the report: %v", err)
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				_, err = w.Write(js)
			} else {
				err = rep.WriteTable(w)
			}
			if err != nil {
				return err
			}
			switch {
			case rep.Unexpected > 0 || rep.Resurrected > 0 || (rep.Mode != "lww" && rep.Lost > 0):
				return fail(exitLost, "%s", rep.Verdict())
			case rep.Region != nil && rep.Region.Error != "":
				return fail(exitError, "the region nemesis failed: %s (list faults left: cartwheel fault)", rep.Region.Error)
			case rep.Acknowledged == 0:
				return fail(exitError, "%s: the check proves nothing", rep.Verdict())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Clients, "clients", 4, "concurrent clients")
	f.IntVar(&cfg.Keys, "keys", 3, "number of sets (keys) the clients add to")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long the workload runs (0: until --ops)")
	f.IntVar(&cfg.Ops, "ops", 0, "stop after this many read-modify-writes (0: until --duration)")
	f.BoolVar(&nemesis, "nemesis", true, "inject faults through the admin API while the clients run")
	f.DurationVar(&cfg.NemesisInterval, "nemesis-interval", time.Second, "time between nemesis actions")
	f.BoolVar(&cfg.RingChanges, "ring-changes", false, "also change the ring while the clients write: add a node, commit, remove it, commit, ...")
	f.IntVar(&cfg.MaxDown, "max-down", 0, "nodes the nemesis may take down at once (0: N-W); sometimes one more, to force the sloppy quorum")
	f.DurationVar(&cfg.MaxLatency, "max-latency", 200*time.Millisecond, "largest latency of a slow fault")
	f.StringVar(&cfg.Quorum, "quorum", "", "r and w of the clients' reads and writes: 1..N, one, quorum, all or local (default: the cluster's R and W; the final read is r=N)")
	f.BoolVar(&cfg.CRDT, "crdt", false, "run the set workload over typed sets (/crdt), with removes: count lost adds and resurrected removes")
	f.BoolVar(&cfg.LWW, "lww", false, "the cluster runs last-write-wins: measure its losses instead of failing on them")
	f.DurationVar(&cfg.Settle, "settle", time.Minute, "how long repair may take to bring every acknowledged element back")
	f.StringVar(&cfg.Prefix, "prefix", "", "key prefix of the sets (default: check/<unix nanos>, fresh keys)")
	f.Uint64Var(&cfg.Seed, "seed", 0, "seed of the clients' and the nemesis's choices (0: from the clock)")
	region.flags(cmd)
	f.BoolVar(&asJSON, "json", false, "print the report as JSON instead of a table")
	f.StringVar(&out, "out", "", "also write the JSON report to this file")
	return cmd
}
