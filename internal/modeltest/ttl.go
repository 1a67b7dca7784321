// The TTL mode (Config.TTL): about half the puts carry a time to live of up
// to a few seconds; the coordinators run on a manual clock that the history
// moves forward between operations (by small steps, to an expiry's exact
// millisecond or the one after it, and past the coordinator's ExpirySlack),
// and the reaper (with a short grace) and hint delivery run at random
// points. The model gives each version its expiry: a version is live until
// its expiry millisecond inclusive, and expiry removes it from reads and
// from the conditions (If-None-Match, If-Match) but from nothing else, so a
// context still covers it. A key the reaper removed must have had no live
// version in the model; the model then forgets its versions.

package modeltest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/internal/testclock"
)

// maxSkew bounds how far behind the first coordinator's clock the others'
// run in the TTL mode. It must stay below the reaper's grace (and the
// coordinators' ExpirySlack): the skew the design tolerates.
const maxSkew = 4 * time.Second

// reapGrace is the reaper's grace in the TTL mode: nothing is in flight
// between operations (every coordinator's background work is waited for),
// so a short grace is safe and lets keys be reaped within a history.
const reapGrace = 5 * time.Second

// ttlModel is the TTL mode's state: the manual clock and each version's
// expiry (Unix ms; absent: never).
type ttlModel struct {
	clock   *testclock.Clock
	expires map[string]map[string]int64 // key -> version -> expiry
	// skew is how far each coordinator's clock (by index in coords) runs
	// behind clock (the first's not at all); cur is the skew of the
	// coordinator serving the operation under way.
	skew []time.Duration
	cur  time.Duration
}

func newTTLModel() *ttlModel {
	return &ttlModel{clock: testclock.New(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)), expires: map[string]map[string]int64{}}
}

// skewClock sets the clock of the i-th coordinator History makes: in the
// TTL mode the first runs on the manual clock, the others up to maxSkew
// behind it.
func (h *history) skewClock(i int) {
	if h.ttl == nil {
		return
	}
	var d time.Duration
	if i > 0 {
		d = time.Duration(h.rnd.Int63n(int64(maxSkew/time.Millisecond)+1)) * time.Millisecond
	}
	h.ttl.skew = append(h.ttl.skew, d)
	clock := h.ttl.clock
	h.cl.Now = func() time.Time { return clock.Now().Add(-d) }
}

// serving notes which coordinator serves the next operation: the model
// judges expiry by its clock, as the coordinator does. A coordinator not
// made by History (the final check's) runs on the manual clock.
func (h *history) serving(co *coordinator.Coordinator) {
	if h.ttl == nil {
		return
	}
	h.cl.Now = h.ttl.clock.Now // coordinators made from now on (the final check's)
	h.ttl.cur = 0
	if i := slices.Index(h.coords, co); i >= 0 {
		h.ttl.cur = h.ttl.skew[i]
	}
	h.trace("   served by a coordinator %v behind", h.ttl.cur)
}

// now is the serving coordinator's time (Unix ms).
func (t *ttlModel) now() int64 { return t.clock.Now().Add(-t.cur).UnixMilli() }

// clockFunc is the clock of coordinators and repair: the manual clock in
// the TTL mode, else the wall clock.
func (h *history) clockFunc() func() time.Time {
	if h.ttl != nil {
		return h.ttl.clock.Now
	}
	return time.Now
}

// expired reports whether version v of key is expired now (never outside
// the TTL mode).
func (h *history) expired(key, v string) bool {
	if h.ttl == nil {
		return false
	}
	e, ok := h.ttl.expires[key][v]
	return ok && h.ttl.now() > e
}

// withTTL gives about half the puts of the TTL mode a time to live (1 ms to
// 8 s) and records the expiry of version v.
func (h *history) withTTL(o coordinator.Options, key, v string) coordinator.Options {
	if h.ttl == nil || h.rnd.Intn(2) == 0 {
		return o
	}
	o.TTL = time.Duration(1+h.rnd.Intn(8000)) * time.Millisecond
	if h.ttl.expires[key] == nil {
		h.ttl.expires[key] = map[string]int64{}
	}
	h.ttl.expires[key][v] = h.ttl.now() + o.TTL.Milliseconds()
	h.tot.Expiring++
	return o
}

// checkExpiries checks that a read returned no expired version (in the
// fault mode too, where reads are otherwise only checked not to invent
// values) and that its versions carry the model's expiries.
func (h *history) checkExpiries(key string, g coordinator.GetResult) error {
	if h.ttl == nil {
		return nil
	}
	for _, s := range g.Siblings {
		if h.expired(key, string(s.Value)) {
			return fmt.Errorf("read %s, expired at %d (now %d)", s.Value, h.ttl.expires[key][string(s.Value)], h.ttl.now())
		}
		if want := h.ttl.expires[key][string(s.Value)]; s.Expires != want {
			return fmt.Errorf("version %s expires at %d, model %d", s.Value, s.Expires, want)
		}
	}
	return nil
}

// tick moves the TTL mode's clock forward, and sometimes runs the reaper or
// delivers hints, before an operation.
func (h *history) tick() error {
	if h.ttl == nil {
		return nil
	}
	clock := h.ttl.clock
	switch n := h.rnd.Intn(20); {
	case n < 9:
		clock.Advance(time.Duration(h.rnd.Intn(1500)) * time.Millisecond)
	case n < 13: // to a pending expiry's millisecond, or the one after
		now := clock.Now().UnixMilli()
		for _, key := range h.keys {
			for _, e := range h.ttl.expires[key] {
				if e >= now {
					clock.Advance(time.Duration(e-now+int64(h.rnd.Intn(2))) * time.Millisecond)
					return nil
				}
			}
		}
	case n == 13: // past the coordinators' ExpirySlack: commits drop expired versions
		clock.Advance(coordinator.ExpirySlack + time.Duration(h.rnd.Intn(5000))*time.Millisecond)
	case n < 16:
		return h.reap()
	case n == 16:
		_, err := h.coords[h.rnd.Intn(len(h.coords))].DrainHints(context.Background(), 0)
		if err != nil {
			return fmt.Errorf("deliver hints: %w", err)
		}
	}
	return nil
}

// reap runs the reaper over every partition. A key whose replicas it
// removed must have had no live version; the model forgets its versions.
func (h *history) reap() error {
	present := map[string]bool{}
	for _, key := range h.keys {
		for _, id := range h.cl.Primaries(key) {
			if _, _, ok := h.cl.Replica(id, key); ok {
				present[key] = true
			}
		}
	}
	r, err := h.cl.Repairer(h.coords[0], h.ttl.clock.Now, func(cfg *repair.Config) {
		cfg.ReapScanEvery, cfg.ReapGrace = 0, reapGrace // a scan on every run
	})
	if err != nil {
		return err
	}
	rep, err := r.Reap(context.Background())
	if err != nil && !h.cfg.Faults {
		return fmt.Errorf("reap: %w", err)
	}
	h.tot.ReapRuns++
	h.tot.Reaped += rep.AntiEntropy.Reaped
	for _, key := range h.keys {
		if !present[key] {
			continue
		}
		gone := true
		for _, id := range h.cl.Primaries(key) {
			if _, _, ok := h.cl.Replica(id, key); ok {
				gone = false
			}
		}
		if !gone {
			continue
		}
		cur := h.ttl.cur
		h.ttl.cur = maxSkew // live for the slowest coordinator the design tolerates
		live := h.live(key)
		h.ttl.cur = cur
		if len(live) > 0 && !h.unsure[key] {
			return fmt.Errorf("the reaper removed %s, which holds live versions %v in the model (for a coordinator %v behind)", key, live, maxSkew)
		}
		h.trace("   reaped %s (model versions %v)", key, h.versions[key])
		h.versions[key] = map[string]bool{}
	}
	return nil
}
