// Convergent data types (core/crdt) over the replica objects: a typed key's
// state is the value of its siblings, marked with crdt.ContentType, so it
// travels through hints, transfers and repair like any value. Concurrent
// states stay vclock siblings until the next operation at a replica merges
// them; reads merge them, so a typed key never has siblings for its client.
// An operation is applied at the replica that commits it, with that replica
// object's actor, inside the same conditional write that mints its dot.

package coordinator

import (
	"context"
	"errors"
	"fmt"

	"github.com/cartwheel/cartwheel/core/crdt"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// TypedResult is a typed key's merged state and its context (the signed
// state, for a later remove).
type TypedResult struct {
	// Found is false for an absent (never written, or deleted) key.
	Found   bool
	State   crdt.State
	Context string
}

// typedOp is an operation carried to the commit (through Options and the
// put's condition), with the state its client context holds.
type typedOp struct {
	op  crdt.Op
	ctx *crdt.State
}

// maxTypedContext bounds a typed context token: the state of a replica
// object, in base64.
func (c *Coordinator) maxTypedContext() int { return c.cfg.Limits.MaxObjectBytes/3*4 + 64 }

// GetTyped reads a typed key (quorum R, read repair as Get) and merges its
// siblings. A key holding opaque values, or states of two types written
// concurrently, fails with crdt.ErrTypeMismatch.
func (c *Coordinator) GetTyped(ctx context.Context, key string, opt Options) (TypedResult, error) {
	g, err := c.Get(ctx, key, opt)
	if err != nil {
		return TypedResult{}, err
	}
	v, err := c.views.get(ctx, c.deps.Now())
	if err != nil {
		return TypedResult{}, err
	}
	return c.typedResult(*v.cluster.ContextKeys, key, g.Siblings)
}

// Update applies one operation to a typed key and answers, with
// opt.ReturnBody, the state at the replica that applied it.
func (c *Coordinator) Update(ctx context.Context, key string, op crdt.Op, opt Options) (TypedResult, error) {
	c.stats.add(&c.stats.Puts, 1)
	if err := op.Check(); err != nil {
		return TypedResult{}, fmt.Errorf("%w: %w", kv.ErrBadRequest, err)
	}
	if opt.IfMatch != "" || opt.IfNoneMatch {
		return TypedResult{}, fmt.Errorf("%w: a data type takes no If-Match or If-None-Match", kv.ErrBadRequest)
	}
	v, err := c.views.get(ctx, c.deps.Now())
	if err != nil {
		return TypedResult{}, err
	}
	keys := *v.cluster.ContextKeys
	t := &typedOp{op: op}
	if op.Context != "" {
		body, err := kv.DecodeBlobContext(keys, key, op.Context, c.maxTypedContext(), c.deps.Now())
		if err != nil {
			return TypedResult{}, err
		}
		s, err := crdt.Decode(body, crdt.DefaultDecodeLimits())
		if err != nil {
			return TypedResult{}, fmt.Errorf("%w: %v", kv.ErrBadContext, err)
		}
		t.ctx = &s
	}
	exp, err := c.expires(opt, c.deps.Now())
	if err != nil {
		return TypedResult{}, err
	}
	want := opt.ReturnBody
	opt.ReturnBody, opt.typed = true, t
	res, err := c.put(ctx, key, "", vclock.Sibling{ContentType: crdt.ContentType, Expires: exp}, opt, "update")
	if err != nil || !want {
		return TypedResult{}, err
	}
	return c.typedResult(keys, key, res.Body.Siblings)
}

// typedResult merges the live siblings of a typed key.
func (c *Coordinator) typedResult(keys kv.ContextKeys, key string, sibs []vclock.Sibling) (TypedResult, error) {
	st, found, err := mergeTyped(sibs)
	if err != nil || !found {
		return TypedResult{}, err
	}
	return TypedResult{Found: true, State: st, Context: kv.EncodeBlobContext(keys, key, crdt.Encode(st))}, nil
}

// mergeTyped merges the states of live siblings; found is false when there
// are none. Opaque siblings, or states of different types, are a mismatch.
func mergeTyped(sibs []vclock.Sibling) (st crdt.State, found bool, err error) {
	for _, s := range sibs {
		if s.Tombstone {
			continue
		}
		if s.ContentType != crdt.ContentType {
			return crdt.State{}, false, fmt.Errorf("%w: the key holds opaque values (use /kv)", crdt.ErrTypeMismatch)
		}
		x, err := crdt.Decode(s.Value, crdt.DefaultDecodeLimits())
		if err != nil {
			return crdt.State{}, false, fmt.Errorf("state of version %s: %w", s.Dot, err)
		}
		switch {
		case !found:
			st, found = x, true
		case x.Root.Type != st.Root.Type:
			return crdt.State{}, false, fmt.Errorf("%w: the key holds a %s and a %s written concurrently", crdt.ErrTypeMismatch, st.Root.Type, x.Root.Type)
		default:
			st = crdt.Merge(st, x)
		}
	}
	return st, found, nil
}

// IsTyped reports whether every live sibling holds a data type's state (and
// there is at least one): the key is typed, and /kv must not use it.
func IsTyped(sibs []vclock.Sibling) bool {
	n := 0
	for _, s := range sibs {
		if s.Tombstone {
			continue
		}
		if s.ContentType != crdt.ContentType {
			return false
		}
		n++
	}
	return n > 0
}

// rejection is an error found at the commit that stops the put (it is not a
// replica failure to retry elsewhere): it matches ErrConditionFailed, and
// its cause, whose message it keeps.
type rejection struct{ err error }

func (r rejection) Error() string   { return r.err.Error() }
func (r rejection) Unwrap() []error { return []error{ErrConditionFailed, r.err} }

func rejected(err error) error { return rejection{err} }

// reservedType refuses an opaque put that claims the data types' content
// type (at a commit, and before a one-round put).
func reservedType(sib vclock.Sibling) error {
	if sib.ContentType == crdt.ContentType {
		return rejected(fmt.Errorf("%w: content type %s is reserved for data types (use /crdt)", kv.ErrBadRequest, crdt.ContentType))
	}
	return nil
}

// mint makes the replica's next object: vclock.Update for an opaque value or
// a tombstone, and for a typed operation the merge of the replica's states
// with the operation applied under the minted dot. An opaque put that would
// sit beside a typed state it does not supersede, or that claims the typed
// content type, is refused, and so is an operation on a key holding opaque
// values or another type.
func (k condition) mint(local vclock.Object, ctx vclock.Clock, a vclock.Actor, sib vclock.Sibling, now int64) (vclock.Object, vclock.Dot, error) {
	if k.typed == nil {
		if sib.Tombstone {
			next, dot := vclock.Update(local, ctx, a, sib, now)
			return next, dot, nil
		}
		if err := reservedType(sib); err != nil {
			return vclock.Object{}, vclock.Dot{}, err
		}
		for _, s := range local.Visible(k.now) {
			if s.ContentType == crdt.ContentType && !ctx.Covers(s.Dot) {
				return vclock.Object{}, vclock.Dot{}, rejected(fmt.Errorf("%w: the key holds a data type (use /crdt)", crdt.ErrTypeMismatch))
			}
		}
		next, dot := vclock.Update(local, ctx, a, sib, now)
		return next, dot, nil
	}
	// Expired states are gone (their dots stay in the clock, so the new
	// version supersedes them here); the update starts from what a read
	// at the request's time shows, and its own TTL applies to all of it.
	st, _, err := mergeTyped(local.Visible(k.now))
	if err != nil {
		return vclock.Object{}, vclock.Dot{}, rejected(err)
	}
	// The new version supersedes every version this replica holds: its
	// state is their merge. Only the local clock, never the client's, so
	// no other replica's state is superseded unseen.
	next, dot := vclock.Update(local, local.Clock, a, sib, now)
	st, err = crdt.Apply(st, k.typed.op, k.typed.ctx, a, dot.Counter, now)
	if err != nil {
		if errors.Is(err, crdt.ErrBadOp) {
			err = fmt.Errorf("%w: %w", kv.ErrBadRequest, err)
		}
		return vclock.Object{}, vclock.Dot{}, rejected(err)
	}
	for i := range next.Siblings {
		if next.Siblings[i].Dot == dot {
			next.Siblings[i].Value = crdt.Encode(st)
		}
	}
	return next, dot, nil
}
