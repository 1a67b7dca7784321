package main

import (
	"fmt"
	"strings"

	"github.com/cartwheel/cartwheel/core/kv"
)

// parseLocation turns `node add`'s --location s3://bucket/prefix, --region
// and --endpoint into a node location. An empty prefix becomes
// "nodes/<id>/"; a prefix gets a trailing "/". An empty location string
// returns nil: the server then puts the node in the first node's bucket.
func parseLocation(id, loc, region, endpoint string) (*kv.Location, error) {
	if loc == "" {
		if region != "" || endpoint != "" {
			return nil, fmt.Errorf("--region and --endpoint need --location s3://bucket/prefix")
		}
		return nil, nil
	}
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok {
		return nil, fmt.Errorf("--location %q: want s3://bucket/prefix", loc)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, fmt.Errorf("--location %q: no bucket", loc)
	}
	if prefix == "" {
		prefix = "nodes/" + id + "/"
	} else if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if endpoint != "" && !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
		return nil, fmt.Errorf("--endpoint %q must start with http:// or https://", endpoint)
	}
	return &kv.Location{Region: region, Endpoint: endpoint, Bucket: bucket, Prefix: prefix}, nil
}
