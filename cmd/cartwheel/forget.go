package main

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/kv"
)

// Pending clean-ups: `cartwheel plan` lists them, `cartwheel node forget`
// drops a departed node's when its storage is gone for good.

// cleanupEntry is one pending clean-up of GET /admin/plan ("cleanups").
type cleanupEntry struct {
	Node       string      `json:"node"`
	Departed   bool        `json:"departed"`
	Partitions []int       `json:"partitions"`
	Committed  string      `json:"committed"`
	Location   kv.Location `json:"location"`
}

// writeCleanups prints the pending clean-ups after the plan's table, if any.
func writeCleanups(w io.Writer, cls []cleanupEntry, now time.Time) error {
	if len(cls) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nPending clean-ups: copies on nodes that lost partitions at a commit, merged into the owners,")
	fmt.Fprintln(w, "then deleted by the repair job; no deleted key of these partitions is reaped until then.")
	tw := newTable(w)
	fmt.Fprintln(tw, "NODE\tSTATUS\tPARTITIONS\tCOMMITTED\tLOCATION")
	departed := false
	for _, c := range cls {
		status := "member"
		if c.Departed {
			status, departed = "departed", true
		}
		when := c.Committed
		if t, err := time.Parse(time.RFC3339, c.Committed); err == nil {
			when = fmt.Sprintf("%s (%s ago)", c.Committed, now.Sub(t).Round(time.Second))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.Node, status, len(c.Partitions), when, locationText(c.Location))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if departed {
		fmt.Fprintln(w, "A departed node's clean-up waits until its storage can be listed. If that storage is gone for")
		fmt.Fprintln(w, "good: cartwheel node forget ID --yes (copies only it held are lost).")
	}
	return nil
}

// locationText is s3://bucket/prefix, with the region or endpoint if set.
func locationText(l kv.Location) string {
	s := "s3://" + l.Bucket + "/" + l.Prefix
	if l.Region != "" {
		s += " (" + l.Region + ")"
	}
	if l.Endpoint != "" {
		s += " at " + l.Endpoint
	}
	return s
}

func forgetCmd(g *globalOptions) *cobra.Command {
	var yes, asJSON bool
	cmd := &cobra.Command{
		Use:   "forget ID --yes",
		Short: "Drop the pending clean-up of departed node ID whose storage is gone for good (loses copies only it held)",
		Long: `forget drops the pending clean-ups of node ID, which left the cluster (it was
removed and the removal committed: "cartwheel plan" lists it as departed).

After a commit, the repair job merges a departed node's copies into the current
owners and then deletes them; until it has, no deleted key of those partitions
is reaped. It must list the node's storage to do that. If that storage is gone
for good (bucket deleted, region lost), the clean-up never finishes and those
tombstones stay forever. forget tells the cluster the storage is gone.

It needs --yes because it cannot be undone: writes whose only copies were on
that storage (acknowledged while the other replicas failed, or hinted replicas
it held for down nodes) are lost. A node that is still a member is refused
(exit 6): remove it and commit first. No departed clean-up of ID: exit 3.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				return fail(exitUsage, "node forget gives up on merging %s's copies into the current owners: copies only its storage held are lost. Run it with --yes if that storage is gone for good", args[0])
			}
			path := "/admin/cleanups/" + api.PathSegment(args[0])
			return adminShow(cmd, g, http.MethodDelete, path, nil, asJSON, func(out io.Writer, r struct {
				Node       string `json:"node"`
				Partitions int    `json:"partitions"`
			}) error {
				fmt.Fprintf(out, "Forgot the clean-up of departed node %s: %d partitions. Copies only its storage held are lost;\n", r.Node, r.Partitions)
				fmt.Fprintln(out, "deleted keys of those partitions can be reaped again.")
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: the node's storage is gone for good, and copies only it held are lost")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON answer")
	return cmd
}
