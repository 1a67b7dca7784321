package membership

import (
	"fmt"

	"github.com/cartwheel/cartwheel/core/kv"
)

// HealthChange is what two rounds of storage probes decide for a cluster.
type HealthChange struct {
	// Next is the cluster after the verdict: Epoch one higher when a node
	// changed state, else the cluster as given.
	Next kv.Cluster
	// Down and Revived name the nodes marked down and active again.
	Down, Revived []string
}

// Changed reports whether the verdict changed any node (Next must be saved).
func (h HealthChange) Changed() bool { return len(h.Down)+len(h.Revived) > 0 }

// HealthVerdict decides the health job's changes from two probes of every
// node's storage (first and second: node id -> the probe answered): an active
// node both probes found failing goes down, a down node both found answering
// goes active again, and every other node keeps its state, so a single lost
// request never flaps the ring and joining and leaving nodes are left alone.
// A node missing from a probe map counts as failing that probe. Down moves no
// partition (fallbacks stand in and hints queue up).
func HealthVerdict(c kv.Cluster, first, second map[string]bool) (HealthChange, error) {
	h := HealthChange{Next: c}
	var err error
	for _, n := range c.Nodes {
		switch {
		case !first[n.ID] && !second[n.ID] && n.State == kv.StateActive:
			h.Next, err = SetState(h.Next, n.ID, kv.StateDown)
			h.Down = append(h.Down, n.ID)
		case first[n.ID] && second[n.ID] && n.State == kv.StateDown:
			h.Next, err = SetState(h.Next, n.ID, kv.StateActive)
			h.Revived = append(h.Revived, n.ID)
		}
		if err != nil {
			return HealthChange{}, fmt.Errorf("membership: health verdict on %s: %w", n.ID, err)
		}
	}
	if h.Changed() {
		h.Next.Epoch = c.Epoch + 1
	}
	return h, nil
}
