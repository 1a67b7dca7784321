package modeltest

import (
	"context"
	"fmt"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/repair"
)

// handoff, in the fault mode, sometimes delivers the queued hints mid-history
// (hinted replicas are merged into their primaries and leave stubs, and the
// next write through the same fallback creates a hinted replica again at the
// stub's name, minting with its actor), and sometimes runs a repair whose
// sweep deletes every stub (a tiny reaping grace), so the next hinted replica
// there mints with a new actor. Together they exercise every way a hinted
// replica's minting identity can be kept, reused or dropped between writes,
// which the dot ledger checks.
func (h *history) handoff() error {
	ctx := context.Background()
	switch r := h.rnd.Intn(100); {
	case r < 10:
		co := h.coords[h.rnd.Intn(len(h.coords))]
		res, err := co.DrainHints(ctx, 0)
		h.trace("handoff: %+v %v", res, err)
		if err != nil {
			return fmt.Errorf("drain hints: %w", err)
		}
	case r < 13:
		rp, err := h.cl.Repairer(h.coords[0], time.Now, func(cfg *repair.Config) {
			cfg.ReapGrace = time.Millisecond // stubs expire at once
		})
		if err != nil {
			return err
		}
		rep, err := rp.Run(ctx)
		h.trace("repair: handoff %+v %v", rep.Handoff, err)
		if err != nil {
			return fmt.Errorf("repair: %w", err)
		}
	case r < 18 && h.cfg.maxDown() >= 3:
		h.keyDown()
		return nil
	default:
		return nil
	}
	h.tot.Handoffs++
	return nil
}

// keyDown brings every node back and takes down every primary of one key, so
// that its next writes are coordinated by fallbacks (once the coordinators
// suspect the primaries).
func (h *history) keyDown() {
	for id := range h.down {
		h.cl.Down(id, false)
	}
	h.down = map[string]bool{}
	key := h.keys[h.rnd.Intn(len(h.keys))]
	for _, id := range h.cl.Primaries(key) {
		h.down[id] = true
		h.cl.Down(id, true)
	}
	h.tot.Faults++
}

// checkDots runs the dot ledger over every node's objects.
func (h *history) checkDots() error {
	locs := map[string]kv.Location{}
	for i := 1; i <= h.cfg.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		locs[id] = h.cl.Node(id).Location
	}
	return h.dots.Check(context.Background(), h.cl.Env.Store, locs)
}
