// Key listings: GET /keys. Replica objects are named by the MD5 of their key,
// so no listing is in key order and a key's name is only inside its object.
// A page therefore lists every node's replicas (data and hinted), groups them
// by key hash, learns each key and its liveness from the object (cached by
// ETag: a replica object's bytes, hence its key and versions, are a function
// of its ETag), and answers the first keys in byte order after the cursor.
// The live keys after the page are kept for a while (a snapshot named in the
// cursor), so the following pages, in this process, cost no request. None of
// this touches a get or a put.

package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// Listing limits.
const (
	// MaxListLimit is the largest page a request may ask for.
	MaxListLimit = 10000
	// listPage is the size of one store listing request (S3's maximum).
	listPage = 1000
	// listFetchers bounds the replica reads a page runs at once.
	listFetchers = 16
	// listCacheBytes bounds the listing cache (keys and clocks, no values).
	listCacheBytes = 32 << 20
	// ListSnapshotTTL is how long the keys of a listing's first page scan
	// serve its following pages.
	ListSnapshotTTL = time.Minute
	// listSnapshots and listSnapshotBytes bound the snapshots kept.
	listSnapshots     = 16
	listSnapshotBytes = 16 << 20
)

// ListCursor is where a listing resumes: after the key After, from the
// snapshot named Snapshot if this process still holds it (else from a new
// scan). The zero cursor is the start.
type ListCursor struct {
	Snapshot string
	After    string
}

// KeyPage is one page of a key listing.
type KeyPage struct {
	// Keys are live keys in byte order.
	Keys []string
	// More reports that live keys follow the last one; Next then resumes
	// the listing.
	More bool
	Next ListCursor
	// Lists and Gets count the store requests the page made.
	Lists, Gets int
}

// listCache maps a replica object's ETag to its key and versions without
// values. The entry of an ETag never changes, so the cache is never stale;
// past its budget it is emptied.
type listCache struct {
	mu    sync.Mutex
	m     map[string]vclock.Object
	bytes int
}

func (lc *listCache) get(etag string) (vclock.Object, bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	o, ok := lc.m[etag]
	return o, ok
}

func (lc *listCache) put(etag string, o vclock.Object) {
	size := len(etag) + len(o.Key) + 48*(len(o.Clock)+len(o.Siblings)) + 64
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.m == nil || lc.bytes+size > listCacheBytes {
		lc.m, lc.bytes = map[string]vclock.Object{}, 0
	}
	if _, ok := lc.m[etag]; !ok {
		lc.m[etag] = o
		lc.bytes += size
	}
}

// ListKeys returns the first limit live keys that start with prefix and sort
// after the cursor's key, in byte order, each once whichever replicas hold it.
// A page after the first comes from the first page's snapshot while this
// process holds it (ListSnapshotTTL), so a key present for the whole listing
// appears exactly once and a key deleted during it may still appear.
// A key is live when the merge of its replica objects has a version a read
// would return (liveAt). Every node's storage is listed; a page tolerates
// fewer than W nodes that fail (each acknowledged write is on W of them) and
// otherwise fails with a *kv.QuorumError.
func (c *Coordinator) ListKeys(ctx context.Context, prefix string, cur ListCursor, limit int) (KeyPage, error) {
	if limit < 1 || limit > MaxListLimit {
		return KeyPage{}, fmt.Errorf("%w: limit %d must be in [1, %d]", kv.ErrBadRequest, limit, MaxListLimit)
	}
	now := c.deps.Now()
	after := cur.After
	if keys, ok := c.snaps.get(cur.Snapshot, prefix, now); ok {
		return snapshotPage(keys, cur, limit), nil
	}
	v, err := c.views.get(ctx, now)
	if err != nil {
		return KeyPage{}, err
	}
	nodes := v.cluster.Nodes
	var page KeyPage
	groups, failed, lists, errs := c.listAll(ctx, nodes)
	page.Lists = lists
	if need := len(nodes) - v.cluster.Params.W + 1; len(nodes)-len(failed) < need {
		return page, &kv.QuorumError{Op: "list", Got: len(nodes) - len(failed), Need: need, Errs: errs}
	}
	locs := map[string]kv.Location{}
	for _, n := range nodes {
		locs[n.ID] = n.Location
	}
	lww := v.cluster.Params.LWW
	var (
		mu      sync.Mutex
		live    []string
		readErr error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, listFetchers)
	)
	for _, copies := range groups {
		distinct := distinctETags(copies)
		if key, ok := c.cachedKey(distinct); ok && !inRange(key, prefix, after) {
			continue // a known key outside the page: no read
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			o, gets, err := c.mergedCopies(ctx, distinct, copies, locs)
			mu.Lock()
			defer mu.Unlock()
			page.Gets += gets
			switch {
			case err != nil:
				readErr = errors.Join(readErr, err)
			case lww && liveAt(vclock.LastWriteWins(o), now), !lww && liveAt(o, now):
				if inRange(o.Key, prefix, after) {
					live = append(live, o.Key)
				}
			}
		}()
	}
	wg.Wait()
	if readErr != nil {
		return page, &kv.QuorumError{Op: "list", Got: 0, Need: 1, Errs: []error{readErr}}
	}
	live = sortedUnique(live)
	page.Keys, page.More = slices.Clone(live[:min(limit, len(live))]), len(live) > limit
	if page.More {
		page.Next = ListCursor{After: page.Keys[len(page.Keys)-1]}
		page.Next.Snapshot = c.snaps.put(fmt.Sprintf("%016x", c.deps.Rand()), prefix, live[len(page.Keys):], now)
	}
	return page, nil
}

// cachedKey returns the key of a group of copies if the cache knows any of them.
func (c *Coordinator) cachedKey(distinct []replicaCopy) (string, bool) {
	for _, cp := range distinct {
		if o, ok := c.listed.get(cp.etag); ok {
			return o.Key, true
		}
	}
	return "", false
}

// listAll lists every node's storage and groups the replica objects by key
// hash; it returns the nodes whose listing failed and the LIST requests made.
func (c *Coordinator) listAll(ctx context.Context, nodes []kv.Node) (map[string][]replicaCopy, map[string]bool, int, []error) {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		groups = map[string][]replicaCopy{}
		failed = map[string]bool{}
		lists  int
		errs   []error
	)
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items, count, err := c.listNode(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			lists += count
			if err != nil {
				failed[n.ID] = true
				errs = append(errs, err)
				return
			}
			groupCopies(groups, n.ID, items)
		}()
	}
	wg.Wait()
	return groups, failed, lists, errs
}

// listNode lists every object of one node, page by page.
func (c *Coordinator) listNode(ctx context.Context, n kv.Node) ([]kv.Listed, int, error) {
	var out []kv.Listed
	after, count := "", 0
	for {
		rctx, cancel := c.replicaCtx(ctx)
		items, more, err := c.deps.Store.List(rctx, n.Location, "", after, listPage)
		cancel()
		count++
		c.stats.add(&c.stats.BackendLists, 1)
		if err != nil {
			return nil, count, fmt.Errorf("list node %s: %w", n.ID, err)
		}
		out = append(out, items...)
		if !more || len(items) == 0 {
			return out, count, nil
		}
		after = items[len(items)-1].Name
	}
}

// mergedCopies returns the merge of one object per distinct ETag, from the
// cache or read from any copy with that ETag.
func (c *Coordinator) mergedCopies(ctx context.Context, distinct, copies []replicaCopy, locs map[string]kv.Location) (vclock.Object, int, error) {
	var merged vclock.Object
	gets := 0
	for _, d := range distinct {
		o, ok := c.listed.get(d.etag)
		if !ok {
			var n int
			var err error
			o, n, err = c.readCopy(ctx, d.etag, copies, locs)
			gets += n
			if err != nil {
				return vclock.Object{}, gets, err
			}
		}
		switch {
		case o.Key == "": // gone since the listing, or corrupt: nothing to merge
		case merged.Key == "":
			merged = o
		default:
			merged = vclock.MergeObjects(merged, o)
		}
	}
	return merged, gets, nil
}

// readCopy reads an object with the given ETag from the first copy that
// answers, and caches it. A corrupt object counts as empty (repair rewrites
// it); a copy gone since the listing is skipped.
func (c *Coordinator) readCopy(ctx context.Context, etag string, copies []replicaCopy, locs map[string]kv.Location) (vclock.Object, int, error) {
	gets := 0
	var errs []error
	for _, cp := range copies {
		if cp.etag != etag {
			continue
		}
		blob, err := c.rio.Store.Get(ctx, locs[cp.node], cp.name)
		gets++
		if errors.Is(err, kv.ErrNotFound) {
			continue // deleted since the listing (a clean-up or a reap): another copy may remain
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s on %s: %w", cp.name, cp.node, err))
			continue
		}
		st, err := replica.Decode(blob, replica.AnyKey) // a listing learns keys from objects
		if err != nil {
			c.logger(ctx).Warn("corrupt replica object in a listing", "node", cp.node, "name", cp.name, "err", err)
			return vclock.Object{}, gets, nil
		}
		o := stripValues(st.Obj) // a stub holds nothing
		if blob.ETag == etag {
			c.listed.put(etag, o)
		}
		return o, gets, nil
	}
	if len(errs) > 0 {
		return vclock.Object{}, gets, errors.Join(errs...)
	}
	return vclock.Object{}, gets, nil // every copy is gone: nothing to merge
}

// snapshotPage is the page after cur from a snapshot's sorted keys.
func snapshotPage(keys []string, cur ListCursor, limit int) KeyPage {
	i, found := slices.BinarySearch(keys, cur.After)
	if found {
		i++
	}
	end := min(i+limit, len(keys))
	p := KeyPage{Keys: slices.Clone(keys[i:end]), More: end < len(keys)}
	if p.More {
		p.Next = ListCursor{Snapshot: cur.Snapshot, After: keys[end-1]}
	}
	return p
}

// snapshot is the live keys a listing's scan found after its first page.
type snapshot struct {
	prefix  string
	keys    []string
	expires time.Time
}

// listSnapshotStore keeps the few latest snapshots, each for
// ListSnapshotTTL.
type listSnapshotStore struct {
	mu sync.Mutex
	m  map[string]snapshot
}

func (s *listSnapshotStore) get(id, prefix string, now time.Time) ([]string, bool) {
	if id == "" {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.m[id]
	if !ok || sn.prefix != prefix || !now.Before(sn.expires) {
		return nil, false
	}
	return sn.keys, true
}

// put keeps keys (sorted) under id and returns id, or "" when they are too
// large to keep.
func (s *listSnapshotStore) put(id, prefix string, keys []string, now time.Time) string {
	size := 0
	for _, k := range keys {
		size += len(k) + 16
	}
	if size > listSnapshotBytes {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]snapshot{}
	}
	for k, sn := range s.m {
		if !now.Before(sn.expires) || len(s.m) >= listSnapshots {
			delete(s.m, k)
		}
	}
	s.m[id] = snapshot{prefix: prefix, keys: slices.Clone(keys), expires: now.Add(ListSnapshotTTL)}
	return id
}
