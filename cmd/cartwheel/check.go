package main

import "github.com/spf13/cobra"

// checkCmd is a placeholder until its issue lands.
func checkCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "check",
		Short:  "not implemented yet",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return fail(exitUsage, "check is not implemented yet") },
	}
}
