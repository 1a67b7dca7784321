package ringmodel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// step is one weighted kind of step; do returns an error only for a
// violation (a failed request or a refused change is part of the history).
type step struct {
	name   string
	weight int
	do     func(h *history) error
}

var steps = []step{
	{"put", 8, func(h *history) error { return h.put(h.liveKey(), true, 0) }},
	{"blind put", 4, func(h *history) error { return h.put(h.liveKey(), false, 0) }},
	{"put w=1 alone", 3, (*history).putAlone},
	{"put, a primary down", 6, (*history).putPrimaryDown},
	{"delete", 8, func(h *history) error { return h.del(h.liveKey()) }},
	{"get", 2, func(h *history) error { return h.get(h.key()) }},
	{"storage down", 6, (*history).storageDown},
	{"storage up", 4, (*history).storageUp},
	{"state down/active", 1, (*history).markState},
	{"plan add", 3, (*history).planAdd},
	{"plan remove", 4, (*history).planRemove},
	{"replan: leaving node active", 3, (*history).cancelLeave},
	{"plan clear", 1, (*history).planClear},
	{"repair", 4, func(h *history) error { return h.repair(nil) }},
	{"transfer, no commit", 3, func(h *history) error {
		return h.repair(func(c *repair.Config) { c.AutoCommit = false })
	}},
	{"repair, interrupted", 2, func(h *history) error {
		return h.repair(func(c *repair.Config) { c.MaxRequests = 5 + h.rnd.Intn(40) })
	}},
	{"settle", 3, func(h *history) error { h.offset += Settle + time.Second; return nil }},
	{"grace", 2, func(h *history) error { h.offset += 2 * time.Hour; return nil }},
	{"reap", 2, (*history).reap},
	{"take hints", 2, (*history).takeHints},
	{"deliver held hint", 2, (*history).deliverHeld},
	{"node forget", 1, (*history).forget},
	{"remove a failed node, repair", 5, (*history).removeFailed},
	{"grace, repair, reap", 5, (*history).graceReap},
}

// swarm draws the step kinds one history uses (swarm testing, Groce et al.
// 2012): each kind but put and delete is left out with probability 1/2, so
// histories differ in shape, not only in order (no repair run for a while
// lets hinted replicas pile up; no delete lets acknowledged writes pile up).
func (h *history) swarm() {
	h.kinds = nil
	for _, s := range steps {
		if s.name == "put" || s.name == "delete" || h.rnd.Intn(2) == 0 {
			h.kinds = append(h.kinds, s)
		}
	}
}

func (h *history) step() (string, error) {
	total := 0
	for _, s := range h.kinds {
		total += s.weight
	}
	n := h.rnd.Intn(total)
	for _, s := range h.kinds {
		if n < s.weight {
			return s.name, s.do(h)
		}
		n -= s.weight
	}
	return "", errors.New("ringmodel: no step")
}

func (h *history) key() string { return h.keys[h.rnd.Intn(len(h.keys))] }

// liveKey is a key to write: like a cart, a deleted key is seldom written
// again (one time in ten), so deleted keys live long enough to be reaped.
func (h *history) liveKey() string {
	var live []string
	for _, k := range h.keys {
		if !h.gone1[k] {
			live = append(live, k)
		}
	}
	if len(live) == 0 || h.rnd.Intn(10) == 0 {
		return h.key()
	}
	return live[h.rnd.Intn(len(live))]
}

func (h *history) value() string {
	h.next++
	return fmt.Sprintf("v%d", h.next)
}

// put writes a new value to key: read-modify-write (the context of a get
// first) or blind. w=0 is the default quorum.
func (h *history) put(key string, rmw bool, w int) error {
	ctx := context.Background()
	co := h.coord()
	defer co.Wait()
	token, covers := "", []string(nil)
	if rmw {
		g, err := co.Get(ctx, key, coordinator.Options{})
		if err != nil {
			return nil // no context: the client gives up
		}
		if err := h.vals[key].invented(key, live(g)); err != nil {
			return err
		}
		token, covers = g.Context, live(g)
	}
	v := h.value()
	_, err := co.Put(ctx, key, token, coordinator.Value{Data: []byte(v), ContentType: "text/plain"}, coordinator.Options{W: w})
	h.vals[key].write(v, covers, err == nil)
	delete(h.gone1, key)
	h.lastOp = fmt.Sprintf("%s=%s covering %v w=%d: %v", key, v, covers, w, err)
	return nil
}

// putAlone: every location but one primary's is unreachable for one put
// with w=1, acknowledged by that node alone.
func (h *history) putAlone() error {
	key := h.liveKey()
	c := h.members()
	prim, err := primaries(c, c.Owners, key)
	if err != nil {
		return err
	}
	keep := h.nodeLoc(c, prim[h.rnd.Intn(len(prim))])
	var cut []kv.Location
	for loc := range h.locs {
		if loc != keep && !h.down[loc] {
			cut = append(cut, loc)
		}
	}
	h.setDown(true, cut...)
	err = h.put(key, false, 1)
	h.setDown(false, cut...)
	return err
}

func (h *history) del(key string) error {
	ctx := context.Background()
	co := h.coord()
	defer co.Wait()
	g, err := co.Get(ctx, key, coordinator.Options{})
	if err != nil {
		return nil
	}
	if err := h.vals[key].invented(key, live(g)); err != nil {
		return err
	}
	_, err = co.Delete(ctx, key, g.Context, coordinator.Options{})
	if g.Context == "" {
		// The get saw nothing: the delete reads the key itself and deletes
		// what that read sees, which the client does not know.
		h.vals[key].unknownCover()
	}
	h.vals[key].write("", live(g), err == nil)
	if err == nil {
		h.gone1[key] = true
	}
	h.lastOp = fmt.Sprintf("delete %s covering %v: %v", key, live(g), err)
	return nil
}

func (h *history) get(key string) error {
	co := h.coord()
	defer co.Wait()
	g, err := co.Get(context.Background(), key, coordinator.Options{})
	if err != nil {
		return nil
	}
	h.lastOp = fmt.Sprintf("%s: %v", key, live(g))
	return h.vals[key].invented(key, live(g))
}

func live(g coordinator.GetResult) []string { return coordtest.Values(g) }

// setDown makes storage locations unreachable (or reachable again); a
// forgotten location stays down.
func (h *history) setDown(down bool, locs ...kv.Location) {
	for _, loc := range locs {
		if h.gone[loc] {
			continue
		}
		m := kv.FaultMode{}
		if down {
			m.Kind = "down"
		}
		if err := h.cl.Faults.Set(loc, m); err != nil {
			h.t.Fatalf("ringmodel: set fault: %v", err)
		}
		if down {
			h.down[loc] = true
		} else {
			delete(h.down, loc)
		}
	}
}

// storageDown makes one location unreachable, at most two at once: a
// member's (still in membership) or an old one's.
func (h *history) storageDown() error {
	if len(h.down) >= 2 {
		return nil
	}
	locs := sortedLocs(h.locs)
	if h.rnd.Intn(4) > 0 { // the nemesis aims at nodes holding hinted replicas
		var hinting []kv.Location
		for _, loc := range locs {
			if items, _, err := h.env.Store.List(context.Background(), loc, kv.HintPrefix, "", 1); err == nil && len(items) > 0 && !h.down[loc] {
				hinting = append(hinting, loc)
			}
		}
		if len(hinting) > 0 {
			locs = hinting
		}
	}
	h.setDown(true, locs[h.rnd.Intn(len(locs))])
	return nil
}

// putPrimaryDown is a put while one of the key's primaries is unreachable
// (it stays so): a fallback takes a hinted replica.
func (h *history) putPrimaryDown() error {
	key := h.liveKey()
	c := h.members()
	prim, err := primaries(c, c.Owners, key)
	if err != nil {
		return err
	}
	if len(h.down) < 2 {
		h.setDown(true, h.nodeLoc(c, prim[h.rnd.Intn(len(prim))]))
	}
	return h.put(key, h.rnd.Intn(2) == 0, 0)
}

func (h *history) storageUp() error {
	var locs []kv.Location
	for _, loc := range sortedLocs(h.locs) {
		if h.down[loc] {
			locs = append(locs, loc)
		}
	}
	if len(locs) > 0 {
		h.setDown(false, locs[h.rnd.Intn(len(locs))])
	}
	return nil
}

// change applies a membership change conditionally; a refused change is
// part of the history.
// markState records the health job's verdict on a member: down, or active
// again (a down or active node only; a leaving one is cancelLeave's).
// planAdd adds a node that is not a member: a new id, or an old one again.
// removeFailed is an operator removing an unreachable node (any node if
// none is), then the scheduled repair runs, a settling period apart, until
// the change commits or three runs went by.
// graceReap lets the grace period pass; a repair run and a reap follow.
func (h *history) graceReap() error {
	h.offset += 2 * time.Hour
	if err := h.repair(nil); err != nil {
		return err
	}
	return h.reap()
}

// planRemove removes a member, keeping four that are not leaving.
// cancelLeave is "node state ID active" on a leaving node: a re-plan.
// forget is "node forget" on a departed node whose storage is down: the
// storage is gone for good (wiped); keys it held copies of are no longer
// checked for lost writes or resurrections, which forgetting allows.
func (h *history) repair(edit func(*repair.Config)) error {
	if h.rnd.Intn(2) == 0 { // the schedule's next run, a settling period later
		h.offset += Settle + time.Second
	}
	r, err := h.repairer(edit)
	if err != nil {
		return err
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		return fmt.Errorf("repair run: %w", err)
	}
	h.tot.Reaped += rep.AntiEntropy.Reaped
	h.remember(h.members())
	return nil
}

func (h *history) reap() error {
	r, err := h.repairer(nil)
	if err != nil {
		return err
	}
	rep, err := r.Reap(context.Background())
	if err != nil {
		return fmt.Errorf("reap: %w", err)
	}
	h.tot.Reaped += rep.AntiEntropy.Reaped
	return nil
}

// takeHints receives queued hint messages and keeps them for a late
// delivery (the queue's copy is acknowledged): late, or never, but the
// sweep of hinted replicas still delivers them.
func (h *history) takeHints() error {
	got, err := h.env.Hints.Receive(context.Background(), 1+h.rnd.Intn(3), 0)
	if err != nil {
		return fmt.Errorf("receive hints: %w", err)
	}
	for _, m := range got {
		if m.Err == nil {
			h.held = append(h.held, m.Hint)
		}
		if err := h.env.Hints.Ack(context.Background(), m.Receipt); err != nil {
			return fmt.Errorf("ack hint: %w", err)
		}
	}
	return nil
}

// deliverHeld delivers a held hint with a fresh coordinator; half the time
// it is kept to be delivered again (a duplicate).
func (h *history) deliverHeld() error {
	if len(h.held) == 0 {
		return nil
	}
	i := h.rnd.Intn(len(h.held))
	hint := h.held[i]
	co := h.coord()
	err := co.DeliverHint(context.Background(), hint)
	co.Wait()
	if err == nil && h.rnd.Intn(2) == 0 {
		h.held = slices.Delete(h.held, i, i+1)
	}
	return nil
}
