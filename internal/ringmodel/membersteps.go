package ringmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
)

// The membership steps: an operator's changes, through the same pure
// functions the admin API calls, saved conditionally.

func (h *history) change(fn func(kv.Cluster) (kv.Cluster, error)) {
	c := h.members()
	next, err := fn(c)
	if err != nil {
		return
	}
	if err := h.env.Members.Save(context.Background(), next, c.Epoch); err != nil {
		h.t.Fatalf("ringmodel: save membership: %v", err)
	}
	h.remember(next)
}

func (h *history) markState() error {
	c := h.members()
	n := c.Nodes[h.rnd.Intn(len(c.Nodes))]
	switch n.State {
	case kv.StateActive:
		h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetStateAt(c, n.ID, kv.StateDown, h.now()) })
	case kv.StateDown:
		h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetStateAt(c, n.ID, kv.StateActive, h.now()) })
	}
	return nil
}

var allIDs = []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"}

func zoneOf(id string) string { return fmt.Sprintf("z%d", (int(id[1]-'0')-1)%3+1) }

func (h *history) planAdd() error {
	c := h.members()
	var free []string
	for _, id := range allIDs {
		if _, err := c.Node(id); err != nil {
			free = append(free, id)
		}
	}
	if len(free) == 0 {
		return nil
	}
	id := free[h.rnd.Intn(len(free))]
	n := kv.Node{ID: id, Zone: zoneOf(id), Weight: 1, Location: kv.Location{Bucket: h.env.Bucket, Prefix: id + "/"}}
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.AddNodeAt(c, n, h.now()) })
	return nil
}

func (h *history) removeFailed() error {
	h.failedFirst = true
	err := h.planRemove()
	h.failedFirst = false
	for i := 0; i < 3 && err == nil && h.members().Next != nil; i++ {
		h.offset += Settle + time.Second
		err = h.repair(nil)
	}
	return err
}

func (h *history) planRemove() error {
	c := h.members()
	var staying []string
	for _, n := range c.Nodes {
		if n.State != kv.StateLeaving {
			staying = append(staying, n.ID)
		}
	}
	if len(staying) <= 4 {
		return nil
	}
	id := staying[h.rnd.Intn(len(staying))]
	if h.failedFirst || h.rnd.Intn(2) == 0 { // operators remove the nodes that fail
		var failed []string
		for _, n := range c.Nodes {
			if h.down[n.Location] && n.State != kv.StateLeaving {
				failed = append(failed, n.ID)
			}
		}
		if len(failed) > 0 {
			id = failed[h.rnd.Intn(len(failed))]
		}
	}
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.RemoveNodeAt(c, id, h.now()) })
	return nil
}

func (h *history) cancelLeave() error {
	c := h.members()
	for _, n := range c.Nodes {
		if n.State == kv.StateLeaving {
			h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.SetStateAt(c, n.ID, kv.StateActive, h.now()) })
			return nil
		}
	}
	return nil
}

func (h *history) planClear() error {
	h.change(func(c kv.Cluster) (kv.Cluster, error) { return membership.CancelPlanAt(c, h.now()) })
	return nil
}

func (h *history) forget() error {
	c := h.members()
	for _, cl := range c.Cleanups {
		if !cl.Departed || !h.down[cl.Node.Location] {
			continue
		}
		next, _, err := membership.ForgetCleanups(c, cl.Node.ID)
		if err != nil {
			return nil
		}
		for _, n := range c.DepartedNodes(cl.Node.ID) {
			if err := h.wipe(n.Location); err != nil {
				return err
			}
		}
		next.Epoch = c.Epoch + 1
		if err := h.env.Members.Save(context.Background(), next, c.Epoch); err != nil {
			h.t.Fatalf("ringmodel: save membership: %v", err)
		}
		return nil
	}
	return nil
}

func setActive(c kv.Cluster, id string, now time.Time) (kv.Cluster, error) {
	return membership.SetStateAt(c, id, kv.StateActive, now)
}
