package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/crdt"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// TestOneRoundPut: a put whose context saw every primary sends its N
// conditional PUTs at once: each PUT waits until all N have arrived, so a
// put in two phases (commit, then replicate) never sends the others and
// hangs this test until go test's -timeout (a failure, with no wall-clock
// limit in the test). It reads nothing, leaves the same object on every
// primary, and a put with the context it returned goes the same way. With
// one round off (the control) no put goes in one round.
func TestOneRoundPut(t *testing.T) {
	for i := range 12 {
		key := fmt.Sprintf("one-%d", i)
		e := newEnv(t, 3+i%3)
		on := i%4 != 3
		co := e.coord(func(c *Config) { c.OneRoundPut = on })
		mustPut(t, co, key, "", "v0", Options{})
		co.Wait()
		token := mustGet(t, co, key, Options{R: QuorumAll}).Context
		co.Wait()
		for round, v := range []string{"v1", "v2"} {
			var mu sync.Mutex
			inFlight, most, gets := 0, 0, 0
			all := make(chan struct{})
			e.store.SetHook(func(_ context.Context, op kvmem.Op, _ kv.Location, name string) error {
				if name != kv.DataName(key) {
					return nil
				}
				mu.Lock()
				if op == kvmem.OpGet {
					gets++
				}
				if op != kvmem.OpPut {
					mu.Unlock()
					return nil
				}
				inFlight++
				most = max(most, inFlight)
				if most == 3 && on {
					close(all)
				}
				mu.Unlock()
				if on {
					<-all
				}
				mu.Lock()
				inFlight--
				mu.Unlock()
				return nil
			})
			before := co.Stats().OneRoundPuts.Load()
			p := mustPut(t, co, key, token, v, Options{})
			co.Wait()
			e.store.SetHook(nil)
			rounds := co.Stats().OneRoundPuts.Load() - before
			switch {
			case on && (gets != 0 || most != 3 || rounds != 1):
				t.Fatalf("%s put %d: %d GETs, %d PUTs in flight at once, %d one-round puts; want 0, 3, 1", key, round, gets, most, rounds)
			case !on && rounds != 0:
				t.Fatalf("%s put %d: %d one-round puts with one round off", key, round, rounds)
			}
			var first []byte
			for _, id := range e.primaries(key) {
				if vals := e.values(id, key); fmt.Sprint(vals) != "["+v+"]" {
					t.Fatalf("%s: primary %s holds %v, want [%s]", key, id, vals, v)
				}
				b, err := e.store.Get(context.Background(), e.loc(id), kv.DataName(key))
				if err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = b.Data
				} else if string(b.Data) != string(first) {
					t.Fatalf("%s: primary %s holds other bytes", key, id)
				}
			}
			token = p.Context
		}
	}
}

// TestPruneMinted: past 50 clock entries, a one-round put's object drops the
// oldest coordinator actors older than 20 s, never a replica's actor, an
// actor with a version, or a young entry.
func TestPruneMinted(t *testing.T) {
	co := newEnv(t, 3).coord()
	const now = int64(10_000_000)
	var o vclock.Object
	o.Key = "k"
	for i := range 60 {
		d := vclock.Dot{Actor: vclock.Actor(fmt.Sprintf("%s%03d", CoordinatorActorPrefix, i)), Counter: 1}
		age := int64(60-i) * 1000 // ~000 is the oldest (60 s), ~059 1 s old
		o.Clock = vclock.Merge(o.Clock, vclock.DotClock(d, now-age))
	}
	for _, a := range []vclock.Actor{"n1.1.x", "n2.1.y"} { // replica actors, older than all
		o.Clock = vclock.Merge(o.Clock, vclock.DotClock(vclock.Dot{Actor: a, Counter: 3}, 0))
	}
	o.Siblings = []vclock.Sibling{{Dot: vclock.Dot{Actor: CoordinatorActorPrefix + "000", Counter: 1}, Time: now, Value: []byte("v")}}
	p := co.pruneMinted(o, now)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	has := func(a vclock.Actor) bool { return p.Clock.Top(a) > 0 }
	if len(p.Clock) != 50 || !has("n1.1.x") || !has("n2.1.y") || !has(CoordinatorActorPrefix+"000") ||
		has(CoordinatorActorPrefix+"001") || !has(CoordinatorActorPrefix+"059") {
		t.Fatalf("pruned clock %s: want 50 entries, the replicas', ~000 (it has a version) and the newest, not ~001", p.Clock)
	}
	// Entries younger than 20 s stay (41 s earlier, the oldest was 19 s
	// old), up to 100 entries: then the oldest go whatever their age.
	if young := co.pruneMinted(o, now-41_000); len(young.Clock) != 62 {
		t.Fatalf("young entries pruned: %d of 62 left", len(young.Clock))
	}
	for i := 60; i < 150; i++ {
		d := vclock.Dot{Actor: vclock.Actor(fmt.Sprintf("%s%03d", CoordinatorActorPrefix, i)), Counter: 1}
		o.Clock = vclock.Merge(o.Clock, vclock.DotClock(d, now))
	}
	if many := co.pruneMinted(o, now); len(many.Clock) != 100 || many.Clock.Top("n1.1.x") == 0 || many.Clock.Top(CoordinatorActorPrefix+"149") == 0 {
		t.Fatalf("152 entries, 90 of them 0 s old: %d left (want 100, the replicas' and the newest kept)", len(many.Clock))
	}
}

// TestOneRoundRefusesTypedContentType: a plain put with a context, which goes
// in one round, is refused the data types' content type as a put in two
// phases is (400), and writes nothing.
func TestOneRoundRefusesTypedContentType(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	mustPut(t, co, "k", "", "v0", Options{})
	token := mustGet(t, co, "k", Options{R: QuorumAll}).Context
	_, err := co.Put(context.Background(), "k", token, Value{Data: []byte("{}"), ContentType: crdt.ContentType}, Options{})
	if !errors.Is(err, kv.ErrBadRequest) {
		t.Fatalf("put of %s with a context = %v, want ErrBadRequest", crdt.ContentType, err)
	}
	co.Wait()
	for _, id := range e.primaries("k") {
		if vals := e.values(id, "k"); fmt.Sprint(vals) != "[v0]" {
			t.Fatalf("%s holds %v after the refused put", id, vals)
		}
	}
}

// TestOneRoundClockEntryTime: a one-round put records its event at its own
// time, as a commit does, also when the process's earlier dot of the key
// is in the context (so pruning judges an actor by its newest event).
func TestOneRoundClockEntryTime(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	mustPut(t, co, "k", "", "v0", Options{})
	token := mustGet(t, co, "k", Options{R: QuorumAll}).Context
	token = mustPut(t, co, "k", token, "v1", Options{}).Context
	e.clock.Advance(time.Minute)
	mustPut(t, co, "k", token, "v2", Options{})
	co.Wait()
	o, ok := e.object(e.primaries("k")[0], kv.DataName("k"), "k")
	if !ok || len(o.Siblings) != 1 {
		t.Fatalf("object %v", o)
	}
	d := o.Siblings[0].Dot
	for _, en := range o.Clock {
		if en.Actor == d.Actor && (en.Counter != d.Counter || en.Time != e.clock.Now().UnixMilli()) {
			t.Fatalf("entry %s:%d at %d, want %d at %d (the put's time)", en.Actor, en.Counter, en.Time, d.Counter, e.clock.Now().UnixMilli())
		}
	}
}
