package main

import "github.com/spf13/cobra"

// simCmd is a placeholder until its issue lands.
func simCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "sim",
		Short:  "not implemented yet",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return fail(exitUsage, "sim is not implemented yet") },
	}
}
