package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/repair"
)

// The admin commands print tables by default, like riak-admin member-status
// and nodetool status, and the raw JSON document with --json.

// adminGet fetches path and decodes its JSON answer into out.
func adminGet(g *globalOptions, path string, out any) error {
	b, err := adminJSON(g, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fail(exitError, "bad answer from %s: %v", path, err)
	}
	return nil
}

// adminShow sends an admin request and prints its answer: the JSON document
// with asJSON, else render's table of it.
func adminShow[T any](cmd *cobra.Command, g *globalOptions, method, path string, body any, asJSON bool, render func(io.Writer, T) error) error {
	if asJSON {
		return adminCall(cmd, g, method, path, body)
	}
	b, err := adminJSON(g, method, path, body)
	if err != nil {
		return err
	}
	var v T
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return fail(exitError, "bad answer from %s: %v", path, err)
		}
	}
	return render(cmd.OutOrStdout(), v)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// epochText shows the ring epoch (ring changes) apart from the membership
// epoch, which also counts faults, node states and key rotations.
func epochText(ring, membership uint64) string {
	return fmt.Sprintf("ring epoch %d (ring changes), membership epoch %d (every change, faults included)", ring, membership)
}

func pct(part, whole int) string {
	if whole == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

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

// ---- ring ------------------------------------------------------------------------

// ringView is GET /admin/ring.
type ringView struct {
	Epoch     uint64   `json:"epoch"`
	RingEpoch uint64   `json:"ringEpoch"`
	Q         int      `json:"q"`
	N         int      `json:"n"`
	R         int      `json:"r"`
	W         int      `json:"w"`
	LWW       bool     `json:"lww"`
	Owners    []string `json:"owners"`
}

func ringCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ring",
		Short: "Summarize the ring: N, R, W, Q and each node's ownership (--json: the owner of every partition)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminShow(cmd, g, http.MethodGet, "/admin/ring", nil, asJSON, func(out io.Writer, r ringView) error {
				mode := "siblings kept (dotted version vectors)"
				if r.LWW {
					mode = "last-write-wins (concurrent writes are lost)"
				}
				fmt.Fprintf(out, "Q=%d partitions, N=%d R=%d W=%d, %s; %s.\n", r.Q, r.N, r.R, r.W, mode, epochText(r.RingEpoch, r.Epoch))
				owned := map[string]int{}
				for _, o := range r.Owners {
					owned[o]++
				}
				var plan planView
				pending := adminGet(g, "/admin/plan", &plan) == nil && plan.Pending
				after := map[string]int{}
				for _, n := range plan.Nodes {
					after[n.ID] = n.Planned
				}
				ids := make([]string, 0, len(owned))
				for id := range owned {
					ids = append(ids, id)
				}
				for _, n := range plan.Nodes {
					if _, ok := owned[n.ID]; !ok {
						ids = append(ids, n.ID)
					}
				}
				sort.Strings(ids)
				tw := newTable(out)
				head := "NODE\tPARTITIONS\tOWNERSHIP"
				if pending {
					head += "\tAFTER THE PENDING CHANGE"
				}
				fmt.Fprintln(tw, head)
				for _, id := range ids {
					line := fmt.Sprintf("%s\t%d\t%s", id, owned[id], pct(owned[id], len(r.Owners)))
					if pending {
						line += fmt.Sprintf("\t%d (%s)", after[id], pct(after[id], len(r.Owners)))
					}
					fmt.Fprintln(tw, line)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON document (every partition's owner)")
	return cmd
}

// ---- stats -----------------------------------------------------------------------

// statsView is the part of GET /admin/stats the table shows.
type statsView struct {
	Coordinator     coordinator.Snapshot `json:"coordinator"`
	FaultsInjected  *int64               `json:"faultsInjected"`
	BackendRequests map[string]int64     `json:"backendRequests"`
	Hints           *struct {
		Visible  int `json:"visible"`
		InFlight int `json:"inFlight"`
		Dead     int `json:"dead"`
	} `json:"hints"`
	Recent *struct {
		WindowMs     float64 `json:"windowMs"`
		GetsPerSec   float64 `json:"getsPerSec"`
		PutsPerSec   float64 `json:"putsPerSec"`
		QuorumPerSec float64 `json:"quorumFailuresPerSec"`
		GetP50Ms     float64 `json:"getP50Ms"`
		GetP99Ms     float64 `json:"getP99Ms"`
		PutP50Ms     float64 `json:"putP50Ms"`
		PutP99Ms     float64 `json:"putP99Ms"`
	} `json:"recent"`
	Suspects []string `json:"suspects"`
}

func ms(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", v)
}

func statsCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the headline counters and latency percentiles (--json: every counter and the 5-minute series)",
		Long: `stats prints the server's request counters, latency percentiles since it started
and over the last minute, replica requests, hints and repairs, like riak-admin
status. "–" means no request of that kind was measured. In AWS these describe
the Lambda container that answered; CloudWatch aggregates all of them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminShow(cmd, g, http.MethodGet, "/admin/stats", nil, asJSON, func(out io.Writer, s statsView) error {
				c := s.Coordinator
				tw := newTable(out)
				fmt.Fprintf(tw, "requests\tgets %d, puts %d, deletes %d, quorum failures %d\n", c.Gets, c.Puts, c.Deletes, c.QuorumFailures)
				fmt.Fprintf(tw, "latency since start\tget p50 %s, get p99 %s, put p50 %s, put p99 %s\n", ms(c.GetP50Ms), ms(c.GetP99Ms), ms(c.PutP50Ms), ms(c.PutP99Ms))
				if r := s.Recent; r != nil {
					fmt.Fprintf(tw, "last minute\tgets %.1f/s, puts %.1f/s, quorum failures %.1f/s\n", r.GetsPerSec, r.PutsPerSec, r.QuorumPerSec)
					fmt.Fprintf(tw, "latency last minute\tget p50 %s, get p99 %s, put p50 %s, put p99 %s\n", ms(r.GetP50Ms), ms(r.GetP99Ms), ms(r.PutP50Ms), ms(r.PutP99Ms))
				}
				fmt.Fprintf(tw, "replica requests\tGET %d, PUT %d, LIST %d, conditional-write retries %d\n", c.BackendGets, c.BackendPuts, c.BackendLists, c.CASRetries)
				fmt.Fprintf(tw, "versions\tmax siblings %d, sibling-cap rejects %d, read repairs %d, corrupt replicas %d\n", c.MaxSiblings, c.SiblingRejects, c.ReadRepairs, c.CorruptReplicas)
				hints := fmt.Sprintf("hints\tqueued %d, delivered %d, already delivered %d (one delivery carries every write hinted for a replica)", c.HintsQueued, c.HintsDelivered, c.HintsObsolete)
				if h := s.Hints; h != nil {
					hints += fmt.Sprintf(", in queue %d (%d in flight), dead-letter %d", h.Visible, h.InFlight, h.Dead)
				}
				fmt.Fprintln(tw, hints)
				fmt.Fprintf(tw, "anti-entropy\truns %d, keys compared %d, keys repaired %d\n", c.Repairs, c.RepairCompared, c.RepairRepaired)
				if s.FaultsInjected != nil {
					fmt.Fprintf(tw, "fault injection\treplica requests failed %d\n", *s.FaultsInjected)
				}
				if len(s.Suspects) > 0 {
					fmt.Fprintf(tw, "suspected nodes\t%s\n", strings.Join(s.Suspects, ", "))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON document")
	return cmd
}

// ---- repair, reap and plan commit ------------------------------------------------

// repairView is repair.Report, or the {"hints": ...} of a server without a
// repair job.
type repairView struct {
	repair.Report
	Hints *coordinator.DrainResult `json:"hints,omitempty"`
}

func writeRepair(out io.Writer, r repairView) error {
	tw := newTable(out)
	status := "done"
	if r.Stopped != "" {
		status = "stopped early (" + r.Stopped + "); the next run resumes"
	}
	fmt.Fprintf(tw, "run\t%s, epoch %d\n", status, r.Epoch)
	t := r.Transfers
	switch {
	case !t.Pending && !t.Committed:
		fmt.Fprintf(tw, "ring change\tnone pending\n")
	case t.Committed:
		fmt.Fprintf(tw, "ring change\tall %d moving partitions transferred and committed\n", t.Moves)
	case t.Settling:
		fmt.Fprintf(tw, "ring change\t%d partitions move; settling before transfers start\n", t.Moves)
	default:
		fmt.Fprintf(tw, "ring change\t%d of %d moving partitions transferred %s\n", t.Done, t.Moves, t.Blocked)
	}
	ae := r.AntiEntropy
	fmt.Fprintf(tw, "anti-entropy\t%d partitions compared, %d keys, %d differing, %d repaired (%d replica writes)\n",
		ae.Partitions, ae.Keys, ae.Differing, ae.Repaired, ae.Writes)
	if ae.ReapCandidates > 0 || ae.Reaped > 0 {
		fmt.Fprintf(tw, "tombstones\t%d deleted keys found, %d reaped\n", ae.ReapCandidates, ae.Reaped)
	}
	q := r.Handoff.Queue
	if r.Hints != nil {
		q = *r.Hints
	}
	fmt.Fprintf(tw, "hints\tqueue: %d delivered, %d failed, %d poison; hinted replicas found %d, delivered %d, not ready %d, failed %d\n",
		q.Delivered, q.Failed, q.Poison, r.Handoff.Found, r.Handoff.Delivered, r.Handoff.NotReady, r.Handoff.Failed)
	fmt.Fprintf(tw, "requests\t%d LIST, %d GET, %d PUT, %d DELETE\n", r.Requests.List, r.Requests.Get, r.Requests.Put, r.Requests.Delete)
	fmt.Fprintf(tw, "errors\t%d\n", r.Errors)
	const samples = 3
	for i, e := range r.ErrorSamples {
		if i == samples {
			fmt.Fprintf(tw, "\t... and %d more (--json lists the samples)\n", r.Errors-samples)
			break
		}
		fmt.Fprintf(tw, "\t%s\n", e)
	}
	return tw.Flush()
}

func repairCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use: "repair", Short: "Run pending transfers, anti-entropy and hint delivery now; answers when done", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminShow(cmd, g, http.MethodPost, "/admin/repair", nil, asJSON, writeRepair)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON report")
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
