package repair

import (
	"context"

	"github.com/cartwheel/cartwheel/core/kv"
)

// stream reads one node's replica objects in name order, a LIST page at a
// time, for partitions visited in increasing order. Pages are shared between
// partitions: a node's listing costs about one request per PageSize objects
// however many partitions they span, and the stream seeks (a LIST starting at
// the partition) over the ranges of partitions the node is not asked for.
type stream struct {
	store kv.ReplicaStore
	loc   kv.Location
	page  int
	buf   []kv.Listed // fetched, not yet consumed, names in increasing order
	last  string      // the last name fetched
	more  bool        // names after last may exist
	pos   string      // the upper bound of the last range taken
}

func newStream(store kv.ReplicaStore, loc kv.Location, page int) *stream {
	return &stream{store: store, loc: loc, page: page, more: true}
}

// take returns the objects with names in [lo, hi]; after is the greatest name
// before lo ("" if none). A range starting at or before the previous one
// (the walk wrapped around the ring) restarts the stream.
func (s *stream) take(ctx context.Context, lo, hi, after string) ([]kv.Listed, error) {
	if s.pos != "" && lo <= s.pos {
		s.buf, s.last, s.more = nil, "", true
	}
	s.pos = hi
	s.drop(lo)
	var out []kv.Listed
	for {
		for len(s.buf) > 0 && s.buf[0].Name <= hi {
			out = append(out, s.buf[0])
			s.buf = s.buf[1:]
		}
		if len(s.buf) > 0 || !s.more {
			return out, nil
		}
		start := max(s.last, after) // seek over names this range does not need
		items, more, err := s.store.List(ctx, s.loc, kv.DataPrefix, start, s.page)
		if err != nil {
			return nil, err
		}
		s.buf, s.more = items, more && len(items) > 0
		if len(items) > 0 {
			s.last = items[len(items)-1].Name
		}
		s.drop(lo)
	}
}

// drop discards buffered names before lo.
func (s *stream) drop(lo string) {
	i := 0
	for i < len(s.buf) && s.buf[i].Name < lo {
		i++
	}
	s.buf = s.buf[i:]
}
