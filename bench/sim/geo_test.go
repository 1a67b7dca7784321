package sim

import "testing"

// TestGeoOrdersPolicies: the geography part ranks the shapes as the round
// trips say it must: a local quorum answers from its own region (put p50
// below one cross-region round trip, 68 ms), a quorum across regions pays at
// least the nearest other region's round trip, and S3 Express beats S3
// Standard in one region.
func TestGeoOrdersPolicies(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LatencyOps = 20_000
	res, err := runGeo(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(policy, region string) GeoRow {
		for _, r := range res.Rows {
			if r.Policy == policy && r.Region == region {
				return r
			}
		}
		t.Fatalf("no row %s / %s", policy, region)
		return GeoRow{}
	}
	local := get("multi-region N=6 (two per region), local quorum R=W=2", "ap-southeast-2")
	global := get("multi-region N=3 (one per region), quorum R=W=2", "ap-southeast-2")
	if local.PutP50 >= 68 || global.PutP50 < 198 || global.GetP50 < 198 {
		t.Errorf("ap-southeast-2: local put p50 %.0f ms (want < 68), global put p50 %.0f and get p50 %.0f (want >= 198)", local.PutP50, global.PutP50, global.GetP50)
	}
	if local.StaleP50 < 198 {
		t.Errorf("local quorum: remote replicas behind by p50 %.0f ms, below the nearest round trip", local.StaleP50)
	}
	exp, std := get("express per AZ, one region", "us-east-1"), get("standard, one region (zones are labels)", "us-east-1")
	if exp.GetP50 >= std.GetP50 || exp.PutP50 >= std.PutP50 {
		t.Errorf("express %+v not faster than standard %+v", exp, std)
	}
}
