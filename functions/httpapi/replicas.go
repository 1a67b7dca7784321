package httpapi

import (
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/ring"
)

// replicaCounts returns, per node id, the partition replicas the node holds
// under the cluster's current owners: the partitions for which it is one of
// the N primaries (ring.ReplicaCounts). It returns nil when the record does
// not form a valid ring (the caller then omits the field).
func replicaCounts(c kv.Cluster) map[string]int {
	rn := make([]ring.Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
	}
	r, err := ring.New(c.Params.Q, rn, c.Owners)
	if err != nil {
		return nil
	}
	return r.ReplicaCounts(c.Params.N)
}
