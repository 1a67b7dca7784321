// Command cartwheel is Cartwheel's command-line tool: a client for the HTTP API
// (get, put, del, and the admin commands) and the local server (serve).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/kv/faults"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		fmt.Fprintln(stderr, "cartwheel:", ee.msg)
		return ee.code
	}
	fmt.Fprintln(stderr, "cartwheel:", err)
	if strings.Contains(err.Error(), "unknown command") || strings.Contains(err.Error(), "flag") ||
		strings.Contains(err.Error(), "arg(s)") {
		return exitUsage
	}
	return exitError
}

func rootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "cartwheel",
		Short: "Cartwheel: an always-writable key-value store (Amazon's Dynamo, serverless on AWS)",
		Long: `cartwheel talks to a Cartwheel HTTP API (--url, or CARTWHEEL_URL; default the local
server) and runs the local server (cartwheel serve).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	def := os.Getenv("CARTWHEEL_URL")
	if def == "" {
		def = defaultURL
	}
	root.PersistentFlags().StringVar(&g.url, "url", def, "the Cartwheel API base URL")
	root.PersistentFlags().BoolVar(&g.noCache, "no-cache", false, "do not read or write the local context cache")
	root.PersistentFlags().DurationVar(&g.timeout, "timeout", 30*time.Second, "request timeout")
	root.PersistentFlags().StringVar(&g.sign, "sign", "auto",
		"sign requests with AWS SigV4 (IAM auth of a deployed stack): auto signs requests to an execute-api host; always; never ($CARTWHEEL_JWT: a bearer token for /kv instead)")
	root.AddCommand(serveCmd(), getCmd(g), putCmd(g), delCmd(g), nodesCmd(g), ringCmd(g), nodeCmd(g), repairCmd(g), faultCmd(g), statsCmd(g),
		checkCmd(g), benchCmd(g), simCmd(g), dashboardCmd(g), planCmd(g), transfersCmd(g), reapCmd(g),
		preflistCmd(g), hintsCmd(g), keysCmd(g))
	root.AddCommand(crdtCmd(g))
	root.Version = versionString()
	root.SetVersionTemplate("{{.Version}}\n")
	// cobra's own completion command only groups the shells: like our
	// groups, an unknown shell (completion tcsh) is a usage error, not its
	// help and exit 0.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			groupCmd(c)
		}
	}
	return root
}

func nodeCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Add or remove a storage node"}
	var zone, location, region, endpoint string
	var weight int
	add := &cobra.Command{
		Use: "add ID", Short: "Add node ID (it takes its share of partitions)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			loc, err := parseLocation(args[0], location, region, endpoint)
			if err != nil {
				return fail(exitUsage, "%v", err)
			}
			body := map[string]any{"id": args[0], "zone": zone, "weight": weight}
			if loc != nil {
				body["location"] = loc
			}
			return clusterChange(c, g, http.MethodPost, "/admin/nodes", body, "node "+args[0]+" added")
		},
	}
	add.Flags().StringVar(&zone, "zone", "", "the node's zone (required; an AZ id, or a region for a node in another region)")
	add.Flags().IntVar(&weight, "weight", 1, "relative capacity")
	add.Flags().StringVar(&location, "location", "", "s3://bucket/prefix holding the node (default: the first node's bucket, nodes/ID/)")
	add.Flags().StringVar(&region, "region", "", "the bucket's AWS region, signed for (default: the stack's region)")
	add.Flags().StringVar(&endpoint, "endpoint", "", "the bucket's S3 endpoint URL (local endpoints, tests)")
	_ = add.MarkFlagRequired("zone")
	remove := &cobra.Command{
		Use: "remove ID", Short: "Remove node ID (its partitions move to the others)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var before planView
			pendingBefore := adminGet(g, "/admin/plan", &before) == nil && before.Pending
			if err := clusterChange(c, g, http.MethodDelete, "/admin/nodes/"+api.PathSegment(args[0]), nil, "node "+args[0]+" leaving"); err != nil {
				return err
			}
			var after planView
			if pendingBefore && adminGet(g, "/admin/plan", &after) == nil && !after.Pending {
				fmt.Fprintf(c.OutOrStdout(), "This cancelled the pending ring change (%s was only in that plan); `cartwheel plan clear` cancels a change directly.\n", args[0])
			}
			return nil
		},
	}
	state := &cobra.Command{
		Use: "state ID active|down", Short: "Record node ID as active or down (no partitions move; fallbacks stand in for a down node)",
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			if args[1] != "active" && args[1] != "down" {
				return fail(exitUsage, "state must be active or down, not %q (node remove plans a departure)", args[1])
			}
			return clusterChange(c, g, http.MethodPut, "/admin/nodes/"+api.PathSegment(args[0])+"/state", map[string]string{"state": args[1]},
				"node "+args[0]+" "+args[1])
		},
	}
	cmd.AddCommand(add, remove, state, forgetCmd(g))
	return groupCmd(cmd)
}

// groupCmd makes a command that only groups subcommands answer an unknown
// subcommand with a usage error (exit 2) instead of its help and exit 0.
func groupCmd(cmd *cobra.Command) *cobra.Command {
	if cmd.RunE == nil {
		cmd.Args = cobra.NoArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			return fail(exitUsage, "%s needs a subcommand: %s", c.CommandPath(), strings.Join(subNames(c), ", "))
		}
	} else if cmd.Args == nil {
		cmd.Args = cobra.NoArgs
	}
	return cmd
}

func subNames(c *cobra.Command) []string {
	var out []string
	for _, s := range c.Commands() {
		out = append(out, s.Name())
	}
	return out
}

// parseFault parses down | slow=200ms | errors=0.3 | clear.
func parseFault(s string) (faults.Mode, bool, error) {
	name, arg, _ := strings.Cut(s, "=")
	switch name {
	case "clear":
		return faults.Mode{}, true, nil
	case "down":
		return faults.Mode{Kind: "down"}, false, nil
	case "slow":
		d, err := time.ParseDuration(arg)
		if err != nil || d < time.Millisecond {
			return faults.Mode{}, false, fmt.Errorf("slow needs a duration of at least 1ms, e.g. slow=200ms")
		}
		return faults.Mode{Kind: "slow", LatencyMs: int(d.Milliseconds())}, false, nil
	case "errors":
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return faults.Mode{}, false, fmt.Errorf("errors needs a rate in [0, 1], e.g. errors=0.3")
		}
		return faults.Mode{Kind: "errors", Rate: r}, false, nil
	}
	return faults.Mode{}, false, fmt.Errorf("unknown fault %q: use down, slow=DURATION, errors=RATE or clear", s)
}

func faultCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fault [NODE down|slow=200ms|errors=0.3|clear]",
		Short: "Inject a fault into a node at run time, or list the faults",
		Args:  func(_ *cobra.Command, args []string) error { return cobra.RangeArgs(0, 2)(nil, args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				return adminShow(cmd, g, http.MethodGet, "/admin/faults", nil, asJSON, writeFaults)
			case 1:
				return fail(exitUsage, "give a fault: down, slow=200ms, errors=0.3 or clear")
			}
			m, clear, err := parseFault(args[1])
			if err != nil {
				return fail(exitUsage, "%v", err)
			}
			path := "/admin/faults/" + api.PathSegment(args[0])
			if asJSON {
				if clear {
					return adminCall(cmd, g, http.MethodDelete, path, nil)
				}
				return adminCall(cmd, g, http.MethodPut, path, m)
			}
			if clear {
				if _, err := adminJSON(g, http.MethodDelete, path, nil); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: fault cleared\n", args[0])
				return nil
			}
			if _, err := adminJSON(g, http.MethodPut, path, m); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", args[0], faultText(m.Kind, m.LatencyMs, m.Rate))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON answer")
	return cmd
}
