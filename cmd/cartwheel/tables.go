package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"
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
