package wire

import (
	"fmt"
	"strings"
)

// parseZoneBuckets parses "zone=bucket,zone=bucket" (CARTWHEEL_ZONE_BUCKETS).
func parseZoneBuckets(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		z, b, ok := strings.Cut(pair, "=")
		z, b = strings.TrimSpace(z), strings.TrimSpace(b)
		if !ok || z == "" || b == "" {
			return nil, fmt.Errorf("CARTWHEEL_ZONE_BUCKETS: %q is not zone=bucket", pair)
		}
		if _, dup := out[z]; dup {
			return nil, fmt.Errorf("CARTWHEEL_ZONE_BUCKETS: zone %q given twice", z)
		}
		out[z] = b
	}
	return out, nil
}
