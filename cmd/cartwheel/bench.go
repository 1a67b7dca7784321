package main

import "github.com/spf13/cobra"

// benchCmd is a placeholder until its issue lands.
func benchCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:    "bench",
		Short:  "not implemented yet",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return fail(exitUsage, "bench is not implemented yet") },
	}
}
