package sim

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/cartwheel/cartwheel/core/crdt"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// Part (c) with cart contents: the same sessions, but each one adds an item
// to its cart or (30%) removes an item it saw, and the carts are either
// opaque values the client merges by union (the paper's cart: a read with
// several versions must be merged by hand, and a union brings deleted items
// back) or typed carts (core/crdt sets, merged by the server, the operation
// applied at the coordinating replica as the coordinator does). Items are
// unique, added once: an item present in a cart's final state after a
// session removed it was brought back.

// cartMode is how a scenario's carts hold their contents.
type cartMode int

const (
	plainCarts cartMode = iota // versions only (the paper's table)
	unionCarts                 // opaque item lists, merged by union
	typedCarts                 // typed sets
)

func (m cartMode) String() string {
	return [...]string{"versions", "union", "typed"}[m]
}

// cartView is what a session read and will write: the items it saw (and,
// typed, the merged state as its context), and its operation.
type cartView struct {
	items  []uint32
	state  crdt.State
	remove uint32 // the item to remove (0: none)
	add    uint32
}

// view builds a session's view of the reconciled read res and picks its
// operation (from the model's own generator, so the plain mode's draws are
// unchanged).
func (v *vsim) view(res vclock.Object) *cartView {
	if v.mode == plainCarts {
		return nil
	}
	if len(res.Live()) > 1 {
		v.row.Merged++
	}
	cv := v.contents(res)
	if len(cv.items) > 0 && v.mrng.IntN(10) < 3 {
		cv.remove = cv.items[v.mrng.IntN(len(cv.items))]
	} else {
		v.nextItem++
		cv.add = v.nextItem
	}
	return cv
}

// contents is what a client sees in the reconciled object res: the union of
// the siblings' items, or the merge of their typed states.
func (v *vsim) contents(res vclock.Object) *cartView {
	live := res.Live()
	cv := &cartView{}
	if v.mode == unionCarts {
		seen := map[uint32]bool{}
		for _, s := range live {
			for i := 0; i+4 <= len(s.Value); i += 4 {
				seen[binary.BigEndian.Uint32(s.Value[i:])] = true
			}
		}
		for it := range seen {
			cv.items = append(cv.items, it)
		}
		slices.Sort(cv.items)
	} else {
		cv.state = typedState(live)
		for _, e := range cv.state.Value().([]string) {
			n, _ := strconv.ParseUint(e, 10, 32)
			cv.items = append(cv.items, uint32(n))
		}
	}
	return cv
}

// typedState merges the typed states of live siblings.
func typedState(live []vclock.Sibling) crdt.State {
	st := crdt.New(crdt.Set)
	for _, s := range live {
		if len(s.Value) == 0 {
			continue // the cart's initial version, before any item
		}
		x, err := crdt.Decode(s.Value, crdt.DefaultDecodeLimits())
		if err != nil {
			panic(err) // the simulator wrote it
		}
		st = crdt.Merge(st, x)
	}
	return st
}

// commit writes a session's new version at its coordinating replica.
func (v *vsim) commit(local vclock.Object, ctx vclock.Clock, a vclock.Actor, cv *cartView, now int64) vclock.Object {
	switch v.mode {
	case unionCarts:
		items := slices.DeleteFunc(slices.Clone(cv.items), func(it uint32) bool { return it == cv.remove })
		if cv.add != 0 {
			items = append(items, cv.add)
		}
		val := make([]byte, 0, 4*len(items))
		for _, it := range items {
			val = binary.BigEndian.AppendUint32(val, it)
		}
		next, _ := vclock.Update(local, ctx, a, vclock.Sibling{Value: val}, now)
		return next
	case typedCarts:
		st := typedState(local.Live())
		next, dot := vclock.Update(local, local.Clock, a, vclock.Sibling{}, now)
		op := crdt.Op{Type: crdt.Set, Add: []string{strconv.FormatUint(uint64(cv.add), 10)}}
		if cv.remove != 0 {
			op = crdt.Op{Type: crdt.Set, Remove: []string{strconv.FormatUint(uint64(cv.remove), 10)}}
		}
		st, err := crdt.Apply(st, op, &cv.state, a, dot.Counter, now)
		if err != nil {
			panic(err) // the view saw what it removes
		}
		for i := range next.Siblings {
			if next.Siblings[i].Dot == dot {
				next.Siblings[i].Value = crdt.Encode(st)
			}
		}
		return next
	}
	next, _ := vclock.Update(local, ctx, a, vclock.Sibling{}, now)
	return next
}

// committed records a committed remove.
func (v *vsim) committed(c *cart, cv *cartView) {
	if cv == nil || cv.remove == 0 {
		return
	}
	if c.removed == nil {
		c.removed = map[uint32]bool{}
	}
	c.removed[cv.remove] = true
	v.row.Removed++
}

// finish reconciles every replica of every cart, as a last read would, and
// counts the removed items present.
func (v *vsim) finish() {
	if v.mode == plainCarts {
		return
	}
	for _, c := range v.carts {
		if len(c.removed) == 0 {
			continue
		}
		objs := make([]vclock.Object, len(c.slots))
		for i, s := range c.slots {
			objs[i] = s.obj
		}
		cv := v.contents(vclock.Reconcile(objs...))
		for _, it := range cv.items {
			if c.removed[it] {
				v.row.BroughtBack++
			}
		}
	}
	if v.row.Reads > 0 {
		v.row.MergedPct = 100 * float64(v.row.Merged) / float64(v.row.Reads)
	}
}

// writeCartRows prints the cart-contents comparison under part (c).
func writeCartRows(w io.Writer, v *VersionResult) {
	if len(v.CartRows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### Typed carts against union carts\n\n")
	fmt.Fprintf(w, "The same sessions, each adding a new item or (30%%) removing one it saw. Union: opaque item lists, a read with several "+
		"versions merged by the client (by union, the paper's cart). Typed: a `/crdt` set, merged by the server. Brought back: removed "+
		"items in the carts' final state.\n\n")
	fmt.Fprintf(w, "| scenario | union: reads merged by hand %% | union: removes | union: brought back | typed: reads merged by hand %% | typed: merged by the server %% | typed: removes | typed: brought back |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|\n")
	for i := 0; i+1 < len(v.CartRows); i += 2 {
		u, t := v.CartRows[i], v.CartRows[i+1]
		fmt.Fprintf(w, "| %s | %s | %d | %d | 0 | %s | %d | %d |\n", u.Scenario.Name, pct(u.MergedPct), u.Removed, u.BroughtBack,
			pct(t.MergedPct), t.Removed, t.BroughtBack)
	}
}

// commitActor is the actor that mints at replica object (node, intended) of
// c. The versions-only rows keep one actor per node, as they always did. With
// contents, each replica object has its own, new whenever the object starts
// empty (created, or emptied by a delivered hint), as kv.ActorFor gives the
// real replicas: two objects of one node minting from their own clocks under
// one actor would mint the same dot for different writes.
func (v *vsim) commitActor(c *cart, node, intended int32) vclock.Actor {
	if v.mode == plainCarts {
		return v.actors[node]
	}
	for _, s := range c.slots {
		if s.node == node && s.intended == intended {
			if s.actor == "" || s.obj.Empty() {
				v.actorSeq++
				s.actor = vclock.Actor(fmt.Sprintf("%s.%d", v.ids[node], v.actorSeq))
			}
			return s.actor
		}
	}
	panic("sim: commit at a replica object that does not exist")
}
