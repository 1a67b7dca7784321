package regioncheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/sivchari/kumo"

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
	URLs    []string // coordinator i runs "in" Regions[i] (its Config.Region)
	Links   []*Links // coordinator i's paths to the regions' storage (Isolate)
}

// Backend names the local endpoints standing in for the regions.
type Backend string

// Backends: kumo (in-process, one server per region; the default) and
// moto_server (one process per region). moto_server 5.2.1's conditional
// writes are not atomic under concurrent load: two PUTs with the same
// If-None-Match or If-Match can both succeed (TestMotoConditionalWriteRace
// measures it), which breaks the serialization Cartwheel's version vectors
// rely on and loses writes that real S3 would keep. Use moto to see that.
const (
	Kumo Backend = "kumo"
	Moto Backend = "moto"
)

// endpoints starts one endpoint per region.
func endpoints(t testing.TB, b Backend) []string {
	var out []string
	if b == Moto {
		for _, m := range awstest.StartMoto(t, len(Regions)) {
			out = append(out, m.Endpoint)
		}
		return out
	}
	kumoOnce.Do(func() {
		for range Regions {
			kumoURLs = append(kumoURLs, kumo.NewServer().URL)
		}
	})
	return kumoURLs
}

// The kumo servers standing in for the regions, started once per test binary
// and never closed. kumo's services are process-wide: a kumo.NewServer while
// another server's requests are in flight rewires them under those requests
// (a race the race detector reports), so no test starts one after traffic.
// Every cluster uses fresh names (awstest.UniqueName), so sharing is safe.
var (
	kumoOnce sync.Once
	kumoURLs []string
)

// Start builds a Cluster with Q partitions on backend b; lww makes it
// last-write-wins. Everything stops when the test ends. With Moto it skips
// when moto_server is missing.
func Start(t testing.TB, b Backend, q int, lww bool) *Cluster {
	t.Helper()
	ctx := context.Background()
	eps := endpoints(t, b)
	c := &Cluster{}
	for _, ep := range eps {
		p, err := NewProxy(strings.TrimPrefix(ep, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		c.Proxies = append(c.Proxies, p)
	}
	cfg := wire.DefaultConfig()
	cfg.AWS.Region = Regions[0]
	cfg.AWS.Endpoint = eps[0]     // home region: hints, membership, default bucket
	name := awstest.UniqueName(t) // kumo keeps state for the whole test binary
	cfg.Bucket, cfg.Table = name, name
	cfg.QueueName, cfg.DLQName = name, name+"-dlq"
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
	for i := range Regions {
		l := &Links{}
		c.Links = append(c.Links, l)
		acfg := cfg
		acfg.AWS.HTTPClient = l.Client()
		acfg.Coordinator.Region = Regions[i]
		app, err := wire.Build(ctx, acfg, log)
		if err != nil {
			t.Fatal(err)
		}
		c.Apps = append(c.Apps, app)
	}
	var nodes []kv.Node
	for i := range 2 * len(Regions) {
		r := i % len(Regions)
		id := fmt.Sprintf("n%d", i+1)
		loc := kv.Location{Region: Regions[r], Endpoint: c.Proxies[r].URL(), Bucket: name + "-data", Prefix: "nodes/" + id + "/"}
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
		srv := httptest.NewServer(&httpapi.Local{H: httpapi.New(jobs.HTTPDeps(app, jobs.RepairerOf(app)))})
		t.Cleanup(srv.Close)
		c.URLs = append(c.URLs, srv.URL)
	}
	return c
}
