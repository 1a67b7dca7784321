package kv

import (
	"errors"
	"fmt"
)

// NodeState is a node's membership state, set by operators and the health job.
type NodeState string

// Node states. Active, Down and Leaving nodes may own partitions; Down is the
// health job's verdict (the node stays in the ring and fallbacks stand in for
// it); Joining nodes own nothing until activated; a Leaving node keeps serving
// its partitions until the pending ring change (Cluster.Next) that moves them
// away is committed, and is then removed.
const (
	StateActive  NodeState = "active"
	StateJoining NodeState = "joining"
	StateLeaving NodeState = "leaving"
	StateDown    NodeState = "down"
)

// Node is one storage node: an S3 location standing in for a Dynamo replica.
type Node struct {
	// ID names the node; unique within the cluster, 1-64 chars of [A-Za-z0-9_-].
	ID string `json:"id"`
	// Zone is the failure domain (availability zone); replicas prefer distinct zones.
	Zone string `json:"zone"`
	// Weight is the relative capacity; partitions are spread in proportion to it.
	Weight int `json:"weight"`
	// State is the membership state.
	State NodeState `json:"state"`
	// Incarnation increases every time the node's storage is (re)created, so a
	// wiped node never reuses an old actor id (Riak kv679).
	Incarnation uint64 `json:"incarnation"`
	// Location is where the node stores its replicas.
	Location Location `json:"location"`
}

// Params are the cluster-wide replication parameters.
type Params struct {
	// Q is the fixed number of equal partitions of the hash space (power of two).
	Q int `json:"q"`
	// N is the number of replicas of each key.
	N int `json:"n"`
	// R is the default read quorum.
	R int `json:"r"`
	// W is the default write quorum.
	W int `json:"w"`
	// LWW turns on last-write-wins: siblings collapse to the newest write.
	// Off by default because it loses concurrent acknowledged writes.
	LWW bool `json:"lww,omitempty"`
}

// MaxQ is the most partitions a cluster may have: the whole cluster
// description, with its current and pending owner lists, must fit in one
// DynamoDB item (400 KB), which it does compressed (infra/ddbmembership).
const MaxQ = 16384

// DefaultParams returns N=3, R=2, W=2 over 4096 partitions, siblings kept.
func DefaultParams() Params {
	return Params{
		Q: 4096, // enough for hundreds of nodes at ~10+ partitions each
		N: 3,    // three replicas, as in the paper
		R: 2,    // R+W > N: reads overlap the last acknowledged write
		W: 2,
	}
}

// Validate reports the first invalid field.
func (p Params) Validate() error {
	switch {
	case p.Q < 1 || p.Q&(p.Q-1) != 0 || p.Q > MaxQ:
		return fmt.Errorf("params: q=%d must be a power of two in [1, %d]", p.Q, MaxQ)
	case p.N < 1 || p.N > 16:
		return fmt.Errorf("params: n=%d must be in [1, 16]", p.N)
	case p.R < 1 || p.R > p.N:
		return fmt.Errorf("params: r=%d must be in [1, n=%d]", p.R, p.N)
	case p.W < 1 || p.W > p.N:
		return fmt.Errorf("params: w=%d must be in [1, n=%d]", p.W, p.N)
	}
	return nil
}

// Cluster is the whole membership description, stored as one versioned record.
type Cluster struct {
	// Epoch increases with every change; coordinators refresh on a new epoch.
	Epoch uint64 `json:"epoch"`
	// RingEpoch counts ring changes only (a change planned, committed or
	// cancelled), not faults, states or keys: what an operator means by
	// "the ring changed". Records made before it existed start at 0.
	RingEpoch uint64 `json:"ringEpoch,omitempty"`
	// Params are the replication parameters.
	Params Params `json:"params"`
	// Nodes are all members, in any order.
	Nodes []Node `json:"nodes"`
	// Faults are the faults injected per node id (fault injection enabled
	// only): kept here so every coordinator process applies the same ones.
	Faults map[string]FaultMode `json:"faults,omitempty"`
	// Owners[p] is the id of the node that owns partition p (len == Params.Q).
	Owners []string `json:"owners"`
	// Next is the pending ownership of a ring change (len == Params.Q), or nil
	// when no change is in progress. Adding, removing or (de)activating a node
	// only plans the change here; Owners still decides every key's primaries.
	// While Next is set, coordinators also send each write to the primaries
	// under Next that are not primaries under Owners, and the repair job copies
	// the data of every moving partition to them; then a commit makes
	// Owners = Next and clears Next (riak's "cluster plan", "transfers" and
	// "commit").
	Next []string `json:"next,omitempty"`
	// ContextKeys authenticate the contexts clients hold (see kv.Context).
	// They are made by the first process that finds the record without them
	// (bootstrap), and are never shown by the API: only the roles that may
	// read this record (the functions') can read them.
	ContextKeys *ContextKeys `json:"contextKeys,omitempty"`
	// Change is the durable progress of the pending ring change (nil when
	// none has started): transfers done, writes since.
	Change *RingChange `json:"change,omitempty"`
	// Cleanups are the copies left on nodes that lost partitions in past
	// commits, still to be merged into the current owners and deleted.
	Cleanups []Cleanup `json:"cleanups,omitempty"`
	// Retired are the ids of nodes that left, with their last incarnation.
	Retired []Retired `json:"retired,omitempty"`
}

// ErrNoNode is returned when a node id is not a member.
var ErrNoNode = errors.New("no such node")

// Node returns the member with the given id.
func (c Cluster) Node(id string) (Node, error) {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("node %q: %w", id, ErrNoNode)
}

// FaultMode is one node's injected fault (see core/kv/faults). The zero value
// is healthy.
type FaultMode struct {
	// Kind is "down", "slow", "errors" or "" (none).
	Kind string `json:"mode"`
	// LatencyMs is the added latency of "slow".
	LatencyMs int `json:"latencyMs,omitempty"`
	// Rate is the fraction of requests that fail under "errors", in [0, 1].
	Rate float64 `json:"rate,omitempty"`
}

// Validate checks a fault mode.
func (m FaultMode) Validate() error {
	switch m.Kind {
	case "", "down":
	case "slow":
		if m.LatencyMs < 0 || m.LatencyMs > 60_000 {
			return fmt.Errorf("faults: latencyMs=%d must be in [0, 60000]", m.LatencyMs)
		}
	case "errors":
		if !(m.Rate >= 0 && m.Rate <= 1) {
			return fmt.Errorf("faults: rate=%v must be in [0, 1]", m.Rate)
		}
	default:
		return fmt.Errorf("faults: unknown mode %q (want down, slow or errors)", m.Kind)
	}
	return nil
}
