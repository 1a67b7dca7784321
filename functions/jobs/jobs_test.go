package jobs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/faults"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
)

type fixture struct {
	co      *coordinator.Coordinator
	store   *kvmem.Store
	members *kvmem.Membership
	faults  *faults.Store
	hints   *kvmem.HintQueue
	cluster kv.Cluster
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	store := kvmem.NewStore()
	f := fixture{store: store, members: kvmem.NewMembership(), hints: kvmem.NewHintQueue(time.Minute, 5)}
	f.faults = faults.New(store, func() float64 { return 0.5 }, func(context.Context, time.Duration) error { return nil })
	var nodes []kv.Node
	for i, z := range []string{"a", "b", "c", "a", "b"} {
		id := "n" + string(rune('1'+i))
		nodes = append(nodes, kv.Node{ID: id, Zone: z, Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 64
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.members.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	f.cluster = c
	cfg := coordinator.DefaultConfig()
	cfg.ClusterTTL = 0
	cfg.SuspectFor = 0
	var n atomic.Uint64
	f.co, err = coordinator.New(cfg, coordinator.Deps{Store: f.faults, Hints: f.hints, Members: f.members, Now: time.Now, Rand: func() uint64 { return n.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sqsEvent loads aws-lambda-go's sample SQS event and replaces the bodies.
func sqsEvent(t *testing.T, bodies ...string) events.SQSEvent {
	t.Helper()
	b, err := os.ReadFile("testdata/sqs-event.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	tmpl := ev.Records[0]
	ev.Records = nil
	for i, body := range bodies {
		r := tmpl
		r.MessageId = "m" + string(rune('0'+i))
		r.Body = body
		ev.Records = append(ev.Records, r)
	}
	return ev
}

func TestHandoffReportsPartialFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key := "k"
	var down string
	for _, n := range f.cluster.Nodes {
		down = n.ID
		break
	}
	_ = f.faults.Set(kv.Location{Bucket: "b", Prefix: down + "/"}, faults.Mode{Kind: "down"})
	if _, err := f.co.Put(ctx, key, "", coordinator.Value{Data: []byte("v")}, coordinator.Options{}); err != nil {
		t.Fatal(err)
	}
	f.co.Wait()
	got, err := f.hints.Receive(ctx, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, m := range got {
		b, _ := json.Marshal(m.Hint)
		bodies = append(bodies, string(b))
	}
	bodies = append(bodies, "{not json")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// While the node is down every hint fails; the poison message always does.
	resp, err := Handoff(ctx, f.co, log, sqsEvent(t, bodies...))
	if err != nil {
		t.Fatal(err)
	}
	wantFailed := len(bodies)
	if len(got) == 0 { // the key's primaries did not include the downed node
		wantFailed = 1
	}
	if len(resp.BatchItemFailures) != wantFailed {
		t.Fatalf("failures %d, want %d", len(resp.BatchItemFailures), wantFailed)
	}
	_ = f.faults.Set(kv.Location{Bucket: "b", Prefix: down + "/"}, faults.Mode{})
	resp, _ = Handoff(ctx, f.co, log, sqsEvent(t, bodies...))
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m"+string(rune('0'+len(bodies)-1)) {
		t.Fatalf("after recovery only the poison message should fail: %+v", resp.BatchItemFailures)
	}
	if n := f.co.Stats().HintsDelivered.Load(); int(n) != len(got) {
		t.Fatalf("delivered %d, want %d", n, len(got))
	}
}

func TestHealthHysteresis(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	loc := kv.Location{Bucket: "b", Prefix: "n2/"}
	_ = f.faults.Set(loc, faults.Mode{Kind: "down"})
	res, err := Health(ctx, f.members, f.faults, time.Second, 0)
	if err != nil || len(res.Down) != 1 || res.Down[0] != "n2" || res.Checked != 5 {
		t.Fatalf("health: %+v %v", res, err)
	}
	c, _ := f.members.Load(ctx)
	if n, _ := c.Node("n2"); n.State != kv.StateDown || c.Epoch != f.cluster.Epoch+1 {
		t.Fatalf("state not recorded: %+v epoch %d", n, c.Epoch)
	}
	// Still down: nothing changes, no new epoch.
	if res, _ := Health(ctx, f.members, f.faults, time.Second, 0); len(res.Down)+len(res.Revived) != 0 {
		t.Fatalf("no change expected: %+v", res)
	}
	// A node that answers only one of the two probes keeps its state (no flapping).
	i := 0
	alternating := faults.New(kvmem.NewStore(), func() float64 { i++; return float64(i%2) * 0.9 }, nil)
	_ = alternating.Set(loc, faults.Mode{Kind: "errors", Rate: 0.5})
	if res, _ := Health(ctx, f.members, alternating, time.Second, 0); len(res.Down)+len(res.Revived) != 0 {
		t.Fatalf("one failed probe of two changed state: %+v", res)
	}
	_ = f.faults.Set(loc, faults.Mode{})
	res, _ = Health(ctx, f.members, f.faults, time.Second, 0)
	if len(res.Revived) != 1 {
		t.Fatalf("revive: %+v", res)
	}
	c2, _ := f.members.Load(ctx)
	if n, _ := c2.Node("n2"); n.State != kv.StateActive {
		t.Fatalf("not revived: %+v", n)
	}
}
