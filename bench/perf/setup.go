package perf

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cartwheel/cartwheel/bench/zipf"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// bencher runs the benchmark against one endpoint set-up.
type bencher struct {
	cfg     Config
	log     io.Writer
	env     *endpointEnv
	app     *wire.App
	coord   *coordinator.Coordinator
	ring    *ring.Ring
	nodes   []kv.Node
	reps    map[string]replica // by node id
	members *countMembers
	req     map[string]*requests
	other   *requests
	ctxs    sync.Map // key -> the latest context seen for it
	bg      sync.WaitGroup
	hedge   time.Duration
	runID   string
	workers []*worker
}

// worker is one client: its own random source, keys and histograms.
type worker struct {
	b      *bencher
	id     int
	rng    *mrand.Rand
	keys   *zipf.Zipf
	raw    *rawWriter
	seq    int
	lat    map[string]*latencies
	missed int64 // slots skipped because the phase ended while behind schedule
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func recordKey(i int) string { return fmt.Sprintf("user%06d", i) }

// newBencher returns a bencher for cfg with a request counter per counted kind.
func newBencher(cfg Config, logw io.Writer) *bencher {
	b := &bencher{cfg: cfg, log: logw, other: &requests{}, req: map[string]*requests{}, runID: randomHex(4)}
	for _, k := range countedKinds {
		b.req[k] = &requests{}
	}
	return b
}

// setup starts the endpoints, provisions fresh resources, saves a cluster and
// builds the coordinator.
func setup(ctx context.Context, cfg Config, spec string, logw io.Writer) (*bencher, error) {
	env, err := startEndpoints(ctx, spec, cfg.Nodes, cfg.MotoServer, filepath.Join(os.TempDir(), "cartwheel-bench"), logw)
	if err != nil {
		return nil, err
	}
	b := newBencher(cfg, logw)
	b.env = env
	if err := b.build(ctx); err != nil {
		env.stop()
		return nil, err
	}
	return b, nil
}

func (b *bencher) build(ctx context.Context) error {
	wc := wire.DefaultConfig()
	wc.AWS.Endpoint = b.env.main
	wc.Bucket = "cwbench-" + b.runID
	wc.Table = "cwbench-" + b.runID + "-members"
	wc.QueueName, wc.DLQName = "cwbench-"+b.runID+"-hints", "cwbench-"+b.runID+"-hints-dlq"
	wc.Nodes, wc.Zones = b.cfg.Nodes, b.cfg.Zones
	wc.Params.N, wc.Params.R, wc.Params.W = replN, replR, replW
	wc.Faults = true
	wc, err := wire.Provision(ctx, wc)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The coordinator as wire builds it, with counting wrappers around its
	// three ports (the store below them is wire's fault-injecting S3 store).
	wc.Wrap = b.countingPorts
	app, err := wire.Build(ctx, wc, quiet)
	if err != nil {
		return err
	}
	b.app = app
	store, ok := app.Store.(*s3store.Store)
	if !ok {
		return fmt.Errorf("bench: the wired store is %T, not *s3store.Store", app.Store)
	}
	// The cluster: wire's layout (one bucket, a prefix per node), each node on
	// its own endpoint when there is one per node.
	for i := 1; i <= b.cfg.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		loc := wire.NodeLocation(wc.Bucket, id)
		loc.Endpoint = b.env.nodes[i-1]
		if loc.Endpoint != "" {
			if err := s3store.EnsureBucket(ctx, awsconf.S3(app.AWS, loc.Endpoint), loc.Bucket); err != nil {
				return err
			}
		}
		b.nodes = append(b.nodes, kv.Node{ID: id, Zone: b.cfg.Zones[(i-1)%len(b.cfg.Zones)], Weight: 1, Location: loc})
	}
	cluster, err := b.saveCluster(ctx, wc.Params, func(n kv.Node) replica {
		return replica{client: store.Client(n.Location), bucket: n.Location.Bucket, prefix: n.Location.Prefix}
	})
	if err != nil {
		return err
	}
	body, _ := json.Marshal(cluster)
	b.members.units = int64((len(body) + 100 + 4095) / 4096) // DynamoDB read units of the record
	b.coord = app.Coord
	return nil
}

// countingPorts is the wire.Config.Wrap of every endpoint: counting wrappers
// around the coordinator's three ports.
func (b *bencher) countingPorts(p wire.Ports) wire.Ports {
	b.members = &countMembers{inner: p.Members, other: b.other}
	return wire.Ports{
		Store:   &countStore{inner: p.Store, other: b.other},
		Hints:   &countHints{inner: p.Hints, other: b.other},
		Members: b.members,
	}
}

// saveCluster bootstraps a cluster of b.nodes with params, saves it through
// the app's membership, and builds the ring and the replicas (rep gives a
// node's) the raw patterns use.
func (b *bencher) saveCluster(ctx context.Context, params kv.Params, rep func(kv.Node) replica) (kv.Cluster, error) {
	cluster, err := membership.Bootstrap(params, b.nodes)
	if err != nil {
		return kv.Cluster{}, err
	}
	if err := b.app.Members.Save(ctx, cluster, 0); err != nil {
		return kv.Cluster{}, err
	}
	b.nodes = cluster.Nodes
	rn := make([]ring.Node, 0, len(cluster.Nodes))
	b.reps = map[string]replica{}
	for _, n := range cluster.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
		b.reps[n.ID] = rep(n)
	}
	if b.ring, err = ring.New(cluster.Params.Q, rn, cluster.Owners); err != nil {
		return kv.Cluster{}, err
	}
	return cluster, nil
}

// replicasFor returns the key's N primaries, as the coordinator computes them.
func (b *bencher) replicasFor(key string) []replica {
	prefs := b.ring.PreferenceList(key, replN, nil)
	out := make([]replica, len(prefs))
	for i, p := range prefs {
		out[i] = b.reps[p.Node]
	}
	return out
}

func (b *bencher) newWorkers() error {
	b.workers = nil
	for i := range b.cfg.Concurrency {
		rng := mrand.New(mrand.NewPCG(b.cfg.Seed, uint64(i)+1))
		z, err := zipf.New(b.cfg.Records, b.cfg.Theta, mrand.New(mrand.NewPCG(b.cfg.Seed^0x5eed, uint64(i)+1)))
		if err != nil {
			return err
		}
		b.workers = append(b.workers, &worker{b: b, id: i, rng: rng, keys: z, raw: newRawWriter()})
	}
	return nil
}

// load writes every record through Cartwheel: a blind put, whose context the
// client keeps for its updates.
func (b *bencher) load(ctx context.Context) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	val := func(i int) []byte {
		v := make([]byte, b.cfg.ValueSize)
		binary.LittleEndian.PutUint64(v, uint64(i))
		return v
	}
	// More loaders than workers: loading is not measured, and a moto_server
	// answers faster with a few requests queued.
	for range max(b.cfg.Concurrency, 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.cfg.Records || ctx.Err() != nil {
					return
				}
				key := recordKey(i)
				res, err := b.coord.Put(ctx, key, "", coordinator.Value{Data: val(i), ContentType: "application/octet-stream"}, coordinator.Options{})
				if err != nil {
					select {
					case errs <- fmt.Errorf("load %s: %w", key, err):
					default:
					}
					return
				}
				b.ctxs.Store(key, res.Context)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	b.coord.Wait()
	return ctx.Err()
}
