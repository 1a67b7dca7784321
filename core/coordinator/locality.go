// Locality: which replicas are in the coordinator's region, and the quorum
// a request asked for, resolved against its key's replicas (the "local"
// quorum counts only the replies from that region).

package coordinator

import (
	"github.com/cartwheel/cartwheel/core/kv"
)

// local reports whether node n is in the coordinator's region.
func (c *Coordinator) local(n kv.Node) bool {
	if c.cfg.Region == "" {
		return true
	}
	r := n.Location.Region
	if r == "" {
		r = c.cfg.DefaultRegion
	}
	return r == "" || r == c.cfg.Region
}

// quorumSpec is a request's resolved quorum: need distinct nodes must
// answer, primaries of them primaries; with counts set, only the replies of
// the targets it accepts count toward need (the local quorum).
type quorumSpec struct {
	need, primaries int
	counts          func(target) bool
}

// counted reports whether t's reply counts toward need.
func (q quorumSpec) counted(t target) bool { return q.counts == nil || q.counts(t) }

// candidates is how many of ts count.
func (q quorumSpec) candidates(ts []target) int {
	k := 0
	for _, t := range ts {
		if q.counted(t) {
			k++
		}
	}
	return k
}

// resolve turns a request's (R or W, PR or PW) pair into p's quorum. A
// numeric or symbolic size is raised to at least the primaries required.
// QuorumLocal needs a majority of the key's primaries in the coordinator's
// region, counts only replies from that region (fallbacks there stand in
// for failed ones first), and is the default quorum when the key has no
// primary there.
func (c *Coordinator) resolve(p *plan, q, pq, def int, qName, pName string) (quorumSpec, error) {
	pr, err := c.quorumSize(p.v, pq, 0, pName)
	if err != nil {
		return quorumSpec{}, err
	}
	if q == QuorumLocal {
		k := 0
		for _, id := range p.v.ring.Primaries(p.key, p.n) {
			if c.local(p.v.nodes[id]) {
				k++
			}
		}
		if k > 0 {
			p.prefer = c.local
			return quorumSpec{need: k/2 + 1, primaries: pr, counts: func(t target) bool { return c.local(t.node) }}, nil
		}
		q = 0
	}
	n, err := c.quorumSize(p.v, q, def, qName)
	if err != nil {
		return quorumSpec{}, err
	}
	return quorumSpec{need: max(n, pr), primaries: pr}, nil
}

// checkReadQuorum refuses a bad r or pr on a write whatever path it takes:
// only a conditional put or a delete without a context reads, but a value
// a GET refuses is refused by every method, never silently ignored.
func (c *Coordinator) checkReadQuorum(v *view, opt Options) error {
	if opt.R != QuorumLocal {
		if _, err := c.quorumSize(v, opt.R, 1, "r"); err != nil {
			return err
		}
	}
	_, err := c.quorumSize(v, opt.PR, 0, "pr")
	return err
}
