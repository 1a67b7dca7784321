package coordinator

import (
	"context"
	"errors"
	"slices"

	"github.com/cartwheel/cartwheel/core/kv"
)

// markWritten records in the membership record that the key of p was
// written during a ring change without reaching every pending owner: its
// partition loses its "transferred" mark and gets a write mark (kv.WriteMark)
// with the epoch of the record, so the repair job transfers it again before
// the commit, including a transfer running now (it loaded an earlier epoch).
// If the plan was committed or replaced meanwhile, there is nothing to mark:
// the commit's cleanup merges the old owners' copies into the new owners.
// Failures are logged; the cleanup is the backstop.
func (c *Coordinator) markWritten(ctx context.Context, p *plan) {
	part := p.v.ring.Partition(p.key)
	for attempt := 0; attempt < c.cfg.CASRetries; attempt++ {
		cur, err := c.deps.Members.Load(ctx)
		if err != nil {
			c.logger(ctx).Warn("write mark not recorded", "key", p.key, "partition", part, "err", err)
			return
		}
		if cur.Next == nil || !slices.Equal(cur.Next, p.v.cluster.Next) || !slices.Equal(cur.Owners, p.v.cluster.Owners) {
			return // committed or re-planned since
		}
		next := cur
		next.Epoch = cur.Epoch + 1
		rc := kv.RingChange{Seen: c.deps.Now().UnixMilli()}
		if cur.Change != nil {
			rc = *cur.Change
		}
		rc.Done = slices.DeleteFunc(slices.Clone(rc.Done), func(q int) bool { return q == part })
		rc.Marks = slices.DeleteFunc(slices.Clone(rc.Marks), func(m kv.WriteMark) bool { return m.P == part })
		rc.Marks = append(rc.Marks, kv.WriteMark{P: part, Epoch: next.Epoch})
		next.Change = &rc
		err = c.deps.Members.Save(ctx, next, cur.Epoch)
		if errors.Is(err, kv.ErrPrecondition) {
			continue
		}
		if err != nil {
			c.logger(ctx).Warn("write mark not recorded", "key", p.key, "partition", part, "err", err)
		}
		return
	}
	c.logger(ctx).Warn("write mark not recorded: membership kept changing", "key", p.key, "partition", part)
}
