// check --region-cut: the set check's region nemesis over the admin fault
// API. It takes every node of a region (or, when no node's location names
// that region, of a zone) down for part of the run, then brings them back.

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/internal/setcheck"
)

// regionNode is what the region cut reads of a node in /admin/nodes.
type regionNode struct {
	ID       string `json:"id"`
	Zone     string `json:"zone"`
	Location struct {
		Region string `json:"region"`
	} `json:"location"`
}

// regionMembers returns the IDs of the nodes whose location's region is name,
// or, when none is, of those whose zone is name, and which of the two matched.
// No match is a usage error naming the regions and zones that exist.
func regionMembers(nodes []regionNode, name string) (ids []string, by string, err error) {
	var regions, zones []string
	for _, n := range nodes {
		if n.Location.Region == name && name != "" {
			ids = append(ids, n.ID)
		}
		if n.Location.Region != "" {
			regions = append(regions, n.Location.Region)
		}
		zones = append(zones, n.Zone)
	}
	if len(ids) > 0 {
		return ids, "region", nil
	}
	for _, n := range nodes {
		if n.Zone == name && name != "" {
			ids = append(ids, n.ID)
		}
	}
	if len(ids) > 0 {
		return ids, "zone", nil
	}
	slices.Sort(regions)
	slices.Sort(zones)
	have := "no node's location names a region (all in the home region)"
	if regions = slices.Compact(regions); len(regions) > 0 {
		have = "regions: " + strings.Join(regions, ", ")
	}
	return nil, "", fail(exitUsage, "--region-cut %q: no node is in that region or zone (%s; zones: %s)",
		name, have, strings.Join(slices.Compact(zones), ", "))
}

// regionCut builds the region nemesis for --region-cut name: Cut puts every
// member node down through the admin fault API (PUT /admin/faults/{node},
// {"mode":"down"}), Heal clears their faults (DELETE /admin/faults/{node}).
// Faults live in the cluster record, so one coordinator's admin API applies
// them to every coordinator. at and dur place the cut (0: a quarter and a
// half of total, the workload's duration).
func regionCut(g *globalOptions, name string, at, dur, total time.Duration) (*setcheck.RegionCut, error) {
	switch {
	case at < 0 || dur < 0:
		return nil, fail(exitUsage, "--region-cut-at and --region-cut-for must not be negative")
	case dur == 0 && total == 0:
		return nil, fail(exitUsage, "--region-cut with --duration 0 needs --region-cut-for (how long the cut lasts)")
	case total > 0 && at >= total:
		return nil, fail(exitUsage, "--region-cut-at %v is not within --duration %v: the cut would never happen", at, total)
	}
	if at == 0 {
		at = total / 4
	}
	if dur == 0 {
		dur = total / 2
	}
	var nv struct {
		Nodes []regionNode `json:"nodes"`
	}
	if err := adminGet(g, "/admin/nodes", &nv); err != nil {
		return nil, err
	}
	ids, by, err := regionMembers(nv.Nodes, name)
	if err != nil {
		return nil, err
	}
	// Fault injection must be on, or the cut would fail in the middle of the run.
	if _, err := adminJSON(g, http.MethodGet, "/admin/faults", nil); err != nil {
		var ee *exitErr
		if errors.As(err, &ee) && ee.code == exitRejected { // 403 faults_disabled
			return nil, fail(exitUsage, "--region-cut needs fault injection on the server (serve --faults, or the stack's FaultInjection parameter): %v", err)
		}
		return nil, err
	}
	heal := func(nodes []string) error {
		var errs []error
		for _, id := range nodes {
			errs = append(errs, retryAdmin(g, http.MethodDelete, id))
		}
		return errors.Join(errs...)
	}
	return &setcheck.RegionCut{
		Name:  fmt.Sprintf("%s %s (%s)", by, name, strings.Join(ids, ", ")),
		At:    at,
		For:   dur,
		Nodes: ids,
		Cut: func(context.Context) error {
			for i, id := range ids {
				if err := retryAdmin(g, http.MethodPut, id); err != nil {
					// Leave nothing half cut: bring back what went down.
					if herr := heal(ids[:i]); herr != nil {
						return errors.Join(err, fmt.Errorf("undoing the partial cut: %w", herr))
					}
					return err
				}
			}
			return nil
		},
		Heal: func(context.Context) error { return heal(ids) },
	}, nil
}

// retryAdmin puts node down (PUT) or clears its fault (DELETE), trying three
// times: a cut or heal half done because of one lost request would leave the
// cluster faulted.
func retryAdmin(g *globalOptions, method, node string) error {
	var body any
	if method == http.MethodPut {
		body = setcheck.FaultMode{Kind: "down"}
	}
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		if _, err = adminJSON(g, method, "/admin/faults/"+api.PathSegment(node), body); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s /admin/faults/%s: %w", method, node, err)
}

// regionFlags are check's --region-cut and --coordinators flags.
type regionFlags struct {
	name         string
	at, dur      time.Duration
	coordinators []string
	// healErr is the region cut's heal error, if it failed.
	healErr error
}

func (r *regionFlags) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&r.name, "region-cut", "", "take every node of this region (or, if no node's location names it, this zone) down for part of the run, then bring them back")
	f.DurationVar(&r.at, "region-cut-at", 0, "when the region cut starts, after the workload starts (0: a quarter of --duration)")
	f.DurationVar(&r.dur, "region-cut-for", 0, "how long the region cut lasts, at most until the workload ends (0: half of --duration)")
	f.StringSliceVar(&r.coordinators, "coordinators", nil, "more API base URLs (coordinators in other regions) the clients spread over, comma-separated; admin calls use --url")
}

// apply validates the flags and sets cfg's Coordinators and Region.
func (r *regionFlags) apply(g *globalOptions, cfg *setcheck.Config) error {
	for _, c := range r.coordinators {
		if u, err := url.Parse(c); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail(exitUsage, "--coordinators: %q must be an http:// or https:// URL with a host, e.g. %s", c, defaultURL)
		}
		cfg.Coordinators = append(cfg.Coordinators, c)
	}
	if r.name == "" {
		if r.at != 0 || r.dur != 0 {
			return fail(exitUsage, "--region-cut-at and --region-cut-for need --region-cut")
		}
		return nil
	}
	cut, err := regionCut(g, r.name, r.at, r.dur, cfg.Duration)
	if err != nil {
		return err
	}
	heal := cut.Heal
	cut.Heal = func(ctx context.Context) error {
		err := heal(ctx)
		r.healErr = err
		return err
	}
	cfg.Region = cut
	return nil
}
