package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/repair"
)

// Ring changes, like riak-admin's "cluster plan", "cluster commit" and
// "transfers": "node add" and "node remove" only plan a change; the repair
// job copies the moving partitions to their new owners and then commits it.

// planView is GET /admin/plan and GET /admin/transfers.
type planView struct {
	Epoch     uint64            `json:"epoch"`
	Pending   bool              `json:"pending"`
	Settling  bool              `json:"settling"`
	Moves     int               `json:"moves"`
	Done      int               `json:"done"`
	Nodes     []repair.NodePlan `json:"nodes"`
	Transfers []repair.Move     `json:"transfers"`
	Cleanups  []cleanupEntry    `json:"cleanups"`
}

// getPlan fetches path and, unless raw, decodes it.
func getPlan(cmd *cobra.Command, g *globalOptions, path string, raw bool) (planView, bool, error) {
	if raw {
		return planView{}, false, adminCall(cmd, g, http.MethodGet, path, nil)
	}
	resp, body, err := g.client().do(http.MethodGet, path, nil, nil, nil)
	if err != nil {
		return planView{}, false, err
	}
	if resp.StatusCode >= 300 {
		return planView{}, false, apiError(resp, body)
	}
	var p planView
	if err := json.Unmarshal(body, &p); err != nil {
		return planView{}, false, fail(exitError, "bad answer from %s: %v", path, err)
	}
	return p, true, nil
}

func planStatus(w io.Writer, p planView) {
	switch {
	case !p.Pending:
		fmt.Fprintf(w, "No ring change pending (membership epoch %d).\n", p.Epoch)
	case p.Settling:
		fmt.Fprintf(w, "Ring change pending (membership epoch %d): %d partitions move; settling before transfers start.\n", p.Epoch, p.Moves)
	case p.Done == p.Moves:
		fmt.Fprintf(w, "Ring change pending (membership epoch %d): all %d moving partitions transferred; the next repair commits it.\n", p.Epoch, p.Moves)
	default:
		fmt.Fprintf(w, "Ring change pending (membership epoch %d): %d of %d moving partitions transferred.\n", p.Epoch, p.Done, p.Moves)
	}
}

func planCmd(g *globalOptions) *cobra.Command {
	var raw bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the pending ring change: each node's partitions now and after (like riak's cluster plan)",
		Long: `plan shows the ring change that adding, removing or activating nodes planned: the
partitions each node owns and is a replica of, now and once the change is
committed, and how many partition replicas it gains and loses. The repair job
copies every moving partition to its new replicas, then commits the change;
"cartwheel transfers" shows that progress, "cartwheel plan commit" commits now.
It also lists the pending clean-ups of past commits (see "cartwheel node forget").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, ok, err := getPlan(cmd, g, "/admin/plan", raw)
			if err != nil || !ok {
				return err
			}
			out := cmd.OutOrStdout()
			planStatus(out, p)
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "node\tstate\towned\tafter\treplicas\tafter\tgains\tlosses\t")
			for _, n := range p.Nodes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", n.ID, n.State, n.Owned, n.Planned, n.Replicas, n.PlannedReplicas, n.Gains, n.Losses)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return writeCleanups(out, p.Cleanups, time.Now())
		},
	}
	cmd.Flags().BoolVar(&raw, "json", false, "print the JSON answer")
	var commitJSON, noWait bool
	commit := &cobra.Command{
		Use:   "commit",
		Short: "Transfer what remains of the pending ring change and commit it",
		Long: `commit transfers what remains of the pending ring change and commits it. A new
plan first settles (serve --plan-settle, 90 s by default, so that every
coordinator routes by it before anything moves): commit waits for that, and
asks again while transfers remain and progress, saying so on standard error
(exit 6 when a call transferred nothing more, e.g. with an owner down).
--no-wait asks once (exit 6 while the plan settles or transfers remain).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := commitWaiting(cmd, g, !noWait)
			if err != nil {
				return err
			}
			if commitJSON {
				var pretty bytes.Buffer
				if json.Indent(&pretty, body, "", "  ") != nil {
					pretty.Reset()
					pretty.Write(body)
				}
				pretty.WriteByte('\n')
				_, err := cmd.OutOrStdout().Write(pretty.Bytes())
				return err
			}
			var r repairView
			if err := json.Unmarshal(body, &r); err != nil {
				return fail(exitError, "bad answer from /admin/commit: %v", err)
			}
			return writeRepair(cmd.OutOrStdout(), r)
		},
	}
	commit.Flags().BoolVar(&commitJSON, "json", false, "print the JSON report")
	commit.Flags().BoolVar(&noWait, "no-wait", false, "ask once: do not wait out the settle period or remaining transfers")
	clear := &cobra.Command{
		Use:   "clear",
		Short: "Cancel the pending ring change (like riak-admin cluster clear)",
		Long: `clear cancels the pending ring change: ownership stays as it is, leaving nodes
become active again, and nodes the plan added leave (add one again to plan it
anew). Copies the plan put on nodes that do not own them are merged into the
owners and deleted by the repair job, as after a commit. Nothing is lost: the
current owners stayed every key's primaries while the plan was pending.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := adminJSON(g, http.MethodDelete, "/admin/plan", nil)
			if err != nil {
				return err
			}
			var r struct {
				Epoch uint64 `json:"epoch"`
				Moved int    `json:"moved"`
			}
			_ = json.Unmarshal(b, &r)
			fmt.Fprintf(cmd.OutOrStdout(), "Ring change cancelled (membership epoch %d): %d partitions stay with their current owners.\n", r.Epoch, r.Moved)
			return nil
		},
	}
	cmd.AddCommand(commit, clear)
	return cmd
}

func transfersCmd(g *globalOptions) *cobra.Command {
	var raw, all bool
	cmd := &cobra.Command{
		Use:   "transfers",
		Short: "Show the transfer progress of the pending ring change (like riak-admin transfers)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, ok, err := getPlan(cmd, g, "/admin/transfers", raw)
			if err != nil || !ok {
				return err
			}
			out := cmd.OutOrStdout()
			planStatus(out, p)
			if len(p.Transfers) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "partition\tfrom\tto\tstatus")
			for _, m := range p.Transfers {
				if m.Done && !all {
					continue
				}
				status := "waiting"
				if m.Done {
					status = "done"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", m.Partition, orNone(m.From), orNone(m.To), status)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&raw, "json", false, "print the JSON answer")
	cmd.Flags().BoolVar(&all, "all", false, "list the transferred partitions too")
	return cmd
}

func reapCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reap",
		Short: "Remove deleted keys' tombstones where safe (reads every key once)",
		Long: `reap compares every partition's replicas and removes the tombstones of deleted
keys that every replica holds, whose delete is older than the grace period and
that no node holds a hinted replica of. The scheduled repair does this for
every key once a day; this does it now.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminShow(cmd, g, http.MethodPost, "/admin/reap", nil, asJSON, writeRepair)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON report")
	return cmd
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	return strings.Join(ids, ",")
}

// commitWaiting sends POST /admin/commit and returns its answer. With wait,
// while it answers 409 transfers_pending (the plan settling, or transfers
// left that the last call made progress on), it says why on standard error,
// sleeps what Retry-After says and asks again.
func commitWaiting(cmd *cobra.Command, g *globalOptions, wait bool) ([]byte, error) {
	lastDone := -1
	for {
		resp, body, err := g.client().do(http.MethodPost, "/admin/commit", nil, nil, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 300 {
			return body, nil
		}
		var e struct {
			Error     string `json:"error"`
			Message   string `json:"message"`
			Transfers struct {
				Settling bool `json:"settling"`
				Done     int  `json:"done"`
			} `json:"transfers"`
		}
		_ = json.Unmarshal(body, &e)
		if !wait || resp.StatusCode != http.StatusConflict || e.Error != api.CodeTransfersPending {
			return nil, apiError(resp, body)
		}
		if !e.Transfers.Settling { // transferring: wait only while that progresses (a node down blocks it)
			if e.Transfers.Done <= lastDone {
				return nil, apiError(resp, body)
			}
			lastDone = e.Transfers.Done
		}
		pause := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			pause = time.Duration(s) * time.Second
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: waiting %v\n", e.Message, pause)
		select {
		case <-cmd.Context().Done():
			return nil, cmd.Context().Err()
		case <-time.After(pause):
		}
	}
}
