// A put in one round (issue 26): with a context, the new version goes to all
// N replicas at once in one parallel round of conditional PUTs, and the put
// answers once W of them stored it: the W-th fastest of N writes, with no
// commit at one replica first.
//
// What makes one round safe is the dot: the coordinator process mints it
// (minter.go), unique without any replica's conditional write, so racing puts
// with one context get different dots and both survive as siblings, and a put
// that dies halfway leaves a version that stays, as a put that died after its
// commit does. (A dot minted by a replica cannot go out before that replica
// accepted it: copies sent beside the commit either share a dot with a racing
// put's or, if they are made to die when it wins, take what they replaced
// with them; see the README.) Each replica's write is conditional on the
// state the context saw there (one PUT), or reads and merges where the
// context saw nothing or the replica changed since; a merge never overwrites.
//
// Its cost is a clock entry per (coordinator process, key) that writes in one
// round, beside the replicas' own; the entries of processes long gone are
// pruned (pruneMinted), as Riak pruned client actors.

package coordinator

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// oneRound reports whether a put goes in one round: it has a context and no
// condition, writes no data type, wants no body back (which would need the
// replicas' other versions), and the key is not last-write-wins, under the
// local quorum or in a ring change (whose forward follows a commit). A blind
// put keeps its commit at one replica: a new key costs one PUT there, and the
// sibling limits are checked against what that replica holds.
func (c *Coordinator) oneRound(p *plan, kctx kv.Context, cond condition, opt Options) bool {
	return c.cfg.OneRoundPut && len(kctx.Clock) > 0 && !cond.set() && cond.typed == nil && !opt.ReturnBody &&
		!p.v.cluster.Params.LWW && p.prefer == nil && p.v.next == nil
}

// putOneRound writes sib to every target at once, with a dot this process
// mints, and answers once W (PW) of them hold it.
func (c *Coordinator) putOneRound(ctx context.Context, p *plan, v *view, targets []target, kctx kv.Context, sib vclock.Sibling,
	wq quorumSpec, op string, start time.Time) (PutResult, error) {
	if err := reservedType(sib); err != nil { // as condition.mint refuses it at a commit
		return PutResult{}, err
	}
	now := c.deps.Now().UnixMilli()
	sib = vclock.NewVersion(sib, c.minter.next(p.key, kctx.Clock), now)
	obj := vclock.Object{Key: p.key, Clock: kctx.Clock.With(sib.Dot, now), Siblings: []vclock.Sibling{sib}}
	obj = c.pruneMinted(obj, now)
	data, err := c.encodeBounded(p.key, obj)
	if err != nil {
		return PutResult{}, err
	}
	c.stats.add(&c.stats.OneRoundPuts, 1)
	// Replicas the context saw (or this process learned since) get one
	// conditional PUT; the others are read and merged.
	res := c.replicate(ctx, p, nil, obj, data, replica.State{Found: true}, kctx, targets, wq)
	done := committed{obj: obj, data: data, dot: sib.Dot, now: now}
	return c.answerPut(v, p.key, kctx, done, res, wq, nil, op, start, false)
}

// pruneMinted bounds the entries of coordinator actors in a one-round put's
// clock (Config.Prune, or vclock.DefaultPrunePolicy: past 50 entries, the
// oldest that are older than 20 s; past maxClockEntries, the oldest whatever
// their age): replicas' actors and any actor with a version are kept.
// Pruning forgets history: a replica that missed it and still holds a
// version an entry covered may bring that version back as a sibling (never
// a lost write).
func (c *Coordinator) pruneMinted(o vclock.Object, now int64) vclock.Object {
	policy := vclock.DefaultPrunePolicy()
	if c.cfg.Prune != nil {
		policy = *c.cfg.Prune
	}
	if len(o.Clock) <= policy.Small {
		return o
	}
	keep := map[vclock.Actor]bool{}
	for _, e := range o.Clock {
		if !strings.HasPrefix(string(e.Actor), CoordinatorActorPrefix) {
			keep[e.Actor] = true
		}
	}
	for _, s := range o.Siblings {
		keep[s.Dot.Actor] = true
	}
	o.Clock = vclock.Prune(o.Clock, now, policy, keep)
	// However young: a key written by very many processes at once keeps
	// its contexts far below their limit (kv.Limits.MaxContextBytes).
	o.Clock = vclock.Prune(o.Clock, now, vclock.PrunePolicy{Small: maxClockEntries, Big: maxClockEntries, Old: math.MaxInt64}, keep)
	return o
}

// maxClockEntries caps a one-round put's clock whatever the entries' ages
// (about 35 bytes each in a context).
const maxClockEntries = 100
