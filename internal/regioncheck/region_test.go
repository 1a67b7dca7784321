package regioncheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/internal/setcheck"
)

// duration is the workload length: short in make test, longer with
// CARTWHEEL_REGION_CHECK_DURATION (e.g. 60s, make bench).
func duration(t *testing.T) time.Duration {
	if v := os.Getenv("CARTWHEEL_REGION_CHECK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CARTWHEEL_REGION_CHECK_DURATION=%q: %v", v, err)
		}
		return d
	}
	return 6 * time.Second
}

// runRegionCheck runs the set check with the region nemesis: clients on
// the coordinators of all three regions keep writing while eu-west-1 is cut
// off (from a quarter to three quarters of the run), then it heals, repair
// runs and every set is read with R=N.
func runRegionCheck(t *testing.T, lww bool) *setcheck.Report {
	rep, _ := runCheck(t, checkOpts{lww: lww})
	return rep
}

// checkOpts vary the region check: lww runs the cluster last-write-wins;
// quorum is the clients' r and w; partition isolates the region (its
// coordinator reaches only its own storage, the others all but its) instead
// of cutting its storage endpoint off from everyone.
type checkOpts struct {
	lww       bool
	quorum    string
	partition bool
}

func runCheck(t *testing.T, o checkOpts) (*setcheck.Report, *Cluster) {
	lww := o.lww
	backend := Kumo
	if os.Getenv("CARTWHEEL_REGION_CHECK_BACKEND") == "moto" {
		backend = Moto
	}
	c := Start(t, backend, 64, lww)
	d := duration(t)
	cut := 1
	cfg := setcheck.Config{
		URL: c.URLs[0], Coordinators: c.URLs[1:], Clients: 6, Keys: 3, Duration: d,
		LWW: lww, Settle: time.Minute, Seed: 17, Quorum: o.quorum,
		Region: &setcheck.RegionCut{
			Name: Regions[cut], At: d / 4, For: d / 2,
			Cut:  func(context.Context) error { c.Proxies[cut].Cut(); return nil },
			Heal: func(context.Context) error { c.Proxies[cut].Heal(); return nil },
		},
	}
	if o.partition {
		cfg.Region.Name += " (partitioned)"
		cfg.Region.Cut = func(context.Context) error { c.Isolate(cut); return nil }
		cfg.Region.Heal = func(context.Context) error { c.Rejoin(); return nil }
	}
	if os.Getenv("CARTWHEEL_REGION_CHECK_NOCUT") != "" {
		cfg.Region = nil // the same run without the cut: separates region effects from multi-coordinator ones
	}
	rep, err := setcheck.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteTable(&b)
	t.Logf("\n%s", b.String())
	if cfg.Region != nil && (rep.Region == nil || rep.Region.CutAt < 0 || rep.Region.HealedAt < 0 || rep.Region.Error != "") {
		t.Fatalf("the region nemesis did not cut and heal: %+v", rep.Region)
	}
	if rep.Acknowledged == 0 {
		t.Fatal("nothing acknowledged: the check proves nothing")
	}
	return rep, c
}

// TestRegionCutLosesNoAcknowledgedWrite: Cartwheel (siblings) loses no
// acknowledged write when a region is cut off while every region writes.
func TestRegionCutLosesNoAcknowledgedWrite(t *testing.T) {
	rep := runRegionCheck(t, false)
	if rep.Lost != 0 || rep.Unexpected != 0 {
		t.Fatalf("siblings: %d of %d acknowledged elements lost, %d unexpected", rep.Lost, rep.Acknowledged, rep.Unexpected)
	}
	t.Logf("siblings: acknowledged %d, lost %d", rep.Acknowledged, rep.Lost)
}

// TestRegionCutLWWLoss measures the same run in last-write-wins mode (how
// DynamoDB global tables and S3 replication resolve conflicts): concurrent
// writes from the three regions overwrite each other.
func TestRegionCutLWWLoss(t *testing.T) {
	rep := runRegionCheck(t, true)
	t.Logf("lww: acknowledged %d, lost %d (%.1f%%)", rep.Acknowledged, rep.Lost, 100*float64(rep.Lost)/float64(rep.Acknowledged))
	if rep.Lost == 0 {
		t.Errorf("LWW lost nothing with %d acknowledged concurrent writes: the workload is not concurrent enough to show the difference", rep.Acknowledged)
	}
}

// TestRegionPartitionStaysWritable isolates eu-west-1 (its coordinator
// reaches only its own region's storage; the others reach all but it) while
// clients in every region write, with the cluster's quorum and with the local
// quorum. Nothing acknowledged is lost, and the isolated region's
// coordinator keeps acknowledging writes during the partition: with the
// cluster's quorum through the sloppy quorum (its region's other node stands
// in for the unreachable replicas), with the local quorum without needing
// another region at all.
func TestRegionPartitionStaysWritable(t *testing.T) {
	for _, quorum := range []string{"", "local"} {
		t.Run("quorum="+quorum, func(t *testing.T) {
			rep, c := runCheck(t, checkOpts{quorum: quorum, partition: true})
			for i, l := range c.Links {
				if l.Refused() == 0 {
					t.Fatalf("the partition refused no connection of the coordinator in %s: it was not cut", Regions[i])
				}
			}
			if rep.Lost != 0 || rep.Unexpected != 0 {
				t.Fatalf("%d of %d acknowledged elements lost, %d unexpected", rep.Lost, rep.Acknowledged, rep.Unexpected)
			}
			during := rep.Region.DuringCut
			if len(during) != len(Regions) {
				t.Fatalf("during the cut: %+v, want one count per coordinator", during)
			}
			for i, d := range during {
				if d.Acknowledged == 0 {
					t.Errorf("the coordinator in %s acknowledged nothing during the partition (%d failed)", Regions[i], d.Failed)
				}
			}
			var per []string
			for i, d := range during {
				per = append(per, fmt.Sprintf("%s %d acknowledged, %d failed", Regions[i], d.Acknowledged, d.Failed))
			}
			t.Logf("quorum %q: acknowledged %d, lost %d; during the partition: %s", quorum, rep.Acknowledged, rep.Lost, strings.Join(per, "; "))
		})
	}
}
