package modeltest

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// The race mode (Config.Races): about one step in eight runs two to four
// puts to one key at once, through different coordinators, all with the
// same context (the newest one a client holds, or none: blind puts racing
// to create the key), while every replica request waits a seeded, random
// number of scheduler turns and microseconds, so that the replicas answer
// the racers in adversarial orders (one racer wins the coordinating
// replica, another the next one, ...). The model: each successful racer
// removes what the shared context covers and adds its own version, so all
// of them survive as siblings. After the step the dot ledger checks that no
// dot names two versions: racers with a context go in one round, each with
// a dot its coordinator minted, and blind racers commit at a coordinating
// replica, whose conditional write decides which of them gets the dot they
// all computed from the same state.

// race runs one racing step.
func (h *history) race() error {
	mem, ok := h.cl.Env.Store.(*kvmem.Store)
	if !ok {
		return nil // the adversarial ordering needs the in-memory store's hook
	}
	ctx := context.Background()
	key := h.keys[h.rnd.Intn(len(h.keys))]
	c := h.rnd.Intn(len(h.clients))
	x := h.pick(c, key)
	k := 2 + h.rnd.Intn(3)
	r := rand.New(rand.NewSource(h.rnd.Int63()))
	var mu sync.Mutex
	mem.SetHook(func(context.Context, kvmem.Op, kv.Location, string) error {
		mu.Lock()
		turns, us := r.Intn(64), r.Intn(4)*r.Intn(50)
		mu.Unlock()
		for range turns {
			runtime.Gosched()
		}
		if us > 0 {
			time.Sleep(time.Duration(us) * time.Microsecond)
		}
		return nil
	})
	defer mem.SetHook(nil)
	retries := func() int64 {
		var n int64
		for _, co := range h.coords {
			n += co.Stats().CASRetries.Load()
		}
		return n
	}
	before := retries()
	vals := make([]string, k)
	res := make([]coordinator.PutResult, k)
	errs := make([]error, k)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range k {
		vals[i] = h.value("r")
		co := h.coords[(c+i)%len(h.coords)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i], errs[i] = co.Put(ctx, key, x.token, coordinator.Value{Data: []byte(vals[i]), ContentType: "text/plain"}, coordinator.Options{})
		}()
	}
	close(start)
	wg.Wait()
	for _, co := range h.coords {
		co.Wait()
	}
	h.tot.Races++
	h.tot.RacePuts += k
	if x.token != "" {
		h.tot.OneRoundRaces++
	}
	h.tot.RaceRetries += int(retries() - before)
	for i := range k {
		h.ever[key][vals[i]] = true
		h.trace("race: client %d put %s=%s with %v %s -> %v%s", c, key, vals[i], x.covers, h.clockOf(key, x.token), errs[i], h.dump(key))
		if errs[i] != nil {
			return fmt.Errorf("racing put %d of %d on %s: %w%s", i+1, k, key, errs[i], h.dump(key))
		}
		h.apply(key, x.covers, vals[i])
		h.keep((c+i)%len(h.clients), key, held{token: res[i].Context, covers: copySet(x.covers, vals[i])})
	}
	g, err := h.coords[c%len(h.coords)].Get(ctx, key, coordinator.Options{R: coordinator.QuorumAll})
	if err != nil {
		return fmt.Errorf("get %s after the race: %w", key, err)
	}
	if err := h.checkRead(key, liveOf(g)); err != nil {
		return fmt.Errorf("after %d racing puts on %s: %w%s", k, key, err, h.dump(key))
	}
	return nil
}
