// Package coordtest is the coordinator's scenario suite, run against every
// backend: the in-memory ports (fast unit tests) and the real AWS adapters on
// kumo and moto (integration tests). It talks to storage only through the kv
// ports, and injects node failures with the faults wrapper.
package coordtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// Env is one backend: fresh, empty ports for one test.
type Env struct {
	Store   kv.ReplicaStore
	Hints   kv.HintQueue
	Members kv.Membership
	// Bucket holds every node's prefix; Endpoint is its S3 endpoint ("" = default).
	Bucket   string
	Endpoint string
	// HintWait is the receive wait for draining hints (0 for in-memory).
	HintWait time.Duration
}

// MemEnv is a fresh environment on the in-memory ports (core/kv/kvmem).
func MemEnv(t *testing.T) Env {
	return Env{
		Store:   kvmem.NewStore(),
		Hints:   kvmem.NewHintQueue(50*time.Millisecond, 100),
		Members: kvmem.NewMembership(),
		Bucket:  "cartwheel-test",
	}
}

// Cluster is a running test cluster.
type Cluster struct {
	T       testing.TB
	Env     Env
	Faults  *faults.Store
	Cluster kv.Cluster
	Ring    *ring.Ring
	rnd     *rand.Rand
	mu      sync.Mutex

	// Now, if set, is the clock of the coordinators made after it is set
	// (time.Now otherwise).
	Now func() time.Time
}

// Options shape a test cluster.
type Options struct {
	Nodes, Zones int
	// Regions puts zone zK in region rK (the nodes' Location.Region), for
	// coordinators with a Region and the local quorum.
	Regions bool
	Params  kv.Params
	Config  func(*coordinator.Config)
}

// NewCluster bootstraps nodes n1..nN (zones z1..zZ round-robin) in env.
func NewCluster(t testing.TB, env Env, o Options) *Cluster {
	t.Helper()
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.Zones == 0 {
		o.Zones = 3
	}
	if o.Params.Q == 0 {
		o.Params = kv.DefaultParams()
		o.Params.Q = 64
	}
	var nodes []kv.Node
	for i := 1; i <= o.Nodes; i++ {
		nodes = append(nodes, kv.Node{
			ID: fmt.Sprintf("n%d", i), Zone: fmt.Sprintf("z%d", (i-1)%o.Zones+1), Weight: 1,
			Location: kv.Location{Endpoint: env.Endpoint, Bucket: env.Bucket, Prefix: fmt.Sprintf("n%d/", i)},
		})
		if o.Regions {
			nodes[i-1].Location.Region = fmt.Sprintf("r%d", (i-1)%o.Zones+1)
		}
	}
	c, err := membership.Bootstrap(o.Params, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Members.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	cl := &Cluster{T: t, Env: env, Cluster: c, rnd: rand.New(rand.NewSource(1))}
	cl.Faults = faults.New(env.Store, cl.float, nil)
	cl.Ring = mustRing(t, c)
	return cl
}

func mustRing(t testing.TB, c kv.Cluster) *ring.Ring {
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	r, err := ring.New(c.Params.Q, rn, c.Owners)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (c *Cluster) float() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rnd.Float64()
}

// Uint64 is the cluster's seeded, lock-protected source of actor nonces.
func (c *Cluster) Uint64() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rnd.Uint64()
}

// Coordinator returns a new coordinator (a new "Lambda container") on the cluster.
func (c *Cluster) Coordinator(o ...func(*coordinator.Config)) *coordinator.Coordinator {
	cfg := coordinator.DefaultConfig()
	cfg.ClusterTTL = 0
	cfg.SuspectFor = 0 // tests control liveness explicitly
	cfg.ReplicaTimeout = 10 * time.Second
	for _, f := range o {
		f(&cfg)
	}
	co, err := coordinator.New(cfg, coordinator.Deps{
		Store: c.Faults, Hints: c.Env.Hints, Members: c.Env.Members,
		Now: c.clock(), Rand: c.Uint64,
	})
	if err != nil {
		c.T.Fatal(err)
	}
	return co
}

// Node returns node id.
func (c *Cluster) Node(id string) kv.Node {
	n, err := c.Cluster.Node(id)
	if err != nil {
		c.T.Fatal(err)
	}
	return n
}

func (c *Cluster) now() time.Time { return time.Now() }

// clock is the coordinators' clock: Now, or time.Now.
func (c *Cluster) clock() func() time.Time {
	if c.Now != nil {
		return c.Now
	}
	return time.Now
}

// Down sets or clears the "down" fault of a node.
func (c *Cluster) Down(id string, down bool) {
	m := faults.Mode{}
	if down {
		m.Kind = "down"
	}
	if err := c.Faults.Set(c.Node(id).Location, m); err != nil {
		c.T.Fatal(err)
	}
}

// Primaries returns key's primaries.
func (c *Cluster) Primaries(key string) []string {
	return c.Ring.Primaries(key, c.Cluster.Params.N)
}

// Walk returns the zone-diverse walk for key.
func (c *Cluster) Walk(key string) []string { return c.Ring.Walk(key) }

// Replica reads node id's replica of key (its own data object) through the raw
// store; ok is false when absent.
func (c *Cluster) Replica(id, key string) (vclock.Object, []byte, bool) {
	return c.read(c.Node(id).Location, kv.DataName(key), key)
}

// Hinted reads the hinted replica that node id holds for intended; ok is
// false when there is none, or only the stub a delivered one left (no
// state, only its minting identity: see kv.Minting).
func (c *Cluster) Hinted(id, intended, key string) (vclock.Object, bool) {
	c.T.Helper()
	if b, err := c.Env.Store.Get(context.Background(), c.Node(id).Location, kv.HintName(intended, key)); err == nil && kv.IsStub(b.Data) {
		return vclock.Object{}, false
	}
	o, _, ok := c.read(c.Node(id).Location, kv.HintName(intended, key), key)
	return o, ok
}

func (c *Cluster) read(loc kv.Location, name, key string) (vclock.Object, []byte, bool) {
	c.T.Helper()
	b, err := c.Env.Store.Get(context.Background(), loc, name)
	if errors.Is(err, kv.ErrNotFound) {
		return vclock.Object{}, nil, false
	}
	if err != nil {
		c.T.Fatalf("read %s: %v", name, err)
	}
	o, err := vclock.Decode(b.Data, vclock.DecodeLimits())
	if err != nil {
		c.T.Fatalf("decode %s: %v", name, err)
	}
	if o.Key != key {
		c.T.Fatalf("object %s holds key %q, want %q", name, o.Key, key)
	}
	return o, b.Data, true
}

// Wipe deletes every object of node id (amnesia) and bumps its incarnation.
func (c *Cluster) Wipe(ctx context.Context, id string) {
	c.T.Helper()
	loc := c.Node(id).Location
	after := ""
	for {
		items, more, err := c.Env.Store.List(ctx, loc, "", after, 1000)
		if err != nil {
			c.T.Fatal(err)
		}
		for _, it := range items {
			if err := c.Env.Store.Delete(ctx, loc, it.Name, ""); err != nil {
				c.T.Fatal(err)
			}
			after = it.Name
		}
		if !more {
			break
		}
	}
	next, err := membership.BumpIncarnation(c.Cluster, id)
	if err != nil {
		c.T.Fatal(err)
	}
	if err := c.Env.Members.Save(ctx, next, c.Cluster.Epoch); err != nil {
		c.T.Fatal(err)
	}
	c.Cluster = next
}

// Values returns the sorted live values of a get result.
func Values(g coordinator.GetResult) []string {
	var out []string
	for _, s := range g.Siblings {
		out = append(out, string(s.Value))
	}
	sort.Strings(out)
	return out
}

func val(s string) coordinator.Value {
	return coordinator.Value{Data: []byte(s), ContentType: "text/plain"}
}

// Run runs every scenario against fresh environments from newEnv.
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	scenarios := []struct {
		name string
		fn   func(t *testing.T, env Env)
	}{
		{"RoundTrip", RoundTrip},
		{"ConcurrentSameContextMakesSiblings", ConcurrentSameContextMakesSiblings},
		{"OneNodeDownHintsDrain", OneNodeDownHintsDrain},
		{"TwoNodesDownSloppyQuorum", TwoNodesDownSloppyQuorum},
		{"ReadRepair", ReadRepair},
		{"AmnesiaLosesNothing", AmnesiaLosesNothing},
		{"LateHintNeverResurrects", LateHintNeverResurrects},
		{"RequestCounts", RequestCounts},
		{"Limits", Limits},
		{"CorruptReplicaRepaired", CorruptReplicaRepaired},
		{"LastWriteWins", LastWriteWins},
		{"QuorumFailure", QuorumFailure},
		{"PutContextCoversOnlyWhatItsHolderSaw", PutContextCoversOnlyWhatItsHolderSaw},
		{"ForgedContextRejected", ForgedContextRejected},
		{"ConditionalWrites", ConditionalWrites},
		{"ReturnBody", ReturnBody},
		{"PrimaryQuorums", PrimaryQuorums},
		{"ListKeysCost", ListKeysCost},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.fn(t, newEnv(t)) })
	}
}

// RoundTrip: put, get, overwrite with context, delete, re-create.
func RoundTrip(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co := c.Coordinator()
	g, err := co.Get(ctx, "cart:alice", coordinator.Options{})
	if err != nil || g.Found() {
		t.Fatalf("get of a new key: %+v, %v", g, err)
	}
	p, err := co.Put(ctx, "cart:alice", "", val("apple"), coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err = co.Get(ctx, "cart:alice", coordinator.Options{})
	if err != nil || !slices.Equal(Values(g), []string{"apple"}) || g.Siblings[0].ContentType != "text/plain" {
		t.Fatalf("get after put: %v %v", Values(g), err)
	}
	// Read-your-writes: the put's context supersedes the version it wrote.
	if _, err := co.Put(ctx, "cart:alice", p.Context, val("apple,pear"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	g, _ = co.Get(ctx, "cart:alice", coordinator.Options{R: 3})
	if !slices.Equal(Values(g), []string{"apple,pear"}) {
		t.Fatalf("overwrite with context: %v", Values(g))
	}
	if _, err := co.Delete(ctx, "cart:alice", g.Context, coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	g, err = co.Get(ctx, "cart:alice", coordinator.Options{})
	if err != nil || g.Found() || g.Context == "" {
		t.Fatalf("get after delete: %v %q %v", Values(g), g.Context, err)
	}
	if _, err := co.Put(ctx, "cart:alice", "", val("again"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	g, _ = co.Get(ctx, "cart:alice", coordinator.Options{})
	if !slices.Equal(Values(g), []string{"again"}) {
		t.Fatalf("re-create after delete: %v", Values(g))
	}
	// Delete without a context deletes what it sees.
	if _, err := co.Delete(ctx, "cart:alice", "", coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	if g, _ = co.Get(ctx, "cart:alice", coordinator.Options{}); g.Found() {
		t.Fatalf("blind delete left %v", Values(g))
	}
	if _, err := co.Delete(ctx, "never-written", "", coordinator.Options{}); err != nil {
		t.Fatalf("delete of an absent key: %v", err)
	}
	co.Wait()
}

// ConcurrentSameContextMakesSiblings: two coordinators write the same key with
// the same context at once, many times: always two siblings, never a silent
// winner; a put with the merged context collapses them.
func ConcurrentSameContextMakesSiblings(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	a, b := c.Coordinator(), c.Coordinator()
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	for i := 0; i < rounds; i++ {
		key := fmt.Sprintf("race-%d", i)
		p, err := a.Put(ctx, key, "", val("base"), coordinator.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, co := range []*coordinator.Coordinator{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = co.Put(ctx, key, p.Context, val(fmt.Sprintf("w%d", j)), coordinator.Options{})
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		a.Wait()
		b.Wait()
		g, err := a.Get(ctx, key, coordinator.Options{R: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := Values(g); !slices.Equal(got, []string{"w0", "w1"}) {
			t.Fatalf("round %d: want siblings [w0 w1], got %v", i, got)
		}
		if _, err := b.Put(ctx, key, g.Context, val("merged"), coordinator.Options{}); err != nil {
			t.Fatal(err)
		}
		b.Wait()
		g, _ = a.Get(ctx, key, coordinator.Options{R: 3})
		if got := Values(g); !slices.Equal(got, []string{"merged"}) {
			t.Fatalf("round %d: merged put left %v", i, got)
		}
	}
}

// drain delivers queued hints until none is left.
func drain(t *testing.T, env Env, co *coordinator.Coordinator) coordinator.DrainResult {
	t.Helper()
	res, err := co.DrainHints(context.Background(), env.HintWait)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// OneNodeDownHintsDrain: with one of three primaries down, W=2 puts succeed and
// queue a hint; when the node returns and hints drain, all three primaries
// hold identical bytes and the fallback's hinted copy is gone.
func OneNodeDownHintsDrain(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	key := "session:42"
	prim := c.Primaries(key)
	down := prim[1]
	c.Down(down, true)
	co := c.Coordinator()
	if _, err := co.Put(ctx, key, "", val("v1"), coordinator.Options{W: 2}); err != nil {
		t.Fatalf("put with one node down: %v", err)
	}
	co.Wait()
	if n := co.Stats().HintsQueued.Load(); n != 1 {
		t.Fatalf("hints queued = %d, want 1", n)
	}
	fb := c.Walk(key)[3]
	if _, ok := c.Hinted(fb, down, key); !ok {
		t.Fatalf("fallback %s holds no hinted replica for %s", fb, down)
	}
	// While the node is down a drain leaves the hint queued.
	if res := drain(t, env, co); res.Delivered != 0 {
		t.Fatalf("delivered to a down node: %+v", res)
	}
	c.Down(down, false)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res := drain(t, env, co)
		if res.Delivered > 0 || time.Now().After(deadline) {
			break
		}
		// the failed delivery's message is invisible until its visibility timeout
		time.Sleep(200 * time.Millisecond)
	}
	AssertConverged(t, c, key, prim, []string{"v1"})
	if _, ok := c.Hinted(fb, down, key); ok {
		t.Fatalf("hinted replica still on %s after delivery", fb)
	}
}

// AssertConverged checks that every listed node holds key's replica with the
// same bytes and the given live values.
func AssertConverged(t *testing.T, c *Cluster, key string, nodes []string, values []string) {
	t.Helper()
	var first []byte
	for _, id := range nodes {
		o, data, ok := c.Replica(id, key)
		if !ok {
			t.Fatalf("%s holds no replica of %q", id, key)
		}
		var got []string
		for _, s := range o.Live() {
			got = append(got, string(s.Value))
		}
		sort.Strings(got)
		if !slices.Equal(got, values) {
			t.Fatalf("%s holds %v, want %v", id, got, values)
		}
		if first == nil {
			first = data
		} else if !bytes.Equal(first, data) {
			t.Fatalf("%s holds different bytes than %s", id, nodes[0])
		}
	}
}

// TwoNodesDownSloppyQuorum: with two of three primaries down, the sloppy quorum
// still writes W=2 (one primary and a fallback) and the value is readable.
func TwoNodesDownSloppyQuorum(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{Nodes: 5})
	key := "k2"
	prim := c.Primaries(key)
	c.Down(prim[0], true)
	c.Down(prim[2], true)
	co := c.Coordinator()
	if _, err := co.Put(ctx, key, "", val("sloppy"), coordinator.Options{W: 2}); err != nil {
		t.Fatalf("sloppy put: %v", err)
	}
	co.Wait()
	held := 0
	for _, id := range c.Walk(key)[3:] {
		for _, p := range []string{prim[0], prim[2]} {
			if _, ok := c.Hinted(id, p, key); ok {
				held++
			}
		}
	}
	if held != 2 {
		t.Fatalf("want 2 hinted replicas on fallbacks, found %d", held)
	}
	g, err := co.Get(ctx, key, coordinator.Options{R: 2})
	if err != nil || !slices.Equal(Values(g), []string{"sloppy"}) {
		t.Fatalf("read with two primaries down: %v %v", Values(g), err)
	}
	co.Wait()
	c.Down(prim[0], false)
	c.Down(prim[2], false)
	for i := 0; i < 100; i++ {
		if co.Stats().HintsDelivered.Load() >= 2 {
			break
		}
		drain(t, env, co)
		time.Sleep(100 * time.Millisecond)
	}
	AssertConverged(t, c, key, prim, []string{"sloppy"})
}

// ReadRepair: a replica that missed a write is repaired by a read.
func ReadRepair(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	key := "rr"
	prim := c.Primaries(key)
	co := c.Coordinator()
	p, err := co.Put(ctx, key, "", val("v1"), coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	// v2 misses prim[2]: the node is down during the put and its hint is lost.
	c.Down(prim[2], true)
	if _, err := co.Put(ctx, key, p.Context, val("v2"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	c.Down(prim[2], false)
	if o, _, _ := c.Replica(prim[2], key); len(o.Live()) != 1 || string(o.Live()[0].Value) != "v1" {
		t.Fatalf("setup: %s should still hold v1", prim[2])
	}
	g, err := co.Get(ctx, key, coordinator.Options{R: 3})
	if err != nil || !slices.Equal(Values(g), []string{"v2"}) {
		t.Fatalf("get: %v %v", Values(g), err)
	}
	co.Wait()
	if co.Stats().ReadRepairs.Load() < 1 {
		t.Fatalf("no read repair counted")
	}
	AssertConverged(t, c, key, prim, []string{"v2"})
}

// AmnesiaLosesNothing: a primary whose data is wiped (new incarnation) never
// causes a newer write to be lost: it mints with a new actor.
func AmnesiaLosesNothing(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	key := "amnesia"
	prim := c.Primaries(key)
	co := c.Coordinator()
	if _, err := co.Put(ctx, key, "", val("old"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	c.Wipe(ctx, prim[0])
	co2 := c.Coordinator()
	// A blind write coordinated at the wiped replica: concurrent with "old".
	if _, err := co2.Put(ctx, key, "", val("new"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co2.Wait()
	g, err := co2.Get(ctx, key, coordinator.Options{R: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := Values(g); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("after amnesia want siblings [new old], got %v", got)
	}
	co2.Wait()
	AssertConverged(t, c, key, prim, []string{"new", "old"})
}

// LateHintNeverResurrects: a hint for a write that a later delete superseded
// does not bring the value back when delivered late.
func LateHintNeverResurrects(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	key := "ghost"
	prim := c.Primaries(key)
	co := c.Coordinator()
	c.Down(prim[2], true)
	if _, err := co.Put(ctx, key, "", val("boo"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	c.Down(prim[2], false)
	g, err := co.Get(ctx, key, coordinator.Options{})
	if err != nil || !g.Found() {
		t.Fatalf("get: %v %v", Values(g), err)
	}
	co.Wait()
	if _, err := co.Delete(ctx, key, g.Context, coordinator.Options{W: 3}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	for i := 0; i < 100 && co.Stats().HintsDelivered.Load() == 0; i++ {
		drain(t, env, co)
		time.Sleep(100 * time.Millisecond)
	}
	if co.Stats().HintsDelivered.Load() == 0 {
		t.Fatal("the late hint was never delivered")
	}
	g, err = co.Get(ctx, key, coordinator.Options{R: 3})
	if err != nil || g.Found() {
		t.Fatalf("deleted key came back: %v %v", Values(g), err)
	}
	AssertConverged(t, c, key, prim, nil)
}

// RequestCounts: a get is N GETs; a read-modify-write put is N PUTs and no
// GET on the replicas the get saw, nor on those whose late replies its
// coordinator saw; a blind put reads every replica.
func RequestCounts(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co := c.Coordinator()
	key := "counted"
	if _, err := co.Put(ctx, key, "", val("v0"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	c.Faults.ResetCounts()
	g, err := co.Get(ctx, key, coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if got := c.Faults.Counts(); got.Get != 3 || got.Put != 0 {
		t.Fatalf("get cost %+v, want 3 GETs", got)
	}
	// Another coordinator (a stateless process with its own caches) given
	// the same context: the get waited for R=2 replicas, so the context saw
	// two: they get one conditional PUT each; the third is read first (off
	// the quorum's path).
	other := c.Coordinator()
	c.Faults.ResetCounts()
	if _, err := other.Put(ctx, key, g.Context, val("v1-other"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	other.Wait()
	if got := c.Faults.Counts(); got.Get != 1 || got.Put != 3 {
		t.Fatalf("read-modify-write put through another coordinator cost %+v, want 3 PUTs and 1 GET", got)
	}
	// A coordinator that served the get learns the third replica's state
	// from its late reply (the seen cache): its put reads nothing, and the
	// next put, with that put's context, neither (the put's late
	// acknowledgement is cached too).
	g, err = co.Get(ctx, key, coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	c.Faults.ResetCounts()
	p, err := co.Put(ctx, key, g.Context, val("v1"), coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if got := c.Faults.Counts(); got.Get != 0 || got.Put != 3 {
		t.Fatalf("read-modify-write put cost %+v, want 3 PUTs and no GET", got)
	}
	c.Faults.ResetCounts()
	if _, err := co.Put(ctx, key, p.Context, val("v2"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if got := c.Faults.Counts(); got.Get != 0 || got.Put != 3 {
		t.Fatalf("put with a put's context cost %+v, want 3 PUTs and no GET", got)
	}
	// With R=N the context saw every replica: no GET at all.
	g, err = co.Get(ctx, key, coordinator.Options{R: 3})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	c.Faults.ResetCounts()
	if _, err := co.Put(ctx, key, g.Context, val("v3"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if got := c.Faults.Counts(); got.Get != 0 || got.Put != 3 {
		t.Fatalf("read-modify-write put after an R=3 get cost %+v, want 3 PUTs and no GET", got)
	}
	c.Faults.ResetCounts()
	if _, err := co.Put(ctx, "fresh-key", "", val("new"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if got := c.Faults.Counts(); got.Get != 0 || got.Put != 3 {
		t.Fatalf("first put of a new key cost %+v, want 3 create-only PUTs and no GET", got)
	}
	c.Faults.ResetCounts()
	if _, err := co.Put(ctx, key, "", val("blind"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	// A blind put tries a create-only PUT first (a new key then costs no
	// GET); on an existing key that one is refused: 4 PUTs.
	if got := c.Faults.Counts(); got.Get != 3 || got.Put != 4 {
		t.Fatalf("blind put cost %+v, want 3 GETs and 4 PUTs (one create refused)", got)
	}
}

// Limits: bad input gets typed errors and stores nothing.
func Limits(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co := c.Coordinator(func(cfg *coordinator.Config) { cfg.Limits.MaxSiblings = 3 })
	lim := kv.DefaultLimits()
	cases := []struct {
		name string
		err  error
		fn   func() error
	}{
		{"empty key", kv.ErrBadKey, func() error { _, err := co.Put(ctx, "", "", val("x"), coordinator.Options{}); return err }},
		{"long key", kv.ErrBadKey, func() error {
			_, err := co.Get(ctx, strings.Repeat("k", lim.MaxKeyBytes+1), coordinator.Options{})
			return err
		}},
		{"non-UTF-8 key", kv.ErrBadKey, func() error { _, err := co.Get(ctx, "\xff\xfe", coordinator.Options{}); return err }},
		{"value too large", kv.ErrValueTooLarge, func() error {
			_, err := co.Put(ctx, "big", "", coordinator.Value{Data: make([]byte, lim.MaxValueBytes+1)}, coordinator.Options{})
			return err
		}},
		{"garbage context", kv.ErrBadContext, func() error { _, err := co.Put(ctx, "k", "!!!", val("x"), coordinator.Options{}); return err }},
		{"bad r", kv.ErrBadRequest, func() error { _, err := co.Get(ctx, "k", coordinator.Options{R: 4}); return err }},
		{"bad w", kv.ErrBadRequest, func() error { _, err := co.Put(ctx, "k", "", val("x"), coordinator.Options{W: -7}); return err }},
		{"bad pr", kv.ErrBadRequest, func() error { _, err := co.Get(ctx, "k", coordinator.Options{PR: 4}); return err }},
		{"bad pw", kv.ErrBadRequest, func() error { _, err := co.Put(ctx, "k", "", val("x"), coordinator.Options{PW: 9}); return err }},
	}
	for _, tc := range cases {
		if err := tc.fn(); !errors.Is(err, tc.err) {
			t.Errorf("%s: want %v, got %v", tc.name, tc.err, err)
		}
	}
	// A tampered context: flip one character of a real one.
	p, err := co.Put(ctx, "k", "", val("x"), coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(p.Context)
	tampered[len(tampered)/2] ^= 1
	if _, err := co.Put(ctx, "k", string(tampered), val("y"), coordinator.Options{}); !errors.Is(err, kv.ErrBadContext) {
		t.Errorf("tampered context: %v", err)
	}
	if _, err := co.Put(ctx, "k", p.Context[:len(p.Context)-3], val("y"), coordinator.Options{}); !errors.Is(err, kv.ErrBadContext) {
		t.Errorf("truncated context: %v", err)
	}
	// A real context of another key is refused too: contexts are bound to their key.
	if _, err := co.Put(ctx, "other", p.Context, val("y"), coordinator.Options{}); !errors.Is(err, kv.ErrBadContext) {
		t.Errorf("context of another key: %v", err)
	}
	// Sibling cap: the 4th concurrent version is rejected, the data unchanged.
	for i := 0; i < 2; i++ {
		if _, err := co.Put(ctx, "k", "", val(fmt.Sprint(i)), coordinator.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	co.Wait()
	if _, err := co.Put(ctx, "k", "", val("one too many"), coordinator.Options{}); !errors.Is(err, kv.ErrTooManySiblings) {
		t.Fatalf("sibling cap: %v", err)
	}
	g, err := co.Get(ctx, "k", coordinator.Options{R: 3})
	if err != nil || len(g.Siblings) != 3 {
		t.Fatalf("after the rejected put: %v %v", Values(g), err)
	}
	// Resolving works past the cap.
	if _, err := co.Put(ctx, "k", g.Context, val("resolved"), coordinator.Options{}); err != nil {
		t.Fatalf("resolve at the cap: %v", err)
	}
	co.Wait()
}

// CorruptReplicaRepaired: a replica object with a bad checksum is detected,
// counted, and repaired from the others by a read.
func CorruptReplicaRepaired(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{})
	co := c.Coordinator()
	key := "bitrot"
	prim := c.Primaries(key)
	if _, err := co.Put(ctx, key, "", val("precious"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	loc := c.Node(prim[1]).Location
	b, err := env.Store.Get(ctx, loc, kv.DataName(key))
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), b.Data...)
	bad[len(bad)/2] ^= 0x40
	if _, err := env.Store.Put(ctx, loc, kv.DataName(key), bad, b.Actor, b.ETag); err != nil {
		t.Fatal(err)
	}
	g, err := co.Get(ctx, key, coordinator.Options{R: 3})
	if err != nil || !slices.Equal(Values(g), []string{"precious"}) {
		t.Fatalf("get with a corrupt replica: %v %v", Values(g), err)
	}
	co.Wait()
	if co.Stats().CorruptReplicas.Load() == 0 {
		t.Fatal("corruption not reported")
	}
	AssertConverged(t, c, key, prim, []string{"precious"})
}

// LastWriteWins: in LWW mode concurrent writes collapse to one version (and
// the others are lost, which is the documented price).
func LastWriteWins(t *testing.T, env Env) {
	ctx := context.Background()
	p := kv.DefaultParams()
	p.Q = 64
	p.LWW = true
	c := NewCluster(t, env, Options{Params: p})
	co := c.Coordinator()
	for i := 0; i < 3; i++ {
		if _, err := co.Put(ctx, "lww", "", val(fmt.Sprint(i)), coordinator.Options{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct timestamps
	}
	co.Wait()
	g, err := co.Get(ctx, "lww", coordinator.Options{R: 3})
	if err != nil || !slices.Equal(Values(g), []string{"2"}) {
		t.Fatalf("LWW: %v %v", Values(g), err)
	}
}

// QuorumFailure: with every node down, a put fails with a QuorumError saying
// how many answered and how many were needed.
func QuorumFailure(t *testing.T, env Env) {
	ctx := context.Background()
	c := NewCluster(t, env, Options{Nodes: 3})
	co := c.Coordinator()
	for _, n := range c.Cluster.Nodes {
		c.Down(n.ID, true)
	}
	_, err := co.Put(ctx, "k", "", val("x"), coordinator.Options{})
	var qe *kv.QuorumError
	if !errors.As(err, &qe) || !errors.Is(err, kv.ErrQuorum) || qe.Need != 2 || qe.Got != 0 {
		t.Fatalf("want a quorum error 0 of 2, got %v", err)
	}
	_, err = co.Get(ctx, "k", coordinator.Options{})
	if !errors.As(err, &qe) || qe.Need != 2 {
		t.Fatalf("get: want a quorum error, got %v", err)
	}
	// One node up: W=1 works, W=2 does not.
	c.Down(c.Cluster.Nodes[0].ID, false)
	if _, err := co.Put(ctx, "k", "", val("x"), coordinator.Options{W: 1}); err != nil {
		t.Fatalf("W=1 with one node up: %v", err)
	}
	var failures atomic.Int64
	if _, err := co.Put(ctx, "k", "", val("y"), coordinator.Options{W: 2}); errors.As(err, &qe) {
		failures.Add(1)
		if qe.Got != 1 {
			t.Fatalf("W=2 with one node up: got %d", qe.Got)
		}
	}
	if failures.Load() != 1 {
		t.Fatal("W=2 with one node up should fail")
	}
	co.Wait()
}
