// Package repairtest is the repair job's scenario suite, run against every
// backend like coordtest (whose clusters, fault injection and assertions it
// reuses): the in-memory ports, and the real AWS adapters on kumo and moto.
// Each scenario drives coordinators and a repair.Repairer through the kv
// ports only, and injects node failures with the faults wrapper, whose
// request counts also show what a repair cost.
package repairtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// Run runs every scenario against fresh environments from newEnv.
func Run(t *testing.T, newEnv func(t *testing.T) coordtest.Env) {
	scenarios := []struct {
		name string
		fn   func(t *testing.T, env coordtest.Env)
	}{
		{"AmnesiaConverges", AmnesiaConverges},
		{"MissedWritesConverge", MissedWritesConverge},
		{"BudgetResumes", BudgetResumes},
		{"PlanTransferCommit", PlanTransferCommit},
		{"RingChangeWhileWriting", RingChangeWhileWriting},
		{"Doomstone", Doomstone},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.fn(t, newEnv(t)) })
	}
}

// Fixture is a test cluster with a coordinator and a clock for the repairer
// that tests can move forward (the reaping grace period).
type Fixture struct {
	T  *testing.T
	C  *coordtest.Cluster
	Co *coordinator.Coordinator
	// offset is added to the wall clock for the repairer.
	offset atomic.Int64
}

// NewFixture bootstraps nodes n1..n<nodes> over three zones, Q=64, N=3.
func NewFixture(t *testing.T, env coordtest.Env, nodes int) *Fixture {
	f := &Fixture{T: t, C: coordtest.NewCluster(t, env, coordtest.Options{Nodes: nodes})}
	f.Co = f.C.Coordinator()
	return f
}

// Advance moves the repairer's clock by d.
func (f *Fixture) Advance(d time.Duration) { f.offset.Add(int64(d)) }

// Now is the repairer's clock.
func (f *Fixture) Now() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) }

// Repairer returns a repairer for the cluster with the test defaults: no
// plan settling, no periodic reap scans, no deadline reserve.
func (f *Fixture) Repairer(edit ...func(*repair.Config)) *repair.Repairer {
	cfg := repair.DefaultConfig()
	cfg.PlanSettle = 0
	cfg.ReapScanEvery = -1
	cfg.Reserve = 0
	cfg.HintWait = f.C.Env.HintWait
	for _, e := range edit {
		e(&cfg)
	}
	r, err := repair.New(cfg, repair.Deps{
		Store: f.C.Faults, Members: f.C.Env.Members, Handoff: f.Co, Now: f.Now, Rand: f.C.Uint64,
	})
	if err != nil {
		f.T.Fatal(err)
	}
	return r
}

// Cluster loads the stored cluster.
func (f *Fixture) Cluster() kv.Cluster {
	f.T.Helper()
	c, err := f.C.Env.Members.Load(context.Background())
	if err != nil {
		f.T.Fatal(err)
	}
	return c
}

// Save stores next over the stored cluster, and keeps the coordtest
// cluster (used to find nodes) in step.
func (f *Fixture) Save(next kv.Cluster, prev uint64) {
	f.T.Helper()
	if err := f.C.Env.Members.Save(context.Background(), next, prev); err != nil {
		f.T.Fatal(err)
	}
	f.C.Cluster = next
}

// Change applies a membership change to the stored cluster.
func (f *Fixture) Change(fn func(kv.Cluster) (kv.Cluster, error)) kv.Cluster {
	f.T.Helper()
	c := f.Cluster()
	next, err := fn(c)
	if err != nil {
		f.T.Fatal(err)
	}
	f.Save(next, c.Epoch)
	return next
}

// Primaries returns key's primaries under the stored cluster's owners.
func (f *Fixture) Primaries(key string) []string {
	f.T.Helper()
	return primariesOf(f.T, f.Cluster(), f.Cluster().Owners, key)
}

func primariesOf(t *testing.T, c kv.Cluster, owners []string, key string) []string {
	t.Helper()
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: n.Weight})
	}
	r, err := ring.New(c.Params.Q, rn, owners)
	if err != nil {
		t.Fatal(err)
	}
	return r.Primaries(key, c.Params.N)
}

// NewNode is a node in the cluster's bucket, zone z.
func (f *Fixture) NewNode(id, zone string) kv.Node {
	return kv.Node{ID: id, Zone: zone, Weight: 1, Location: kv.Location{Endpoint: f.C.Env.Endpoint, Bucket: f.C.Env.Bucket, Prefix: id + "/"}}
}

func val(s string) coordinator.Value {
	return coordinator.Value{Data: []byte(s), ContentType: "text/plain"}
}

// PutAll writes key_i = value_i for every key, W=2.
func (f *Fixture) PutAll(keys, values []string) {
	f.T.Helper()
	for i, k := range keys {
		if _, err := f.Co.Put(context.Background(), k, "", val(values[i]), coordinator.Options{}); err != nil {
			f.T.Fatalf("put %s: %v", k, err)
		}
	}
	f.Co.Wait()
}

// Keys returns n keys with the given prefix, and their values.
func Keys(prefix string, n int) (keys, values []string) {
	for i := 0; i < n; i++ {
		keys = append(keys, fmt.Sprintf("%s-%d", prefix, i))
		values = append(values, fmt.Sprintf("value-%d", i))
	}
	return keys, values
}

// Hinted lists the hinted replicas a node holds, not counting the stubs
// delivered ones left (kv.Minting: no state, only a minting identity).
func (f *Fixture) Hinted(id string) []kv.Listed {
	f.T.Helper()
	var out []kv.Listed
	after := ""
	for {
		items, more, err := f.C.Env.Store.List(context.Background(), f.C.Node(id).Location, kv.HintPrefix, after, 1000)
		if err != nil {
			f.T.Fatal(err)
		}
		for _, it := range items {
			if !f.stub(id, it.Name) {
				out = append(out, it)
			}
		}
		if !more || len(items) == 0 {
			return out
		}
		after = items[len(items)-1].Name
	}
}

// stub reports whether node id's object name is a delivered hinted
// replica's stub.
func (f *Fixture) stub(id, name string) bool {
	b, err := f.C.Env.Store.Get(context.Background(), f.C.Node(id).Location, name)
	return err == nil && kv.IsStub(b.Data)
}

// TakeHints receives and acknowledges every queued hint, without delivering
// them (as if the messages were lost), and returns them. Messages in flight
// are waited for: on moto a receive whose answer the server cut (the SDK
// then retries it, and the retry finds nothing) leaves its messages
// invisible until their visibility timeout, and they are still queued
// hints (up to 100 waits of 100 ms, past the scenarios' 1 s visibility).
func (f *Fixture) TakeHints() []kv.Hint {
	f.T.Helper()
	var out []kv.Hint
	for empty, waits := 0, 0; empty < 2; {
		got, err := f.C.Env.Hints.Receive(context.Background(), 10, f.C.Env.HintWait)
		if err != nil {
			f.T.Fatal(err)
		}
		if len(got) == 0 {
			if st, err := f.C.Env.Hints.Stats(context.Background()); err == nil && st.InFlight > 0 && waits < 100 {
				waits++
				time.Sleep(100 * time.Millisecond)
				continue
			}
			empty++
			continue
		}
		for _, m := range got {
			if m.Err == nil {
				out = append(out, m.Hint)
			}
			if err := f.C.Env.Hints.Ack(context.Background(), m.Receipt); err != nil {
				f.T.Fatal(err)
			}
		}
	}
	return out
}

// MustRun runs the repairer and fails the test on an error or error count.
func (f *Fixture) MustRun(r *repair.Repairer) repair.Report {
	f.T.Helper()
	rep, err := r.Run(context.Background())
	if err != nil {
		f.T.Fatal(err)
	}
	if rep.Errors > 0 {
		f.T.Fatalf("repair errors: %d %v", rep.Errors, rep.ErrorSamples)
	}
	return rep
}

// AssertNoWork runs the repairer again and checks it only listed: no GET,
// PUT or DELETE at all (counted below the repairer, by the faults wrapper).
func (f *Fixture) AssertNoWork(r *repair.Repairer) repair.Report {
	f.T.Helper()
	f.C.Faults.ResetCounts()
	rep := f.MustRun(r)
	got := f.C.Faults.Counts()
	if got.Get != 0 || got.Put != 0 || got.Delete != 0 || got.List == 0 {
		f.T.Fatalf("a run after convergence made %+v requests, want LISTs only (report %+v)", got, rep)
	}
	if rep.AntiEntropy.Differing != 0 || rep.AntiEntropy.Writes != 0 || rep.Handoff.Found != 0 {
		f.T.Fatalf("a run after convergence found work: %+v", rep)
	}
	return rep
}

// AssertAll checks every key converged on its current primaries to its value.
func (f *Fixture) AssertAll(keys, values []string) {
	f.T.Helper()
	c := f.Cluster()
	for i, k := range keys {
		coordtest.AssertConverged(f.T, f.C, k, primariesOf(f.T, c, c.Owners, k), []string{values[i]})
	}
}

// AmnesiaConverges: a node loses all its data (and gets a new incarnation);
// one repair run, with no reads, restores every replica it held, at one GET
// and one PUT per replica; a second run only lists.
func AmnesiaConverges(t *testing.T, env coordtest.Env) {
	f := NewFixture(t, env, 5)
	keys, values := Keys("amnesia", 40)
	f.PutAll(keys, values)
	f.C.Wipe(context.Background(), "n1")
	lost := 0
	for _, k := range keys {
		if slices.Contains(f.Primaries(k), "n1") {
			lost++
		}
	}
	if lost == 0 {
		t.Fatal("setup: n1 held no replica")
	}
	r := f.Repairer()
	f.C.Faults.ResetCounts()
	rep := f.MustRun(r)
	ae := rep.AntiEntropy
	if ae.Differing != lost || ae.Repaired != lost || ae.Writes != lost || ae.Partitions != 64 || ae.Keys != len(keys) {
		t.Fatalf("repair of %d lost replicas: %+v", lost, ae)
	}
	if got := f.C.Faults.Counts(); got.Get != int64(lost) || got.Put != int64(lost) || got.Delete != 0 {
		t.Fatalf("repair of %d lost replicas cost %+v, want one GET and one PUT each", lost, got)
	}
	f.AssertAll(keys, values)
	// The restored replicas were minted by the new incarnation.
	for _, k := range keys {
		if slices.Contains(f.Primaries(k), "n1") {
			b, err := env.Store.Get(context.Background(), f.C.Node("n1").Location, kv.DataName(k))
			if err != nil {
				t.Fatal(err)
			}
			if _, inc, err := kv.ParseActor(b.Actor); err != nil || inc != 2 {
				t.Fatalf("restored replica of %s has actor %q, want incarnation 2", k, b.Actor)
			}
			break
		}
	}
	f.AssertNoWork(r)
}

// MissedWritesConverge: a node is down while keys are written (W=2) and the
// hints are lost; repair with no reads brings every replica to identical
// bytes, delivers the hinted replicas left on the fallbacks, and a second run
// only lists.
func MissedWritesConverge(t *testing.T, env coordtest.Env) {
	f := NewFixture(t, env, 5)
	keys, values := Keys("missed", 30)
	f.PutAll(keys, values)
	f.C.Down("n2", true)
	for i := range values {
		values[i] += "-v2"
	}
	f.PutAll(keys, values) // blind writes: siblings of the first values
	f.C.Down("n2", false)
	lost := f.TakeHints()
	missed := 0
	for _, k := range keys {
		if slices.Contains(f.Primaries(k), "n2") {
			missed++
		}
	}
	if missed == 0 || len(lost) != missed {
		t.Fatalf("setup: %d hints dropped for %d missed writes", len(lost), missed)
	}
	r := f.Repairer()
	rep := f.MustRun(r)
	if rep.AntiEntropy.Repaired != missed || rep.Handoff.Found != missed || rep.Handoff.Delivered != missed {
		t.Fatalf("repair of %d missed writes: %+v", missed, rep)
	}
	c := f.Cluster()
	for i, k := range keys {
		coordtest.AssertConverged(t, f.C, k, primariesOf(t, c, c.Owners, k), []string{fmt.Sprintf("value-%d", i), values[i]})
	}
	for _, n := range c.Nodes {
		if h := f.Hinted(n.ID); len(h) != 0 {
			t.Fatalf("%s still holds hinted replicas %v", n.ID, h)
		}
	}
	f.AssertNoWork(r)
}

// BudgetResumes: with a budget far below what a repair needs, each run stops
// within its budget and the next resumes where it stopped, until everything
// converged.
func BudgetResumes(t *testing.T, env coordtest.Env) {
	f := NewFixture(t, env, 5)
	keys, values := Keys("budget", 30)
	f.PutAll(keys, values)
	f.C.Wipe(context.Background(), "n3")
	const budget = 20
	r := f.Repairer(func(c *repair.Config) { c.MaxRequests = budget })
	stopped, next := 0, -1
	for run := 0; ; run++ {
		if run > 100 {
			t.Fatal("no convergence after 100 runs")
		}
		f.C.Faults.ResetCounts()
		rep := f.MustRun(r)
		if got := f.C.Faults.Counts().Total(); got > budget+2 || rep.Requests.Total() > budget+2 {
			t.Fatalf("run %d made %d requests (report %d) with a budget of %d", run, got, rep.Requests.Total(), budget)
		}
		if next >= 0 && rep.AntiEntropy.Start != next {
			t.Fatalf("run %d started at partition %d, the last one stopped at %d", run, rep.AntiEntropy.Start, next)
		}
		next = rep.AntiEntropy.Next
		t.Logf("run %d: partitions %d..%d, %+v, requests %+v, stopped %q", run, rep.AntiEntropy.Start, rep.AntiEntropy.Next, rep.AntiEntropy.Exchange, rep.Requests, rep.Stopped)
		if rep.Stopped == "" {
			break
		}
		if rep.Stopped != repair.StopBudget {
			t.Fatalf("run %d stopped: %q", run, rep.Stopped)
		}
		stopped++
	}
	if stopped < 2 {
		t.Fatalf("only %d runs hit the budget", stopped)
	}
	// The last run may have finished mid-ring; one more full pass converges.
	f.Repairer().Run(context.Background())
	f.AssertAll(keys, values)
}

// PlanTransferCommit: adding a node only plans the change; a repair run
// copies every moving partition to its new primaries (which then hold the
// same bytes as the current ones) and, without auto-commit, leaves the
// ownership as it is; Commit switches it, and the old copies are removed.
func PlanTransferCommit(t *testing.T, env coordtest.Env) {
	f := NewFixture(t, env, 4)
	keys, values := Keys("move", 40)
	f.PutAll(keys, values)
	before := f.Cluster()
	planned := f.Change(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n5", "z2")) })
	if planned.Next == nil || !slices.Equal(planned.Owners, before.Owners) {
		t.Fatal("adding a node switched ownership at once")
	}
	r := f.Repairer(func(c *repair.Config) { c.AutoCommit = false })
	plan, err := r.Plan(context.Background())
	if err != nil || !plan.Pending || len(plan.Moves) == 0 || plan.Done != 0 {
		t.Fatalf("plan before transfers: %+v %v", plan, err)
	}
	rep := f.MustRun(r)
	if tr := rep.Transfers; !tr.Pending || tr.Committed || tr.Done != tr.Moves || tr.Moves != len(plan.Moves) {
		t.Fatalf("transfers: %+v", tr)
	}
	// Before the commit, every key's new primaries hold what its current ones do.
	moved := 0
	for i, k := range keys {
		now := primariesOf(t, planned, planned.Owners, k)
		after := primariesOf(t, planned, planned.Next, k)
		if !slices.Equal(now, after) {
			moved++
		}
		coordtest.AssertConverged(t, f.C, k, append(slices.Clone(now), after...), []string{values[i]})
	}
	if moved == 0 {
		t.Fatal("setup: no key moves")
	}
	if c := f.Cluster(); c.Next == nil || !slices.Equal(c.Owners, before.Owners) {
		t.Fatal("transfers without auto-commit switched ownership")
	}
	if plan, _ = r.Plan(context.Background()); plan.Done != len(plan.Moves) {
		t.Fatalf("plan after transfers: %d of %d done", plan.Done, len(plan.Moves))
	}
	crep, err := r.Commit(context.Background())
	if err != nil || !crep.Transfers.Committed || crep.Transfers.Cleaned == 0 {
		t.Fatalf("commit: %+v %v", crep.Transfers, err)
	}
	after := f.Cluster()
	if after.Next != nil || !slices.Equal(after.Owners, planned.Next) || after.Epoch <= planned.Epoch {
		t.Fatalf("after the commit: next %v, epoch %d", after.Next != nil, after.Epoch)
	}
	if _, err := r.Commit(context.Background()); !errors.Is(err, membership.ErrNoPlan) {
		t.Fatalf("commit without a plan: %v", err)
	}
	f.C.Cluster = after
	f.AssertAll(keys, values)
	// Nodes hold no copy of a partition they do not serve.
	for _, k := range keys {
		prim := primariesOf(t, after, after.Owners, k)
		for _, n := range after.Nodes {
			if _, _, ok := f.C.Replica(n.ID, k); ok && !slices.Contains(prim, n.ID) {
				t.Fatalf("%s still holds a replica of %s, served by %v", n.ID, k, prim)
			}
		}
	}
	f.AssertNoWork(r)
}

// RingChangeWhileWriting: a node is added, then another removed, while a
// writer keeps doing read-modify-write puts; every acknowledged write is
// readable afterwards, and the replicas converge.
func RingChangeWhileWriting(t *testing.T, env coordtest.Env) {
	ctx := context.Background()
	f := NewFixture(t, env, 5)
	keys, _ := Keys("live", 12)
	maxOps := 3000 // a bound; the writer runs until the ring changes are done
	if testing.Short() || env.Endpoint != "" {
		maxOps = 800
	}
	var (
		mu       sync.Mutex
		acked    = map[string]int{}
		failures int
		done     atomic.Int64
	)
	stop := make(chan struct{})
	progress := make(chan int, maxOps)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		co := f.C.Coordinator() // its own "Lambda container"
		defer co.Wait()
		for i := 0; i < maxOps; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := keys[i%len(keys)]
			g, err := co.Get(ctx, k, coordinator.Options{})
			if err == nil {
				_, err = co.Put(ctx, k, g.Context, val(strconv.Itoa(i)), coordinator.Options{})
			}
			mu.Lock()
			if err == nil {
				acked[k] = i
			} else {
				failures++
			}
			mu.Unlock()
			done.Add(1)
			progress <- i
		}
	}()
	// waitFor waits until the writer made n more operations (or ended).
	waitFor := func(n int) {
		for i := 0; i < n; i++ {
			select {
			case <-progress:
			case <-finished:
				return
			}
		}
	}
	ops := 50
	r := f.Repairer()
	during := int64(0) // writes made while a transfer ran
	transfer := func(what string) {
		before := done.Load()
		rep := f.MustRun(r)
		during += done.Load() - before
		if !rep.Transfers.Committed || rep.Transfers.Done != rep.Transfers.Moves {
			t.Fatalf("%s was not committed: %+v", what, rep.Transfers)
		}
	}
	waitFor(ops / 5)
	f.Change(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNode(c, f.NewNode("n6", "z3")) })
	waitFor(ops / 10)
	transfer("adding n6")
	waitFor(ops / 5)
	f.Change(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNode(c, "n2") })
	waitFor(ops / 10)
	transfer("removing n2")
	waitFor(ops / 10)
	close(stop)
	<-finished
	f.Co.Wait()
	c := f.Cluster()
	if _, err := c.Node("n2"); err == nil || c.Next != nil {
		t.Fatal("n2 is still a member, or a change is still pending")
	}
	f.C.Cluster = c
	f.MustRun(r)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d writes (%d during the transfers), %d acknowledged keys, %d failed puts", done.Load(), during, len(acked), failures)
	if len(acked) != len(keys) || done.Load() < int64(ops/2) {
		t.Fatalf("the writer acknowledged %d keys in %d operations", len(acked), done.Load())
	}
	reader := f.C.Coordinator()
	for _, k := range keys {
		g, err := reader.Get(ctx, k, coordinator.Options{R: 3})
		if err != nil {
			t.Fatal(err)
		}
		vals := coordtest.Values(g)
		latest := -1
		for _, v := range vals {
			n, _ := strconv.Atoi(v)
			latest = max(latest, n)
		}
		// The acknowledged value, or one written after it (by a put that
		// failed after reaching a replica), is what the key holds.
		if latest < acked[k] || (failures == 0 && !slices.Equal(vals, []string{strconv.Itoa(acked[k])})) {
			t.Fatalf("%s holds %v; the last acknowledged write was %d (%d puts failed)", k, vals, acked[k], failures)
		}
		coordtest.AssertConverged(t, f.C, k, primariesOf(t, c, c.Owners, k), vals)
	}
	reader.Wait()
}

// Doomstone: a key deleted while one replica is down is not reaped by the
// others; re-created, it keeps its new value when the old replica (still
// holding the deleted value) and its hints come back. Deleted again, it is
// reaped only once every primary holds the tombstone, the grace period has
// passed and no hinted replica is left; after that, neither a late hint nor
// a repair brings it back, and it can be created anew.
func Doomstone(t *testing.T, env coordtest.Env) {
	ctx := context.Background()
	f := NewFixture(t, env, 5)
	co := f.Co
	key := "doom"
	prim := f.Primaries(key)
	gone := prim[2]
	r := f.Repairer()
	if _, err := co.Put(ctx, key, "", val("v1"), coordinator.Options{W: 3}); err != nil {
		t.Fatal(err)
	}
	co.Wait()

	// Delete with one replica down: two tombstones and a hinted one.
	f.C.Down(gone, true)
	mustDelete(t, co, key, 2)
	f.Advance(2 * time.Hour)
	rep, err := r.Reap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.AntiEntropy.Reaped != 0 {
		t.Fatalf("reaped with %s down: %+v", gone, rep.AntiEntropy)
	}
	for _, id := range prim[:2] {
		if o, _, ok := f.C.Replica(id, key); !ok || len(o.Live()) != 0 {
			t.Fatalf("%s: tombstone gone or live values %v", id, o.Live())
		}
	}
	// Re-create while the old replica is still down.
	if _, err := co.Put(ctx, key, "", val("v2"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if o, _, _ := f.C.Replica(gone, key); !slices.Equal(liveValues(o), []string{"v1"}) {
		t.Fatalf("setup: %s should still hold v1, holds %v", gone, liveValues(o))
	}
	// The old replica and its hints come back: the new value wins.
	f.C.Down(gone, false)
	f.MustRun(r)
	assertValues(t, co, key, []string{"v2"})
	coordtest.AssertConverged(t, f.C, key, prim, []string{"v2"})

	// Deleted again with one replica down; the replica comes back but its
	// hinted replica is not delivered: repair copies the tombstone, and the
	// hinted replica blocks the reap.
	f.C.Down(gone, true)
	mustDelete(t, co, key, 2)
	f.C.Down(gone, false)
	hints := f.TakeHints()
	if len(hints) != 1 || hints[0].Intended != gone {
		t.Fatalf("hints of the delete: %+v", hints)
	}
	f.Advance(2 * time.Hour)
	rep, err = r.Reap(ctx)
	if err != nil || rep.AntiEntropy.Repaired != 1 || rep.AntiEntropy.ReapCandidates != 1 || rep.AntiEntropy.Reaped != 0 {
		t.Fatalf("reap with a hinted replica left: %+v %v", rep.AntiEntropy, err)
	}
	coordtest.AssertConverged(t, f.C, key, prim, nil)
	if _, ok := f.C.Hinted(hints[0].Fallback, gone, key); !ok {
		t.Fatal("setup: the hinted replica is gone")
	}
	if err := co.DeliverHint(ctx, hints[0]); err != nil {
		t.Fatal(err)
	}
	// Within the grace period (the clock back to now), nothing is reaped.
	f.Advance(-4 * time.Hour)
	if rep, _ = r.Reap(ctx); rep.AntiEntropy.Reaped != 0 || rep.AntiEntropy.ReapCandidates != 1 {
		t.Fatalf("reaped within the grace period: %+v", rep.AntiEntropy)
	}
	f.Advance(4 * time.Hour)
	if rep, _ = r.Reap(ctx); rep.AntiEntropy.Reaped != 1 {
		t.Fatalf("not reaped: %+v", rep.AntiEntropy)
	}
	for _, id := range prim {
		if _, _, ok := f.C.Replica(id, key); ok {
			t.Fatalf("%s still holds the reaped key", id)
		}
	}
	// A late hint, and a repair, change nothing.
	if err := co.DeliverHint(ctx, hints[0]); err != nil {
		t.Fatal(err)
	}
	f.MustRun(r)
	for _, id := range prim {
		if _, _, ok := f.C.Replica(id, key); ok {
			t.Fatalf("the reaped key came back on %s", id)
		}
	}
	assertValues(t, co, key, nil)
	// It can be created anew.
	if _, err := co.Put(ctx, key, "", val("v3"), coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
	assertValues(t, co, key, []string{"v3"})
	f.MustRun(r)
	coordtest.AssertConverged(t, f.C, key, prim, []string{"v3"})
}

func mustDelete(t *testing.T, co *coordinator.Coordinator, key string, w int) {
	t.Helper()
	g, err := co.Get(context.Background(), key, coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.Delete(context.Background(), key, g.Context, coordinator.Options{W: w}); err != nil {
		t.Fatal(err)
	}
	co.Wait()
}

func assertValues(t *testing.T, co *coordinator.Coordinator, key string, want []string) {
	t.Helper()
	g, err := co.Get(context.Background(), key, coordinator.Options{R: 3})
	if err != nil {
		t.Fatal(err)
	}
	co.Wait()
	if got := coordtest.Values(g); !slices.Equal(got, want) {
		t.Fatalf("%s holds %v, want %v", key, got, want)
	}
}

func liveValues(o vclock.Object) []string {
	var out []string
	for _, s := range o.Live() {
		out = append(out, string(s.Value))
	}
	sort.Strings(out)
	return out
}
