package repair

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Move is one partition whose primaries change in a pending ring change: the
// nodes that lose it and the nodes that gain it. Its data is copied to the
// gaining nodes (a transfer) before ownership switches.
type Move struct {
	Partition int      `json:"partition"`
	From      []string `json:"from"`
	To        []string `json:"to"`
	// Done: the transfer finished (recorded in the membership record).
	Done bool `json:"done"`
}

// NodePlan is one node's share of the ring now and after the pending change.
type NodePlan struct {
	ID    string       `json:"id"`
	State kv.NodeState `json:"state"`
	// Owned and Planned are the partitions the node owns now and after.
	Owned   int `json:"owned"`
	Planned int `json:"planned"`
	// Replicas and PlannedReplicas are the partitions the node is one of the
	// N primaries of, now and after.
	Replicas        int `json:"replicas"`
	PlannedReplicas int `json:"plannedReplicas"`
	// Gains and Losses count the partition replicas it receives and gives up.
	Gains  int `json:"gains"`
	Losses int `json:"losses"`
}

// Plan describes the pending ring change of a cluster, like riak's
// "cluster plan": each node's share now and after, and the partitions that
// move. Without a pending change, Pending is false, Planned equals Owned and
// there are no moves.
type Plan struct {
	Epoch   uint64     `json:"epoch"`
	Pending bool       `json:"pending"`
	Nodes   []NodePlan `json:"nodes"`
	Moves   []Move     `json:"moves"`
	// Done counts the moves transferred; Settling is set while the plan is
	// too recent to transfer (see Config.PlanSettle).
	Done     int  `json:"done"`
	Settling bool `json:"settling,omitempty"`
	// Cleanups are the record's pending clean-ups of past commits, from the
	// same read as the rest of the plan (the admin API shows them its way).
	Cleanups []kv.Cleanup `json:"-"`
}

// PlanOf computes the plan of cluster c (pure: no I/O, no progress).
func PlanOf(c kv.Cluster) (Plan, error) {
	w, err := newWorld(c)
	if err != nil {
		return Plan{}, err
	}
	return w.plan(), nil
}

func (w *world) plan() Plan {
	out := Plan{Epoch: w.c.Epoch, Pending: w.next != nil, Cleanups: w.c.Cleanups}
	byID := map[string]*NodePlan{}
	for _, n := range w.c.Nodes {
		byID[n.ID] = &NodePlan{ID: n.ID, State: n.State}
	}
	next := w.c.Next
	if next == nil {
		next = w.c.Owners
	}
	for p := range w.c.Owners {
		byID[w.c.Owners[p]].Owned++
		byID[next[p]].Planned++
		now := w.owners.PrimariesOfPartition(p, w.c.Params.N)
		after := now
		if w.next != nil {
			after = w.next.PrimariesOfPartition(p, w.c.Params.N)
		}
		for _, id := range now {
			byID[id].Replicas++
		}
		for _, id := range after {
			byID[id].PlannedReplicas++
		}
		m := Move{Partition: p}
		for _, id := range now {
			if !slices.Contains(after, id) {
				m.From = append(m.From, id)
				byID[id].Losses++
			}
		}
		for _, id := range after {
			if !slices.Contains(now, id) {
				m.To = append(m.To, id)
				byID[id].Gains++
			}
		}
		if len(m.From)+len(m.To) > 0 {
			m.Done = w.c.Change.IsDone(p)
			if m.Done {
				out.Done++
			}
			out.Moves = append(out.Moves, m)
		}
	}
	for _, np := range byID {
		out.Nodes = append(out.Nodes, *np)
	}
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].ID < out.Nodes[j].ID })
	return out
}

// fingerprint identifies a ring change by its current and pending owners,
// so transfer progress survives epoch changes that do not alter the plan
// (a node marked down) and is forgotten when the plan changes.
func fingerprint(c kv.Cluster) string {
	h := sha256.New()
	for _, o := range c.Owners {
		h.Write([]byte(o))
		h.Write([]byte{0})
	}
	h.Write([]byte{1})
	for _, o := range c.Next {
		h.Write([]byte(o))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
