package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
)

// keysCmd is `cartwheel keys`: every live key, all pages, one a line.
func keysCmd(g *globalOptions) *cobra.Command {
	var (
		prefix string
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "keys [--prefix P] [--limit N] [--json]",
		Short: "List every live key (with a prefix), in byte order",
		Long: `keys prints every live key (deleted keys are left out), one a line, in byte
order, fetching page after page of GET /keys until the last one. --prefix keeps the
keys that start with P; --limit sets the keys per request (1..10000; the server's
default is 1000). A key present for the whole listing is printed exactly once.
--json prints one JSON document {"keys": [...], "next": ""} instead, which is
unambiguous for keys that hold a newline.
A listing reads every node's storage (see "Listing keys" in the README).
Exit codes: 0 ok, 5 quorum unavailable, 6 rejected (a bad --limit), 1 other.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("limit") && (limit < 1 || limit > api.MaxKeysLimit) {
				return fail(exitUsage, "--limit %d must be in [1, %d]", limit, api.MaxKeysLimit)
			}
			c := g.client()
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			all := []string{}
			after := ""
			for {
				if err := c.ready(); err != nil {
					return err
				}
				p, err := c.api.ListKeys(context.Background(), prefix, limit, after)
				if err != nil {
					return cliError(err)
				}
				if asJSON {
					all = append(all, p.Keys...)
				} else {
					for _, k := range p.Keys {
						fmt.Fprintln(out, k)
					}
				}
				if p.Next == "" {
					break
				}
				after = p.Next
			}
			if asJSON {
				b, _ := json.Marshal(api.KeysPage{Keys: all})
				fmt.Fprintln(out, string(b))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "", "only keys that start with this")
	cmd.Flags().IntVar(&limit, "limit", 0, "keys per request, 1..10000 (default: the server's, 1000)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"keys": [...]} instead of one key a line`)
	return cmd
}
