package repair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/merkle"
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
			if st.found && !st.corrupt && sameETag(st.etag, e) && gone(st.obj, x.deps.Now()) {
				etags := make([]string, len(ok))
				for i, m := range ok {
					etags[i] = m.listing.ETags[h]
				}
				res.candidates = append(res.candidates, candidate{hash: h, obj: st.obj, etags: etags})
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

// state is what a replica held when read.
type state struct {
	read    bool // fetched (else known from the listing only)
	found   bool
	corrupt bool // undecodable, or another key's object: overwritten
	obj     vclock.Object
	etag    string
	actor   string
	data    []byte
}

// read fetches and decodes member m's replica of key hash h.
func (x *run) read(ctx context.Context, m *member, h merkle.Hash) (state, error) {
	name := dataName(h)
	b, err := counted{x}.Get(ctx, m.node.Location, name)
	if errors.Is(err, kv.ErrNotFound) {
		return state{read: true}, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read %s on %s: %w", name, m.node.ID, err)
	}
	obj, err := vclock.Decode(b.Data, vclock.DecodeLimits())
	if err == nil && kv.KeyHash(obj.Key) != h {
		err = fmt.Errorf("%w: object holds key %q", vclock.ErrCorrupt, obj.Key)
	}
	if err != nil {
		x.log.Warn("corrupt replica object", "node", m.node.ID, "name", name, "err", err)
		return state{read: true, found: true, corrupt: true, etag: b.ETag}, nil
	}
	return state{read: true, found: true, obj: obj, etag: b.ETag, actor: b.Actor, data: b.Data}, nil
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
		if st.found && !st.corrupt {
			objs = append(objs, st.obj)
		}
		corrupt = corrupt || st.corrupt
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
			cur = st.etag
		}
		if cur != "" && sameETag(cur, want) && (!st.read || !st.corrupt) {
			final[i] = cur
			continue
		}
		if m.source {
			identical = false
			continue
		}
		var known *state
		switch {
		case st.read:
			known = &states[i]
		case !has:
			known = &state{} // absent when listed: try create-only first
		}
		if !x.allow(ctx) {
			return res, errBudget
		}
		etag, wrote, exact, err := x.mergeWrite(ctx, m, h, merged, data, known, w.c.Params.LWW)
		if wrote {
			res.writes++
		}
		if err != nil {
			m.failed = true
			errs = append(errs, err)
			continue
		}
		final[i] = etag
		identical = identical && exact
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if gone(merged, x.deps.Now()) && (allSame(final) || identical) {
		res.cand = &candidate{hash: h, obj: merged, etags: final, identical: identical}
	}
	return res, nil
}

// mergeWrite makes member m's replica of key hash h include obj, with the
// semantics of the coordinator's read repair: merge with what the replica
// holds (never overwrite), keep the object's minting identity (actor) when it
// is the node's current one, else mint a new one, and write conditionally
// (If-Match the ETag read, or create-only), re-reading after a lost race.
// known, when not nil, is the replica's state already read or listed. It
// returns the replica's ETag afterwards, whether it wrote, and whether the
// replica then holds exactly data (nothing it held was news to obj).
func (x *run) mergeWrite(ctx context.Context, m *member, h merkle.Hash, obj vclock.Object, data []byte, known *state, lww bool) (etag string, wrote, exact bool, err error) {
	name := dataName(h)
	for attempt := 0; attempt < x.cfg.CASRetries; attempt++ {
		var st state
		if attempt == 0 && known != nil {
			st = *known
		} else {
			var err error
			if st, err = x.read(ctx, m, h); err != nil {
				return "", false, false, err
			}
		}
		mdata := data
		if st.found && !st.corrupt {
			mo := vclock.MergeObjects(obj, st.obj)
			if lww {
				mo = vclock.LastWriteWins(mo)
			}
			if !mo.Equal(obj) {
				mdata = vclock.Encode(mo)
			}
			if bytes.Equal(st.data, mdata) {
				return st.etag, false, bytes.Equal(mdata, data), nil // already there
			}
		}
		actor := st.actor
		if !st.found || st.corrupt || !actorValid(actor, m.node) {
			actor = kv.ActorFor(m.node.ID, m.node.Incarnation, x.deps.Rand())
		}
		ifMatch := ""
		if st.found {
			ifMatch = st.etag
		}
		etag, err := counted{x}.Put(ctx, m.node.Location, name, mdata, actor, ifMatch)
		if errors.Is(err, kv.ErrPrecondition) || (errors.Is(err, kv.ErrNotFound) && st.found) {
			continue
		}
		if err != nil {
			return "", false, false, fmt.Errorf("write %s on %s: %w", name, m.node.ID, err)
		}
		return etag, true, bytes.Equal(mdata, data), nil
	}
	return "", false, false, fmt.Errorf("write %s on %s: %w after %d attempts", name, m.node.ID, kv.ErrPrecondition, x.cfg.CASRetries)
}

// actorValid reports whether an object's recorded actor may keep minting on
// node n: it must be n's, of n's current incarnation.
func actorValid(actor string, n kv.Node) bool {
	id, inc, err := kv.ParseActor(actor)
	return err == nil && id == n.ID && inc == n.Incarnation
}

func allSame(etags []string) bool {
	for _, e := range etags {
		if e == "" || !sameETag(e, etags[0]) {
			return false
		}
	}
	return len(etags) > 0
}
