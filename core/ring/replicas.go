package ring

// ReplicaCounts returns, for every node of the ring (owning or not), the
// number of partitions for which it is one of the n primaries: the partition
// replicas it holds. The counts sum to Q()*min(n, owning nodes).
//
// Cost: one PrimariesOfPartition per partition.
func (r *Ring) ReplicaCounts(n int) map[string]int {
	out := make(map[string]int, len(r.nodes))
	for _, nd := range r.nodes {
		out[nd.ID] = 0
	}
	if n <= 0 {
		return out
	}
	w := r.walker(0)
	for p := range r.q {
		w.reset(p)
		order := w.prefix(n)
		for _, i := range order[:min(n, len(order))] {
			out[r.nodes[i].ID]++
		}
	}
	return out
}
