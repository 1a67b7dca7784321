// The seen cache: replica states this coordinator learned after it had
// answered, so that the next put of the key writes those replicas with one
// conditional PUT instead of a GET and a PUT.
//
// A get answers after R replies; the context it returns names only those
// replicas (kv.Seen), and a put with that context must read any other
// replica before writing it. The other replies usually arrive a moment
// later (and read repair may rewrite a stale one): the cache keeps each
// one's ETag, minting identity and clock. A put's late acknowledgements are
// kept the same way, for a client that reuses the context its put
// returned. A put uses an entry only when the client's context covers the
// entry's clock, which is exactly the condition under which a replica the
// context itself named is written without a read: every version the
// replica holds is then covered by the context, so writing the new version
// over it loses nothing the client did not see. The write is conditional
// on the cached ETag, so a stale entry (another coordinator wrote since)
// only costs the GET it tried to save. Several stateless coordinators each
// have their own cache; none relies on another's.

package coordinator

import (
	"sync"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// seenCacheKeys bounds the cache: the keys it holds at most (the oldest
// recorded key is dropped first). An entry is a few hundred bytes.
const seenCacheKeys = 16384

// cachedSeen is one replica state: where, which version of the object, and
// the clock of what it holds.
type cachedSeen struct {
	seen  kv.Seen
	clock vclock.Clock
}

// seenCache maps key -> node -> the replica state last learned. Safe for
// concurrent use.
type seenCache struct {
	mu   sync.Mutex
	m    map[string]map[string]cachedSeen
	keys fifoKeys // the oldest recorded key goes first
}

func newSeenCache(max int) *seenCache {
	return &seenCache{m: map[string]map[string]cachedSeen{}, keys: fifoKeys{max: max}}
}

// record remembers that node holds, at etag, an object whose clock is clock.
func (c *seenCache) record(key string, s kv.Seen, clock vclock.Clock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nodes, ok := c.m[key]
	if !ok {
		admit(&c.keys, c.m, key)
		nodes = map[string]cachedSeen{}
		c.m[key] = nodes
	}
	nodes[s.Node] = cachedSeen{seen: s, clock: clock}
}

// lookup returns the state of node's replica of key if one is cached and
// ctx covers its clock (every version it holds was seen by the client).
func (c *seenCache) lookup(key, node string, ctx vclock.Clock) (kv.Seen, bool) {
	c.mu.Lock()
	e, ok := c.m[key][node]
	c.mu.Unlock()
	if !ok {
		return kv.Seen{}, false
	}
	switch e.clock.Compare(ctx) {
	case vclock.Before, vclock.Equal:
		return e.seen, true
	}
	return kv.Seen{}, false
}
