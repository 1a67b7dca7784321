package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/functions/jobs"
	"github.com/cartwheel/cartwheel/infra/promstats"
	"github.com/cartwheel/cartwheel/infra/wire"
)

type serveOptions struct {
	addr           string
	allowRemote    bool // listen beyond loopback (no authentication there)
	endpoint       string
	dataDir        string
	nodes          int
	zones          string
	n, r, w        int
	faults         bool
	allowEndpoints []string // node endpoints allowed besides S3's and loopback
	lww            bool
	hintEvery      time.Duration
	repairEvery    time.Duration
	healthEvery    time.Duration
	planSettle     time.Duration // 0: repair's default
	defaultTTL     time.Duration // time to live of puts without ttl; 0: none
	q              int           // partitions of a new cluster (tests); 0: the default
	bucket         string
	table          string
	queue          string
	logRequests    bool              // log every request (debug level)
	ready          func(addr string) // tests: called once listening
	logOut         io.Writer         // structured logs (default stderr)
}

func serveCmd() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Cartwheel locally: a cluster on a durable embedded store (or --endpoint URL), and the HTTP API",
		Long: `serve starts Cartwheel on this machine. Without --endpoint (or AWS_ENDPOINT_URL)
it keeps the storage nodes, hints and membership in a durable embedded store under
--data-dir (bbolt; every write is fsynced before it is acknowledged, so a crash
loses no acknowledged write); with one it uses moto, LocalStack or real AWS and
creates the bucket, table and queues. It bootstraps a cluster of --nodes nodes over --zones,
and serves the HTTP API on --addr by calling the same handlers the Lambda
functions run. It also polls the hint queue and runs the repair and health
schedules. Ctrl-C stops it cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if o.logOut == nil {
				o.logOut = cmd.ErrOrStderr()
			}
			return serve(ctx, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address; loopback only (the API is unauthenticated) unless --allow-remote")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow an --addr beyond loopback (e.g. 0.0.0.0:8080): unauthenticated access from other machines")
	f.StringVar(&o.endpoint, "endpoint", os.Getenv("AWS_ENDPOINT_URL"), "AWS endpoint URL (moto, LocalStack, AWS); empty: the durable embedded store")
	f.StringVar(&o.dataDir, "data-dir", ".cartwheel/data", "where the embedded store keeps its data")
	f.IntVar(&o.nodes, "nodes", 6, "storage nodes in a new cluster")
	f.StringVar(&o.zones, "zones", "a,b,c", "comma-separated zones of a new cluster")
	f.IntVar(&o.n, "n", 3, "replicas per key (N) of a new cluster")
	f.IntVar(&o.r, "r", 2, "default read quorum (R) of a new cluster")
	f.IntVar(&o.w, "w", 2, "default write quorum (W) of a new cluster")
	f.BoolVar(&o.faults, "faults", true, "enable fault injection on the admin API")
	f.StringSliceVar(&o.allowEndpoints, "allow-endpoint", nil, "a node endpoint (scheme://host[:port]) POST /admin/nodes accepts besides AWS S3 endpoints and loopback ones; repeatable")
	f.BoolVar(&o.lww, "lww", false, "last-write-wins in a new cluster: concurrent writes are lost instead of kept as siblings")
	f.StringVar(&o.bucket, "bucket", "cartwheel-local", "S3 bucket of the storage nodes (created if missing)")
	f.StringVar(&o.table, "table", "cartwheel-membership", "DynamoDB membership table (created if missing)")
	f.StringVar(&o.queue, "queue", "cartwheel-hints", "SQS hint queue name; its dead-letter queue is NAME-dlq (created if missing)")
	f.DurationVar(&o.hintEvery, "hint-interval", time.Second, "how often queued hints are delivered")
	f.DurationVar(&o.repairEvery, "repair-interval", 10*time.Minute, "how often the repair job runs (0: never)")
	f.DurationVar(&o.healthEvery, "health-interval", time.Minute, "how often nodes are probed (0: never)")
	f.BoolVar(&o.logRequests, "log-requests", false, "log one line per request, and debug lines (default: warnings, errors and start-up only)")
	f.DurationVar(&o.planSettle, "plan-settle", repair.DefaultConfig().PlanSettle, "how long a ring change (and a commit) settles before its transfers (and cleanup) start")
	f.DurationVar(&o.defaultTTL, "default-ttl", 0, "time to live of every put that names none (e.g. 24h; 0: versions never expire)")
	return cmd
}

func serve(ctx context.Context, o serveOptions, out interface{ Write([]byte) (int, error) }) error {
	if o.logOut == nil {
		o.logOut = os.Stderr
	}
	if err := checkListenAddr(o.addr, o.allowRemote); err != nil {
		return err
	}
	// Take the port first: if it is in use, say so before setting up a cluster.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen on %s: the address is already in use (another cartwheel serve, or an earlier make run?): "+
				"stop it, or choose another address with --addr (make run RUN_ARGS=\"--addr 127.0.0.1:8090\")", o.addr)
		}
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	defer ln.Close()
	level := slog.LevelInfo
	if o.logRequests {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(o.logOut, &slog.HandlerOptions{Level: level}))
	cfg := wire.DefaultConfig()
	cfg.AWS.Region = "us-east-1"
	cfg.Nodes = o.nodes
	cfg.Zones = splitList(o.zones)
	cfg.Params.N, cfg.Params.R, cfg.Params.W = o.n, o.r, o.w
	cfg.Faults = o.faults
	cfg.Params.LWW = o.lww
	cfg.Coordinator.DefaultTTL = o.defaultTTL
	if o.q > 0 {
		cfg.Params.Q = o.q
	}
	if o.bucket != "" {
		cfg.Bucket = o.bucket
	}
	if o.table != "" {
		cfg.Table = o.table
	}
	if o.queue != "" {
		cfg.QueueName, cfg.DLQName = o.queue, o.queue+"-dlq"
	}
	if o.planSettle > 0 {
		cfg.Repair.PlanSettle = o.planSettle
	}
	cfg.AllowedEndpoints = o.allowEndpoints
	app, closeStore, err := buildApp(ctx, o, cfg, log, out)
	if err != nil {
		return err
	}
	defer closeStore()
	cluster, err := app.Bootstrap(ctx)
	if err != nil {
		return err
	}
	repairer := jobs.RepairerOf(app)
	deps := jobs.HTTPDeps(app, repairer)
	deps.RequestLogLevel = slog.LevelDebug // shown with --log-requests
	deps.Endpoints.AllowLoopback = true    // emulators on this machine (make run)
	h := httpapi.New(deps)
	mux := http.NewServeMux()
	metrics := promstats.New(promstats.Sources{Coord: app.Coord.Stats(), Nodes: app.NodeStats, Cluster: app.Coord.Cluster, Hints: app.Hints})
	hosts := allowedHosts(o.addr, o.allowRemote)
	mux.Handle("/", httpapi.SameOrigin(metrics.Middleware(&httpapi.Local{H: h}, httpapi.Operation), hosts...))
	mux.Handle("GET /metrics", httpapi.SameOrigin(metrics.Handler(), hosts...)) // serve only: deployed functions write CloudWatch EMF
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "cartwheel listening on http://%s (%d nodes, N=%d R=%d W=%d; ring epoch %d, membership epoch %d)\n",
		ln.Addr(), len(cluster.Nodes), cluster.Params.N, cluster.Params.R, cluster.Params.W, cluster.RingEpoch, cluster.Epoch)
	if !o.logRequests {
		fmt.Fprintln(out, "request logs are off (warnings and errors are shown); --log-requests turns them on")
	}
	host, _, _ := net.SplitHostPort(o.addr)
	if warn := remoteWarning(host, ln.Addr().String()); warn != "" {
		fmt.Fprintln(out, warn)
	} else {
		fmt.Fprintln(out, "no authentication: whoever reaches this address may read, write and delete every key and use the admin API; it listens on loopback only (a deployed stack requires IAM by default)")
	}
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}

	var wg sync.WaitGroup
	every := func(d time.Duration, name string, f func(context.Context) error) {
		if d <= 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := f(ctx); err != nil && ctx.Err() == nil {
						log.Warn("background job failed", "job", name, "err", err)
					}
				}
			}
		}()
	}
	every(o.hintEvery, "handoff", func(ctx context.Context) error {
		_, err := app.Coord.DrainHints(ctx, 0)
		return err
	})
	every(o.repairEvery, "repair", func(ctx context.Context) error {
		_, err := repairer.Run(ctx)
		return err
	})
	every(o.healthEvery, "health", func(ctx context.Context) error {
		_, err := jobs.HealthOf(ctx, app)
		return err
	})

	// net/http's own 400 and 431 answers become JSON errors.
	err = serveUntil(ctx, srv, httpapi.JSONProtocolErrors(ln), 10*time.Second, func() { fmt.Fprintln(out, "shutting down") })
	if ctx.Err() == nil { // Serve failed; the background jobs run until ctx ends
		return err
	}
	wg.Wait()
	app.Coord.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
