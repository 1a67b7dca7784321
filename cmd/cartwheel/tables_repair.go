// The repair table: cartwheel repair, reap and plan commit.

package main

import (
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/repair"
)

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
