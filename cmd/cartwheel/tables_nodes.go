// The node tables: cartwheel nodes and cartwheel fault.

package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// ---- nodes -----------------------------------------------------------------------

// nodesView is GET /admin/nodes.
type nodesView struct {
	Epoch     uint64 `json:"epoch"`
	RingEpoch uint64 `json:"ringEpoch"`
	Nodes     []struct {
		ID          string `json:"id"`
		Zone        string `json:"zone"`
		Weight      int    `json:"weight"`
		State       string `json:"state"`
		Suspect     bool   `json:"suspect"`
		Incarnation uint64 `json:"incarnation"`
		Partitions  int    `json:"partitions"`
		Replicas    *int   `json:"replicas,omitempty"`
		Fault       *struct {
			Mode      string  `json:"mode"`
			LatencyMs int     `json:"latencyMs"`
			Rate      float64 `json:"rate"`
		} `json:"fault,omitempty"`
	} `json:"nodes"`
}

// hintsView is GET /admin/hints.
type hintsView struct {
	Nodes []coordinator.HeldHints `json:"nodes"`
	Limit int                     `json:"limit"`
	Queue *struct {
		Visible  int `json:"visible"`
		InFlight int `json:"inFlight"`
		Dead     int `json:"dead"`
	} `json:"queue,omitempty"`
	QueueError string `json:"queueError,omitempty"`
}

func faultText(mode string, latencyMs int, rate float64) string {
	switch mode {
	case "slow":
		return fmt.Sprintf("slow %d ms", latencyMs)
	case "errors":
		return fmt.Sprintf("errors %.0f%%", 100*rate)
	case "":
		return "-"
	}
	return mode
}

func heldText(h coordinator.HeldHints) string {
	switch {
	case h.Error != "":
		return "?"
	case h.More:
		return fmt.Sprintf("%d+", h.Held)
	}
	return fmt.Sprint(h.Held)
}

func nodesCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List the storage nodes: zone, state, ownership, replicas, hints held, faults",
		Long: `nodes prints one line per storage node, like riak-admin member-status:
  ownership  the share of the ring's partitions the node owns (partitions)
  replicas   partitions it holds one of the N replicas of
  hints      hinted replicas it holds for down nodes ("?": it could not be listed)
  fault      the fault injected into it, if any
  errors     failed of all replica requests to it, as the server process saw them
  p99        latency of its last 512 replica requests
--json prints GET /admin/nodes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return adminCall(cmd, g, http.MethodGet, "/admin/nodes", nil)
			}
			var nv nodesView
			if err := adminGet(g, "/admin/nodes", &nv); err != nil {
				return err
			}
			// Replicas per node: from the nodes' own field when the server
			// sends it, else from the plan (the same ring walk); hints held
			// from /admin/hints. Either may be unavailable: "–".
			replicas := map[string]int{}
			var plan planView
			planErr := adminGet(g, "/admin/plan", &plan)
			if planErr == nil {
				for _, n := range plan.Nodes {
					replicas[n.ID] = n.Replicas
				}
			}
			var per struct {
				Nodes map[string]struct {
					Requests int64   `json:"requests"`
					Errors   int64   `json:"errors"`
					P99Ms    float64 `json:"p99Ms"`
				} `json:"nodes"`
			}
			_ = adminGet(g, "/admin/stats", &per) // per-node counts, if the server keeps them
			held := map[string]string{}
			var hv hintsView
			if adminGet(g, "/admin/hints", &hv) == nil {
				for _, h := range hv.Nodes {
					held[h.Node] = heldText(h)
				}
			}
			q := 0
			for _, n := range nv.Nodes {
				q += n.Partitions
			}
			out := cmd.OutOrStdout()
			tw := newTable(out)
			fmt.Fprintln(tw, "NODE\tZONE\tSTATE\tOWNERSHIP\tPARTITIONS\tREPLICAS\tHINTS\tFAULT\tERRORS\tP99\tINCARNATION")
			for _, n := range nv.Nodes {
				state := n.State
				if n.Suspect {
					state += " (suspect)"
				}
				rep := "–"
				if n.Replicas != nil {
					rep = fmt.Sprint(*n.Replicas)
				} else if r, ok := replicas[n.ID]; ok {
					rep = fmt.Sprint(r)
				}
				fault := "-"
				if n.Fault != nil {
					fault = faultText(n.Fault.Mode, n.Fault.LatencyMs, n.Fault.Rate)
				}
				errs, p99 := "–", "–"
				if st, ok := per.Nodes[n.ID]; ok {
					errs = fmt.Sprintf("%d/%d", st.Errors, st.Requests)
					if st.Requests > 0 {
						p99 = ms(st.P99Ms)
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\n", n.ID, n.Zone, state, pct(n.Partitions, q), n.Partitions,
					rep, orDefault(held[n.ID], "–"), fault, errs, p99, n.Incarnation)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d nodes, %d partitions; %s.", len(nv.Nodes), q, epochText(nv.RingEpoch, nv.Epoch))
			if planErr == nil && plan.Pending {
				fmt.Fprintf(out, " A ring change is pending (%d of %d partitions transferred): see cartwheel plan.", plan.Done, plan.Moves)
			}
			fmt.Fprintln(out)
			if len(held) == 0 || len(replicas) == 0 {
				fmt.Fprintln(out, "–: not available from this server.")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON document")
	return cmd
}

// ---- fault -----------------------------------------------------------------------

// faultsView is GET /admin/faults.
type faultsView struct {
	Faults map[string]struct {
		Mode      string  `json:"mode"`
		LatencyMs int     `json:"latencyMs"`
		Rate      float64 `json:"rate"`
	} `json:"faults"`
}

func writeFaults(out io.Writer, f faultsView) error {
	if len(f.Faults) == 0 {
		fmt.Fprintln(out, "No faults injected.")
		return nil
	}
	ids := make([]string, 0, len(f.Faults))
	for id := range f.Faults {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	tw := newTable(out)
	fmt.Fprintln(tw, "NODE\tFAULT")
	for _, id := range ids {
		m := f.Faults[id]
		fmt.Fprintf(tw, "%s\t%s\n", id, faultText(m.Mode, m.LatencyMs, m.Rate))
	}
	return tw.Flush()
}
