package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

func TestPreferenceList(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord(func(c *Config) { c.SuspectAfter = 1; c.SuspectFor = time.Minute })
	ctx := context.Background()
	key := "cart/alice"
	prim := e.primaries(key)

	reps, part, err := co.PreferenceList(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.ring().PreferenceList(key, 3, nil); !reflect.DeepEqual(reps, want) {
		t.Fatalf("all up: %+v, want %+v", reps, want)
	}
	if part != e.ring().Partition(key) {
		t.Fatalf("partition %d, want %d", part, e.ring().Partition(key))
	}

	// A node marked down in the membership is replaced by the first up node
	// of the walk after the primaries.
	e.setState(prim[0], kv.StateDown)
	reps, _, err = co.PreferenceList(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	walk := e.walk(key)
	if reps[0].Primary || reps[0].StandsInFor != prim[0] || reps[0].Node != walk[3] {
		t.Fatalf("down primary: %+v (walk %v)", reps, walk)
	}

	// So is a node this coordinator suspects (here after one failed read).
	e.down(prim[1], true)
	mustGet(t, co, key, Options{R: 1})
	reps, _, err = co.PreferenceList(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if reps[1].Primary || reps[1].StandsInFor != prim[1] || !reps[2].Primary || reps[2].Node != prim[2] {
		t.Fatalf("suspect primary: %+v", reps)
	}

	if _, _, err := co.PreferenceList(ctx, ""); !errors.Is(err, kv.ErrBadKey) {
		t.Fatalf("empty key: %v, want ErrBadKey", err)
	}
	d := e.deps()
	d.Members = kvmem.NewMembership() // nothing saved
	empty, err := New(e.config(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := empty.PreferenceList(ctx, key); err == nil {
		t.Fatal("no cluster: want an error")
	}
	if _, err := empty.HintedReplicas(ctx, 10); err == nil {
		t.Fatal("HintedReplicas with no cluster: want an error")
	}
}

func TestHintedReplicas(t *testing.T) {
	e := newEnv(t, 5)
	co := e.coord()
	ctx := context.Background()
	down := "n2"
	e.setState(down, kv.StateDown)
	hinted := 0
	for i := 0; i < 30; i++ {
		key := "k" + strconv.Itoa(i)
		for _, p := range e.primaries(key) {
			if p == down {
				hinted++
			}
		}
		mustPut(t, co, key, "", "v", Options{})
	}
	if hinted < 5 {
		t.Fatalf("only %d of the keys have %s as a primary", hinted, down)
	}
	held, err := co.HintedReplicas(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, h := range held {
		if want := "n" + strconv.Itoa(i+1); h.Node != want || h.Error != "" || h.More {
			t.Fatalf("node %d: %+v, want %s listed completely", i, h, want)
		}
		total += h.Held
		if h.Held != h.For[down] || len(h.For) > 1 {
			t.Fatalf("%s holds %d hinted replicas, %v by primary: want all for %s", h.Node, h.Held, h.For, down)
		}
	}
	if total != hinted {
		t.Fatalf("%d hinted replicas held, want %d (one per key with %s as a primary)", total, hinted, down)
	}

	// A limit of 1 reports that there are more; a node that is down has Error.
	e.down("n1", true)
	held, err = co.HintedReplicas(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	more := false
	for _, h := range held {
		switch {
		case h.Node == "n1":
			if h.Error == "" {
				t.Fatalf("a down node listed fine: %+v", h)
			}
		case h.Held > 1:
			t.Fatalf("%s: %d listed with a limit of 1", h.Node, h.Held)
		default:
			more = more || h.More
		}
	}
	if !more {
		t.Fatalf("no node reports more than 1 hinted replica: %+v", held)
	}
	// Once delivered they leave stubs (kv.Minting), which are not counted.
	e.down("n1", false)
	e.setState(down, kv.StateActive)
	if res, err := co.DrainHints(ctx, 0); err != nil || res.Delivered != hinted {
		t.Fatalf("drain = %+v, %v; want %d delivered", res, err, hinted)
	}
	if held, err = co.HintedReplicas(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	for _, h := range held {
		if h.Held != 0 || len(h.For) != 0 {
			t.Fatalf("after delivery %s holds %d hinted replicas (%v): stubs counted", h.Node, h.Held, h.For)
		}
	}
}

func TestLoggerFromContext(t *testing.T) {
	base := slog.New(&logRecorder{})
	if LoggerFrom(context.Background(), base) != base {
		t.Fatal("no logger in the context: want the fallback")
	}
	if LoggerFrom(WithLogger(context.Background(), nil), base) != base {
		t.Fatal("a nil logger in the context: want the fallback")
	}
	// The coordinator logs a request's lines with the request's logger.
	e := newEnv(t, 3)
	co := e.coord()
	rec := &logRecorder{}
	ctx := WithLogger(context.Background(), slog.New(rec))
	if err := co.DeliverHint(ctx, kv.Hint{Key: "k", Intended: "n1", Fallback: "gone"}); err != nil {
		t.Fatal(err)
	}
	const msg = "hint from a node no longer in the cluster"
	if !rec.has(msg) || e.logs.has(msg) {
		t.Fatalf("the line went to the coordinator's logger, not the request's: %v", rec.msgs)
	}
}
