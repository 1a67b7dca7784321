// The pure half of a key listing: grouping the nodes' listings by key hash,
// the liveness rule, and choosing a page. No I/O.

package coordinator

import (
	"slices"
	"strings"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// liveAt reports whether a read at time now would return a version of o: the
// one liveness rule of key listings, the same as a get's (vclock's Visible).
// A key whose every version is deleted or expired is not live.
func liveAt(o vclock.Object, now time.Time) bool {
	return len(o.Visible(now.UnixMilli())) > 0
}

// replicaCopy is one replica object of a key found by a listing.
type replicaCopy struct {
	node string // the id of the node whose location holds it
	name string // its object name
	etag string
}

// keyHashOf returns the key hash (32 hex digits) of a replica object name,
// "data/<hash>" or "hints/<hash>/<intended>", and false for any other name.
func keyHashOf(name string) (string, bool) {
	var h string
	if rest, ok := strings.CutPrefix(name, kv.DataPrefix); ok {
		h = rest
	} else if rest, ok := strings.CutPrefix(name, kv.HintPrefix); ok {
		i := strings.IndexByte(rest, '/')
		if i < 0 || i == len(rest)-1 {
			return "", false
		}
		h = rest[:i]
	} else {
		return "", false
	}
	if len(h) != 32 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", false
	}
	return h, true
}

// groupCopies adds a node's listing to groups (key hash -> its copies),
// ignoring objects that are not replicas.
func groupCopies(groups map[string][]replicaCopy, node string, items []kv.Listed) {
	for _, it := range items {
		if h, ok := keyHashOf(it.Name); ok {
			groups[h] = append(groups[h], replicaCopy{node: node, name: it.Name, etag: it.ETag})
		}
	}
}

// distinctETags returns one copy per distinct ETag, in ETag order. Replica
// objects are canonical, so copies with one ETag hold the same bytes.
func distinctETags(copies []replicaCopy) []replicaCopy {
	out := slices.Clone(copies)
	slices.SortStableFunc(out, func(a, b replicaCopy) int { return strings.Compare(a.etag, b.etag) })
	return slices.CompactFunc(out, func(a, b replicaCopy) bool { return a.etag == b.etag })
}

// inRange reports whether key belongs to a listing of prefix after the key
// after ("" : from the start).
func inRange(key, prefix, after string) bool {
	return strings.HasPrefix(key, prefix) && key > after
}

// sortedUnique sorts the live keys found and drops repeats.
func sortedUnique(live []string) []string {
	slices.Sort(live)
	return slices.Compact(live)
}

// stripValues returns o without its values: what liveness and merging need,
// kept in the listing cache.
func stripValues(o vclock.Object) vclock.Object {
	s := make([]vclock.Sibling, len(o.Siblings))
	for i, sib := range o.Siblings {
		s[i] = vclock.Sibling{Dot: sib.Dot, Time: sib.Time, Expires: sib.Expires, Tombstone: sib.Tombstone}
	}
	return vclock.Object{Key: o.Key, Clock: o.Clock, Siblings: s}
}
