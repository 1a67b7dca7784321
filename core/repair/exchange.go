package repair

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/merkle"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// world is one run's snapshot of the cluster: membership and its rings.
type world struct {
	c      kv.Cluster
	nodes  map[string]kv.Node
	owners *ring.Ring
	next   *ring.Ring // the pending ring change, nil when none
}

func newWorld(c kv.Cluster) (*world, error) {
	if err := c.Params.Validate(); err != nil {
		return nil, errorf("cluster epoch %d: %w", c.Epoch, err)
	}
	w := &world{c: c, nodes: make(map[string]kv.Node, len(c.Nodes))}
	rn := make([]ring.Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
		w.nodes[n.ID] = n
	}
	var err error
	if w.owners, err = ring.New(c.Params.Q, rn, c.Owners); err != nil {
		return nil, errorf("cluster epoch %d: %w", c.Epoch, err)
	}
	if c.Next != nil {
		if w.next, err = ring.New(c.Params.Q, rn, c.Next); err != nil {
			return nil, errorf("cluster epoch %d: pending owners: %w", c.Epoch, err)
		}
	}
	return w, nil
}

// member is one replica of a partition in an exchange.
type member struct {
	node kv.Node
	old  bool // a primary under Owners
	next bool // a primary under Next (pending ring change)
	// source members are read, never written: nodes being cleaned up after
	// they lost the partition.
	source  bool
	listing Listing
	ok      bool // listed
	failed  bool // a write to it failed
}

// members returns the replicas of partition p: its primaries under Owners
// and, during a ring change, under Next.
func (w *world) members(p int) []*member {
	n := w.c.Params.N
	var ms []*member
	for _, id := range w.owners.PrimariesOfPartition(p, n) {
		ms = append(ms, &member{node: w.nodes[id], old: true})
	}
	if w.next != nil {
		for _, id := range w.next.PrimariesOfPartition(p, n) {
			if i := slices.IndexFunc(ms, func(m *member) bool { return m.node.ID == id }); i >= 0 {
				ms[i].next = true
			} else {
				ms = append(ms, &member{node: w.nodes[id], next: true})
			}
		}
	}
	return ms
}

// streams are the per-node listing streams of one pass over partitions.
type streams struct {
	store kv.ReplicaStore
	page  int
	m     map[string]*stream
}

func (s *streams) of(n kv.Node) *stream {
	// By location too: a node that left and one added again under its id
	// have different locations.
	key := n.ID + "\x00" + n.Location.Endpoint + "\x00" + n.Location.Bucket + "\x00" + n.Location.Prefix
	st, ok := s.m[key]
	if !ok {
		st = newStream(s.store, n.Location, s.page)
		s.m[key] = st
	}
	return st
}

// exResult is the outcome of exchanging one partition.
type exResult struct {
	Exchange
	// complete: every key was handled (the budget did not run out).
	complete bool
	// failed counts the keys that could not be repaired.
	failed int
	// candidates are keys holding only tombstones, the same on every member.
	candidates []candidate
}

// candidate is a reap candidate: a key whose replicas all hold the same
// tombstones.
type candidate struct {
	hash  merkle.Hash
	obj   vclock.Object
	etags []string // per member
	// identical: each member was seen to hold exactly obj's bytes at its
	// ETag (ReapInput.Identical).
	identical bool
}

// exchange compares the replicas of partition p and makes them converge:
// it lists every member (trees from LIST pages), finds the keys that differ,
// and for each reads one replica per distinct version, merges them and
// writes the result to every member that lacks it (merge, never overwrite).
// With scan, the keys every replica already agrees on are read too (one GET
// each), to find tombstone-only keys to reap.
func (x *run) exchange(ctx context.Context, w *world, ss *streams, p int, ms []*member, scan bool) exResult {
	var res exResult
	lo, hi, after := partitionNames(w.c.Params.Q, p)
	var ok []*member
	var ls []Listing
	for _, m := range ms {
		if m.node.State == kv.StateDown {
			continue // the health job says its storage does not answer
		}
		if !x.allow(ctx) {
			return res
		}
		entries, err := ss.of(m.node).take(ctx, lo, hi, after)
		if err != nil {
			x.fail(errorf("partition %d: list %s: %w", p, m.node.ID, err))
			continue
		}
		m.listing, m.ok = x.listing(entries), true
		ok = append(ok, m)
		ls = append(ls, m.listing)
	}
	if len(ok) == 0 {
		res.complete = true
		return res
	}
	res.Keys = distinctKeys(ls)
	diff := DifferingKeys(x.cfg.Shape, ls)
	res.Differing = len(diff)
	for _, h := range diff {
		kr, err := x.repairKey(ctx, w, ok, h)
		if errors.Is(err, errBudget) {
			return res
		}
		res.Writes += kr.writes
		if kr.writes > 0 {
			res.Repaired++
		}
		if err != nil {
			res.failed++
			x.fail(errorf("partition %d: key %x: %w", p, h[:], err))
			continue
		}
		if kr.cand != nil {
			res.candidates = append(res.candidates, *kr.cand)
		}
	}
	if scan && len(ok) == len(ms) {
		for h, e := range ok[0].listing.ETags {
			if !agree(ls, h) {
				continue
			}
			if !x.allow(ctx) {
				return res
			}
			st, err := x.read(ctx, ok[0], h)
			if err != nil {
				x.fail(errorf("partition %d: reap scan: %w", p, err))
				continue
			}
			if st.Found && !st.Corrupt && sameETag(st.ETag, e) && gone(st.Obj, x.deps.Now()) {
				etags := make([]string, len(ok))
				for i, m := range ok {
					etags[i] = m.listing.ETags[h]
				}
				res.candidates = append(res.candidates, candidate{hash: h, obj: st.Obj, etags: etags})
			}
		}
	}
	res.Partitions = 1
	res.complete = true
	return res
}

func distinctKeys(ls []Listing) int {
	n := len(ls[0].ETags)
	for i, l := range ls[1:] {
		for h := range l.ETags {
			if !slices.ContainsFunc(ls[:i+1], func(o Listing) bool { _, in := o.ETags[h]; return in }) {
				n++
			}
		}
	}
	return n
}

// state is what a member's replica held when read.
type state struct {
	replica.State
	read bool // fetched (else known from the listing only)
}

// replicas builds the run's replica I/O (once, in newRun): core/replica over
// the counted store.
func (x *run) replicas() replica.IO {
	return replica.IO{
		Store:   counted{x},
		Rand:    x.deps.Rand,
		Retries: x.cfg.CASRetries,
		OnCorrupt: func(_ context.Context, n kv.Node, name string, err error) {
			x.log.Warn("corrupt replica object", "node", n.ID, "name", name, "err", err)
		},
	}
}

// read fetches and decodes member m's replica of key hash h.
func (x *run) read(ctx context.Context, m *member, h merkle.Hash) (state, error) {
	st, err := x.rio.Read(ctx, m.node, dataName(h), replica.HashIs(h), "")
	if err != nil {
		return state{}, err
	}
	return state{State: st, read: true}, nil
}

// keyResult is the outcome of repairing one key.
type keyResult struct {
	writes int
	cand   *candidate
}

// repairKey makes the members' replicas of key hash h converge. It reads one
// replica per distinct ETag listed (replicas with equal ETags hold equal
// bytes), merges them, and writes the merged object to every member whose
// replica differs, reading first only a replica whose minting identity it
// does not know yet. When one stale replica differs from N-1 equal ones this
// is 2 GETs and 1 PUT; a missing replica is 1 GET and 1 PUT.
func (x *run) repairKey(ctx context.Context, w *world, ms []*member, h merkle.Hash) (keyResult, error) {
	var res keyResult
	states := make([]state, len(ms))
	fetched := map[string]bool{}
	for i, m := range ms {
		e, has := m.listing.ETags[h]
		if !has || fetched[normETag(e)] {
			continue
		}
		fetched[normETag(e)] = true
		if !x.allow(ctx) {
			return res, errBudget
		}
		st, err := x.read(ctx, m, h)
		if err != nil {
			return res, err
		}
		states[i] = st
	}
	var objs []vclock.Object
	corrupt := false
	for _, st := range states {
		if st.Found && !st.Corrupt {
			objs = append(objs, st.Obj)
		}
		corrupt = corrupt || st.Corrupt
	}
	if len(objs) == 0 {
		if corrupt {
			return res, fmt.Errorf("no readable replica of %s", dataName(h))
		}
		return res, nil // deleted everywhere since the listing
	}
	merged := vclock.Reconcile(objs...)
	if w.c.Params.LWW {
		merged = vclock.LastWriteWins(merged)
	}
	data := vclock.Encode(merged)
	want := ETagOf(data)
	final := make([]string, len(ms))
	identical := true // every member holds exactly data at final[i]
	var errs []error
	for i, m := range ms {
		st := states[i]
		e, has := m.listing.ETags[h]
		cur := e
		if st.read {
			cur = st.ETag
		}
		if cur != "" && sameETag(cur, want) && (!st.read || !st.Corrupt) {
			final[i] = cur
			continue
		}
		if m.source {
			identical = false
			continue
		}
		// Merge, never overwrite: the coordinator's read repair, through
		// the same replica I/O.
		var known *replica.State
		switch {
		case st.read:
			known = &states[i].State
		case !has:
			known = &replica.State{} // absent when listed: try create-only first
		}
		if !x.allow(ctx) {
			return res, errBudget
		}
		mg, err := x.rio.MergeInto(ctx, m.node, dataName(h), merged, data, known, w.c.Params.LWW)
		if mg.Wrote {
			res.writes++
		}
		if err != nil {
			m.failed = true
			errs = append(errs, err)
			continue
		}
		final[i] = mg.ETag
		identical = identical && mg.Same
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if gone(merged, x.deps.Now()) && (allSame(final) || identical) {
		res.cand = &candidate{hash: h, obj: merged, etags: final, identical: identical}
	}
	return res, nil
}

func allSame(etags []string) bool {
	for _, e := range etags {
		if e == "" || !sameETag(e, etags[0]) {
			return false
		}
	}
	return len(etags) > 0
}
