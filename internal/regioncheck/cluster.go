package regioncheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/functions/jobs"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// Regions are the stand-in regions; the first is the stack's home region,
// where hints and membership live (it is never cut off).
var Regions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

// Cluster is Cartwheel over len(Regions) regions: one moto_server per region
// behind a Proxy, two storage nodes per region (zone = region, so N=3 puts
// one replica in each), and one coordinator per region, each an HTTP API
// server (the Lambda handler through httpapi.Local) with its own clients.
type Cluster struct {
	Proxies []*Proxy
	Apps    []*wire.App
	URLs    []string // coordinator i runs "in" Regions[i]
}

// Start builds a Cluster with Q partitions; lww makes it last-write-wins.
// Everything stops when the test ends. It skips when moto_server is missing.
func Start(t testing.TB, q int, lww bool) *Cluster {
	t.Helper()
	ctx := context.Background()
	motos := awstest.StartMoto(t, len(Regions))
	c := &Cluster{}
	for _, m := range motos {
		p, err := NewProxy(m.Endpoint[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		c.Proxies = append(c.Proxies, p)
	}
	cfg := wire.DefaultConfig()
	cfg.AWS.Region = Regions[0]
	cfg.AWS.Endpoint = motos[0].Endpoint // home region: hints, membership, default bucket
	cfg.Bucket, cfg.Table = "cartwheel-home", "cartwheel-geo-members"
	cfg.QueueName, cfg.DLQName = "cartwheel-geo-hints", "cartwheel-geo-hints-dlq"
	cfg.Params.Q, cfg.Params.LWW = q, lww
	cfg.Extension = false
	cfg, err := wire.Provision(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logw io.Writer = io.Discard
	if path := os.Getenv("CARTWHEEL_REGION_CHECK_LOG"); path != "" { // the coordinators' logs, for diagnosis
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		logw = f
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for range Regions {
		app, err := wire.Build(ctx, cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		c.Apps = append(c.Apps, app)
	}
	var nodes []kv.Node
	for i := range 2 * len(Regions) {
		r := i % len(Regions)
		id := fmt.Sprintf("n%d", i+1)
		loc := kv.Location{Region: Regions[r], Endpoint: c.Proxies[r].URL(), Bucket: "cartwheel-geo", Prefix: "nodes/" + id + "/"}
		if err := c.Apps[0].Store.(interface {
			EnsureBucket(context.Context, kv.Location) error
		}).EnsureBucket(ctx, loc); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, kv.Node{ID: id, Zone: Regions[r], Weight: 1, Location: loc})
	}
	cl, err := membership.Bootstrap(cfg.Params, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apps[0].Members.Save(ctx, cl, 0); err != nil {
		t.Fatal(err)
	}
	for _, app := range c.Apps {
		rep, err := jobs.NewRepairerFor(app, 0)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(&httpapi.Local{H: httpapi.New(httpapi.FromApp(app, 0, rep))})
		t.Cleanup(srv.Close)
		c.URLs = append(c.URLs, srv.URL)
	}
	return c
}
