package wire

import (
	"strings"
	"testing"
)

func TestZoneBucketsFromEnv(t *testing.T) {
	env := map[string]string{
		"CARTWHEEL_ZONES":        "use1-az4,use1-az5",
		"CARTWHEEL_ZONE_BUCKETS": "use1-az4=a--use1-az4--x-s3, use1-az5=b--use1-az5--x-s3",
	}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.ZoneBuckets["use1-az5"] != "b--use1-az5--x-s3" || len(c.ZoneBuckets) != 2 {
		t.Fatalf("zone buckets %v", c.ZoneBuckets)
	}
	for _, bad := range []string{"use1-az4=x", "use1-az4", "use1-az4=a,use1-az4=b,use1-az5=c"} {
		env["CARTWHEEL_ZONE_BUCKETS"] = bad
		if _, err := FromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "zone") {
			t.Errorf("CARTWHEEL_ZONE_BUCKETS=%q accepted (err %v)", bad, err)
		}
	}
}
