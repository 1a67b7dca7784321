package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"

	"github.com/cartwheel/cartwheel/core/ring"
)

// Part (e), issue 17: simulated geography. Storage nodes in three regions
// of three AZs each (two nodes per AZ); coordinators in every region (each
// request's coordinator in a random AZ of its region). A replica request
// costs the network round trip between the coordinator's and the replica's
// location plus the service time of S3 (the lognormals of part (a), or S3
// Express for the single-AZ shape). Preference lists come from the real ring
// (core/ring Claim and PreferenceList, zone-aware).

// GeoLatency is one round trip class with its source.
type GeoLatency struct {
	Between string  `json:"between"`
	RTTMs   float64 `json:"rttMs"`
	Source  string  `json:"source"`
}

// GeoRow is one policy seen from one coordinator region.
type GeoRow struct {
	Policy   string  `json:"policy"`
	Region   string  `json:"coordinatorRegion"`
	GetP50   float64 `json:"getP50Ms"`
	GetP99   float64 `json:"getP99Ms"`
	PutP50   float64 `json:"putP50Ms"`
	PutP99   float64 `json:"putP99Ms"`
	StaleP50 float64 `json:"remoteReplicasBehindP50Ms,omitempty"`
	StaleP99 float64 `json:"remoteReplicasBehindP99Ms,omitempty"`
}

// GeoResult is part (e)'s output.
type GeoResult struct {
	Matrix   []GeoLatency `json:"latencyMatrix"`
	Nodes    int          `json:"nodes"`
	Ops      int          `json:"opsPerRegionAndPolicy"`
	Rows     []GeoRow     `json:"rows"`
	Findings []string     `json:"findings"`
}

// geoRegions and the published round trips between them (p50, milliseconds).
var geoRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

const (
	rttSameAZ  = 0.25 // best of 50 pings inside one AZ
	rttCrossAZ = 1.0  // typical; 0.25-3.4 ms measured across AZ pairs
	azSource   = "xkyle.com, Measuring AWS Region and AZ Latency (best of 50 pings per AZ pair: 0.25 ms to 3.37 ms)"
	rgnSource  = "cloudping.co inter-region grid, approximate p50 (varies by day; not re-measured here)"
)

var geoRTT = map[[2]string]float64{
	{"us-east-1", "eu-west-1"}:      68,
	{"us-east-1", "ap-southeast-2"}: 198,
	{"eu-west-1", "ap-southeast-2"}: 255,
}

func regionRTT(a, b string) float64 {
	if a == b {
		return 0
	}
	if v, ok := geoRTT[[2]string{a, b}]; ok {
		return v
	}
	return geoRTT[[2]string{b, a}]
}

// geoNode is a node's place.
type geoNode struct{ region, az string }

// geoPolicy is one deployment and quorum policy.
type geoPolicy struct {
	name       string
	regions    []string // regions holding nodes
	zoneIsAZ   bool     // zone = AZ (else zone = region)
	n, r, w    int
	local      bool // R and W counted among the coordinator region's replicas only
	get, put   lognormal
	coordinate []string // coordinator regions
}

func runGeo(cfg Config) (GeoResult, error) {
	res := GeoResult{Ops: max(cfg.LatencyOps/10, 1000)}
	res.Matrix = []GeoLatency{
		{"same AZ", rttSameAZ, azSource},
		{"AZs of one region", rttCrossAZ, azSource},
	}
	for k, v := range geoRTT {
		res.Matrix = append(res.Matrix, GeoLatency{k[0] + " <-> " + k[1], v, rgnSource})
	}
	slices.SortFunc(res.Matrix, func(a, b GeoLatency) int { return int(a.RTTMs*100) - int(b.RTTMs*100) })
	std := func(p50, p99 float64) lognormal { return fitLognormal(p50, p99) }
	// S3 Express One Zone: "single-digit millisecond" requests (AWS);
	// assumed p50 4/6 ms, p99 15/20 ms for GET/PUT.
	expGet, expPut := std(4, 15), std(6, 20)
	sGet, sPut := std(cfg.GetP50Ms, cfg.GetP99Ms), std(cfg.PutP50Ms, cfg.PutP99Ms)
	policies := []geoPolicy{
		{name: "standard, one region (zones are labels)", regions: geoRegions[:1], zoneIsAZ: true, n: 3, r: 2, w: 2, get: sGet, put: sPut, coordinate: geoRegions[:1]},
		{name: "express per AZ, one region", regions: geoRegions[:1], zoneIsAZ: true, n: 3, r: 2, w: 2, get: expGet, put: expPut, coordinate: geoRegions[:1]},
		{name: "multi-region N=3 (one per region), quorum R=W=2", regions: geoRegions, n: 3, r: 2, w: 2, get: sGet, put: sPut, coordinate: geoRegions},
		{name: "multi-region N=6 (two per region), local quorum R=W=2", regions: geoRegions, n: 6, r: 2, w: 2, local: true, get: sGet, put: sPut, coordinate: geoRegions},
		{name: "multi-region N=6 (two per region), global quorum R=W=4", regions: geoRegions, n: 6, r: 4, w: 4, get: sGet, put: sPut, coordinate: geoRegions},
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x67656f))
	for _, p := range policies {
		rows, nodes, err := simGeoPolicy(p, res.Ops, rng)
		if err != nil {
			return res, err
		}
		res.Nodes = max(res.Nodes, nodes)
		res.Rows = append(res.Rows, rows...)
	}
	res.Findings = geoFindings(res.Rows)
	return res, nil
}

func simGeoPolicy(p geoPolicy, ops int, rng *rand.Rand) ([]GeoRow, int, error) {
	var nodes []ring.Node
	place := map[string]geoNode{}
	for _, rg := range p.regions {
		for a := 1; a <= 3; a++ {
			for k := 1; k <= 2; k++ {
				id := fmt.Sprintf("%s-az%d-%d", rg, a, k)
				zone := rg
				if p.zoneIsAZ {
					zone = fmt.Sprintf("%s-az%d", rg, a)
				}
				nodes = append(nodes, ring.Node{ID: id, Zone: zone, Weight: 1})
				place[id] = geoNode{region: rg, az: fmt.Sprintf("%s-az%d", rg, a)}
			}
		}
	}
	q := 1024
	owners, err := ring.ClaimN(q, p.n, nodes, nil)
	if err != nil {
		return nil, 0, err
	}
	r, err := ring.New(q, nodes, owners)
	if err != nil {
		return nil, 0, err
	}
	var rows []GeoRow
	for _, cr := range p.coordinate {
		var gets, puts, stale []float64
		for range ops {
			coordAZ := fmt.Sprintf("%s-az%d", cr, 1+rng.IntN(3))
			prefs := r.PrimariesOfPartition(rng.IntN(q), p.n)
			rtt := func(id string) float64 {
				g := place[id]
				switch {
				case g.az == coordAZ:
					return rttSameAZ
				case g.region == cr:
					return rttCrossAZ
				}
				return regionRTT(cr, g.region)
			}
			var cand []string
			for _, id := range prefs {
				if !p.local || place[id].region == cr {
					cand = append(cand, id)
				}
			}
			// get: the R-th fastest of the candidates (all asked at once).
			gl := make([]float64, len(cand))
			for i, id := range cand {
				gl[i] = rtt(id) + p.get.sample(rng)
			}
			slices.Sort(gl)
			gets = append(gets, gl[min(p.r, len(gl))-1])
			// put: the nearest candidate coordinates (its conditional PUT
			// first), then the others in parallel; acknowledged at W.
			slices.SortFunc(cand, func(a, b string) int { return int((rtt(a) - rtt(b)) * 1000) })
			first := rtt(cand[0]) + p.put.sample(rng)
			var rest []float64
			var remote float64
			for _, id := range prefs {
				if id == cand[0] {
					continue
				}
				t := rtt(id) + p.put.sample(rng)
				if slices.Contains(cand, id) {
					rest = append(rest, t)
				} else {
					remote = max(remote, t)
				}
			}
			slices.Sort(rest)
			put := first
			if p.w > 1 {
				put += rest[min(p.w-1, len(rest))-1]
			}
			puts = append(puts, put)
			if p.local {
				stale = append(stale, first+remote-put)
			}
		}
		slices.Sort(gets)
		slices.Sort(puts)
		row := GeoRow{Policy: p.name, Region: cr,
			GetP50: quantile(gets, 0.5), GetP99: quantile(gets, 0.99), PutP50: quantile(puts, 0.5), PutP99: quantile(puts, 0.99)}
		if len(stale) > 0 {
			slices.Sort(stale)
			row.StaleP50, row.StaleP99 = quantile(stale, 0.5), quantile(stale, 0.99)
		}
		rows = append(rows, row)
	}
	return rows, len(nodes), nil
}

func geoFindings(rows []GeoRow) []string {
	find := func(policy, region string) GeoRow {
		for _, r := range rows {
			if r.Policy == policy && r.Region == region {
				return r
			}
		}
		return GeoRow{}
	}
	g := find("multi-region N=3 (one per region), quorum R=W=2", "ap-southeast-2")
	l := find("multi-region N=6 (two per region), local quorum R=W=2", "ap-southeast-2")
	e := find("express per AZ, one region", "us-east-1")
	s := find("standard, one region (zones are labels)", "us-east-1")
	return []string{
		fmt.Sprintf("A quorum across regions costs the nearest other region's round trip: from ap-southeast-2 a put takes p50 %.0f ms with one replica per region, %.0f ms with a local quorum.", g.PutP50, l.PutP50),
		fmt.Sprintf("Local quorum's price is consistency: R+W=4 <= N=6, so a read in another region can miss an acknowledged write until the remote replicas have it (p50 %.0f ms, p99 %.0f ms behind the acknowledgement from ap-southeast-2), and concurrent writes in two regions meet as siblings later instead of at write time. Nothing is lost (siblings), but reads are not monotonic across regions, and a region lost before it replicates loses what only it acknowledged.", l.StaleP50, l.StaleP99),
		fmt.Sprintf("S3 Express per AZ: get p50 %.1f ms and put p50 %.1f ms against %.1f and %.1f ms on S3 Standard (assumed Express service times).", e.GetP50, e.PutP50, s.GetP50, s.PutP50),
	}
}

// geoMarkdown renders part (e).
func (g *GeoResult) markdown(w io.Writer) {
	fmt.Fprintf(w, "\n## (e) Geography: latency by coordinator region\n\n")
	fmt.Fprintf(w, "Round trips (published figures; the simulation adds S3 service times to them):\n\n| between | RTT ms | source |\n|---|---:|---|\n")
	for _, m := range g.Matrix {
		fmt.Fprintf(w, "| %s | %.2f | %s |\n", m.Between, m.RTTMs, m.Source)
	}
	fmt.Fprintf(w, "\n%d ops per policy and coordinator region; zone-aware preference lists from core/ring.\n\n", g.Ops)
	fmt.Fprintf(w, "| policy | coordinator | get p50 | get p99 | put p50 | put p99 | remote behind p50/p99 |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range g.Rows {
		st := "-"
		if r.StaleP50 > 0 {
			st = fmt.Sprintf("%.0f / %.0f", r.StaleP50, r.StaleP99)
		}
		fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %.1f | %.1f | %s |\n", r.Policy, r.Region, r.GetP50, r.GetP99, r.PutP50, r.PutP99, st)
	}
	fmt.Fprintln(w)
	for _, f := range g.Findings {
		fmt.Fprintf(w, "- %s\n", f)
	}
}
