package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

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
	var commitJSON bool
	commit := &cobra.Command{
		Use:   "commit",
		Short: "Transfer what remains of the pending ring change and commit it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminShow(cmd, g, http.MethodPost, "/admin/commit", nil, commitJSON, writeRepair)
		},
	}
	commit.Flags().BoolVar(&commitJSON, "json", false, "print the JSON report")
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
