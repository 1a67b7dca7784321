// The ring and stats tables: cartwheel ring and cartwheel stats.

package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

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
