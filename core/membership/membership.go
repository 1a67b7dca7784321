// Package membership holds the pure operations on the cluster description:
// bootstrapping a cluster, adding and removing nodes, changing a node's state.
// Each returns a new kv.Cluster with the next epoch; the caller saves it with a
// conditional write (kv.Membership.Save) and retries on a lost race.
package membership

import (
	"fmt"
	"slices"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/ring"
)

func ringNodes(nodes []kv.Node) []ring.Node {
	var out []ring.Node
	for _, n := range nodes {
		if n.State == kv.StateJoining {
			continue // joining nodes own nothing until activated
		}
		out = append(out, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
	}
	return out
}

func validateNode(n kv.Node) error {
	if !kv.ValidNodeID(n.ID) {
		return fmt.Errorf("membership: node id %q must be 1-64 chars of [A-Za-z0-9_-]", n.ID)
	}
	if n.Zone == "" {
		return fmt.Errorf("membership: node %s: zone is required", n.ID)
	}
	if n.Weight < 1 {
		return fmt.Errorf("membership: node %s: weight %d must be >= 1", n.ID, n.Weight)
	}
	if n.Location.Bucket == "" {
		return fmt.Errorf("membership: node %s: bucket is required", n.ID)
	}
	return nil
}

// Bootstrap returns the first cluster (epoch 1) of nodes with params.
func Bootstrap(p kv.Params, nodes []kv.Node) (kv.Cluster, error) {
	if err := p.Validate(); err != nil {
		return kv.Cluster{}, err
	}
	c := kv.Cluster{Epoch: 1, Params: p}
	for _, n := range nodes {
		if err := validateNode(n); err != nil {
			return kv.Cluster{}, err
		}
		if n.State == "" {
			n.State = kv.StateActive
		}
		if n.Incarnation == 0 {
			n.Incarnation = 1
		}
		c.Nodes = append(c.Nodes, n)
	}
	owners, err := ring.Claim(p.Q, ringNodes(c.Nodes), nil)
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	c.Owners = owners
	return c, nil
}

// AddNode returns c with n added and partitions rebalanced (only partitions
// moving to n change owner).
func AddNode(c kv.Cluster, n kv.Node) (kv.Cluster, error) {
	if err := validateNode(n); err != nil {
		return kv.Cluster{}, err
	}
	if _, err := c.Node(n.ID); err == nil {
		return kv.Cluster{}, fmt.Errorf("membership: node %s already exists", n.ID)
	}
	if n.State == "" {
		n.State = kv.StateActive
	}
	if n.Incarnation == 0 {
		n.Incarnation = 1
	}
	out := clone(c)
	out.Nodes = append(out.Nodes, n)
	return reclaim(c, out)
}

// RemoveNode returns c without node id; its partitions move to the others.
func RemoveNode(c kv.Cluster, id string) (kv.Cluster, error) {
	if _, err := c.Node(id); err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	out := clone(c)
	out.Nodes = slices.DeleteFunc(out.Nodes, func(n kv.Node) bool { return n.ID == id })
	if len(out.Nodes) == 0 {
		return kv.Cluster{}, fmt.Errorf("membership: cannot remove the last node")
	}
	return reclaim(c, out)
}

// SetState returns c with node id in state s (no partitions move: a down node
// keeps its partitions and fallbacks stand in for it). The exception is a
// joining node, which owns nothing: leaving that state activates it, and
// partitions move to it as if it had been added active.
func SetState(c kv.Cluster, id string, s kv.NodeState) (kv.Cluster, error) {
	switch s {
	case kv.StateActive, kv.StateDown, kv.StateLeaving:
	default:
		return kv.Cluster{}, fmt.Errorf("membership: state %q cannot be set directly", s)
	}
	out := clone(c)
	for i := range out.Nodes {
		if out.Nodes[i].ID == id {
			was := out.Nodes[i].State
			out.Nodes[i].State = s
			if was == kv.StateJoining {
				return reclaim(c, out)
			}
			out.Epoch++
			return out, nil
		}
	}
	return kv.Cluster{}, fmt.Errorf("membership: %w: %s", kv.ErrNoNode, id)
}

// BumpIncarnation returns c with node id's incarnation increased: do this when a
// node's storage is wiped or replaced, so it never reuses old actor ids.
func BumpIncarnation(c kv.Cluster, id string) (kv.Cluster, error) {
	out := clone(c)
	for i := range out.Nodes {
		if out.Nodes[i].ID == id {
			out.Nodes[i].Incarnation++
			out.Epoch++
			return out, nil
		}
	}
	return kv.Cluster{}, fmt.Errorf("membership: %w: %s", kv.ErrNoNode, id)
}

func reclaim(prev, next kv.Cluster) (kv.Cluster, error) {
	owners, err := ring.Claim(next.Params.Q, ringNodes(next.Nodes), prev.Owners)
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("membership: %w", err)
	}
	next.Owners = owners
	next.Epoch = prev.Epoch + 1
	return next, nil
}

func clone(c kv.Cluster) kv.Cluster {
	c.Nodes = slices.Clone(c.Nodes)
	c.Owners = slices.Clone(c.Owners)
	return c
}
