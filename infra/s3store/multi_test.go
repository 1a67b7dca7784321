package s3store_test

import (
	"context"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/storetest"
)

// regions are the stand-in regions of the multi-endpoint pass; the first is
// the stack's home region (the store's default).
var regions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

// TestConformanceMultiRegion runs the conformance suite through one Store
// over three moto_server processes, one per "region", with each Location
// naming its region and endpoint: the store keeps one client per (region,
// endpoint), each signing for its region, and the locations are isolated
// although bucket and prefix names are the same.
func TestConformanceMultiRegion(t *testing.T) {
	motos := awstest.StartMoto(t, len(regions))
	ctx := context.Background()
	awsCfg, err := awsconf.Load(ctx, awsconf.Config{Region: regions[0], Endpoint: motos[0].Endpoint,
		AccessKey: awsconf.LocalAccessKey, SecretKey: awsconf.LocalSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	s, err := s3store.New(awsCfg, s3store.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "cartwheel-geo"
	loc := func(i int, prefix string) kv.Location {
		return kv.Location{Region: regions[i], Endpoint: motos[i].Endpoint, Bucket: bucket, Prefix: prefix}
	}
	for i := range regions {
		if err := s.EnsureBucket(ctx, loc(i, "")); err != nil {
			t.Fatalf("bucket in %s: %v", regions[i], err)
		}
		if got := s.Client(loc(i, "")).Options().Region; got != regions[i] {
			t.Fatalf("client for %s signs for %q", regions[i], got)
		}
	}
	storetest.MultiEndpoint(t, s, len(regions), func(t *testing.T, i int, suffix string) kv.Location {
		return loc(i, suffix+"/")
	})
	if got := s.Clients(); got != len(regions) {
		t.Errorf("%d S3 clients for %d (region, endpoint) pairs", got, len(regions))
	}
}
