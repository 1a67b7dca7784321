package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
)

// version and commit may be set at build time (-ldflags "-X main.version=v1.2.3
// -X main.commit=abc123", as make run does for the commit); without them the
// build info's module version and VCS revision are used.
var version, commit = "", ""

// versionString is what --version prints: the version, the commit (with
// "+dirty" for a modified tree) and the Go version, from the build info.
func versionString() string {
	v, rev, dirty := version, commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	var built time.Time
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			built = fi.ModTime()
		}
	}
	return formatVersion(v, rev, dirty, built)
}

// formatVersion renders --version. Without a commit (VCS stamping off:
// -buildvcs=false, or a build outside the git tree, and no -X main.commit)
// it says so and gives the binary's build time instead, so two builds can
// still be told apart.
func formatVersion(v, rev string, dirty bool, built time.Time) string {
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		rev = "unknown: built without VCS stamping"
		if !built.IsZero() {
			rev += ", at " + built.UTC().Format("2006-01-02 15:04:05Z")
		}
	}
	if dirty {
		rev += "+dirty"
	}
	return fmt.Sprintf("cartwheel %s (commit %s, %s, %s/%s)", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// clusterChange sends a membership change (node add, remove, state; plan
// clear) and says in words what it did (the answer is an epoch and a count).
func clusterChange(cmd *cobra.Command, g *globalOptions, method, path string, body any, what string) error {
	b, err := adminJSON(g, method, path, body)
	if err != nil {
		return err
	}
	var r struct {
		Epoch uint64 `json:"epoch"`
		Moved int    `json:"moved"` // partitions whose owner changes
		Moves int    `json:"moves"` // partitions whose replicas change, as plan counts them
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fail(exitError, "bad answer from %s: %v", path, err)
	}
	out := cmd.OutOrStdout()
	if r.Moves == 0 {
		fmt.Fprintf(out, "%s (membership epoch %d); no partition moves.\n", what, r.Epoch)
		return nil
	}
	fmt.Fprintf(out, "%s (membership epoch %d); planned: %d partitions move (their replicas change; %d of them change owner).\n", what, r.Epoch, r.Moves, r.Moved)
	fmt.Fprintln(out, "The repair job transfers them and then commits: watch with `cartwheel transfers`; `cartwheel plan clear` cancels.")
	return nil
}

// preflistView is GET /admin/preflist/{key}.
type preflistView struct {
	Key       string  `json:"key"`
	Partition int     `json:"partition"`
	Q         int     `json:"q"`
	N         int     `json:"n"`
	Epoch     uint64  `json:"epoch"`
	Position  float64 `json:"position"`
	Replicas  []struct {
		Node        string `json:"node"`
		Zone        string `json:"zone"`
		Primary     bool   `json:"primary"`
		StandsInFor string `json:"standsInFor"`
	} `json:"replicas"`
}

func preflistCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "preflist KEY",
		Short: "Show the nodes that hold KEY: its partition and preference list (like riak-admin getendpoints)",
		Long: `preflist shows the replicas a request for KEY contacts now, as the server sees the
cluster: the N primaries, and for each down or suspected primary the fallback
that stands in for it (and holds a hinted replica).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return adminShow(cmd, g, http.MethodGet, "/admin/preflist/"+api.PathSegment(args[0]), nil, asJSON, func(out io.Writer, p preflistView) error {
				fmt.Fprintf(out, "Key %q: partition %d of %d (ring position %.4f), N=%d, epoch %d.\n", p.Key, p.Partition, p.Q, p.Position, p.N, p.Epoch)
				tw := newTable(out)
				fmt.Fprintln(tw, "#\tNODE\tZONE\tROLE")
				for i, r := range p.Replicas {
					role := "primary"
					if !r.Primary {
						role = "fallback for " + orDefault(r.StandsInFor, "?")
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i+1, r.Node, r.Zone, role)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON document")
	return cmd
}

func hintsCmd(g *globalOptions) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "hints",
		Short: "Show the hint queue and the hinted replicas each node holds for down nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminShow(cmd, g, http.MethodGet, "/admin/hints", nil, asJSON, func(out io.Writer, h hintsView) error {
				switch {
				case h.Queue != nil:
					fmt.Fprintf(out, "Hint queue: %d waiting, %d being delivered, %d in the dead-letter queue.\n", h.Queue.Visible, h.Queue.InFlight, h.Queue.Dead)
				case h.QueueError != "":
					fmt.Fprintf(out, "Hint queue: unavailable (%s).\n", h.QueueError)
				}
				tw := newTable(out)
				fmt.Fprintln(tw, "NODE\tHINTED REPLICAS HELD\tFOR")
				for _, n := range h.Nodes {
					var per []string
					for id, c := range n.For {
						per = append(per, fmt.Sprintf("%s: %d", id, c))
					}
					sort.Strings(per)
					forText := strings.Join(per, ", ")
					if n.Error != "" {
						forText = "could not list: " + n.Error
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Node, heldText(n), orDefault(forText, "-"))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(out, "Counted up to %d per node (\"+\": more).\n", h.Limit)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON document")
	return cmd
}
