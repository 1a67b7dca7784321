package vclock

import (
	"bytes"
	"fmt"
	"sort"
)

// Sibling is one version of a key's value, named by the dot that created it.
type Sibling struct {
	// Dot is the write event that created this version.
	Dot Dot
	// Time is the coordinator's Unix-millisecond time of the write; it orders
	// versions only in last-write-wins mode and is shown to users.
	Time int64
	// Expires is the coordinator's Unix-millisecond time after which this
	// version is expired (never shown by a read); 0 means never. A
	// tombstone never expires. See expiry.go.
	Expires int64
	// Tombstone marks a delete; a tombstone has no value and no content type.
	Tombstone bool
	// ContentType is the value's media type as given by the writer.
	ContentType string
	// Value is the stored bytes.
	Value []byte
}

// Object is a dotted causal container: the versions of one key that are not
// known to be superseded (Siblings, sorted by dot) and everything the replica
// has seen of the key's history (Clock). Invariant: Clock covers every
// sibling's dot, and no two siblings share a dot. The zero Object (with a key)
// is the empty, never-written state.
type Object struct {
	Key      string
	Clock    Clock
	Siblings []Sibling
}

// Validate checks the Object invariants.
func (o Object) Validate() error {
	if err := o.Clock.Validate(); err != nil {
		return err
	}
	for i, s := range o.Siblings {
		if !o.Clock.Covers(s.Dot) || s.Dot.Counter == 0 {
			return fmt.Errorf("vclock: sibling %s not covered by clock %s", s.Dot, o.Clock)
		}
		if i > 0 && !o.Siblings[i-1].Dot.Less(s.Dot) {
			return fmt.Errorf("vclock: sibling %s: dots not strictly sorted", s.Dot)
		}
		if s.Tombstone && (len(s.Value) > 0 || s.ContentType != "") {
			return fmt.Errorf("vclock: tombstone %s carries a value", s.Dot)
		}
		if err := s.validExpiry(); err != nil {
			return err
		}
	}
	return nil
}

// Live returns the siblings that are not tombstones. A key with no live
// sibling is absent (never written, or deleted).
func (o Object) Live() []Sibling {
	var out []Sibling
	for _, s := range o.Siblings {
		if !s.Tombstone {
			out = append(out, s)
		}
	}
	return out
}

// Empty reports whether the object has no history at all.
func (o Object) Empty() bool { return len(o.Clock) == 0 && len(o.Siblings) == 0 }

// Update records a new write at the replica whose actor is a: the new version v
// (its Dot is ignored and replaced) supersedes every local sibling that the
// writer's context ctx covers, and is concurrent with the rest, which stay as
// siblings. The dot is minted after both the local clock and ctx, so it is new
// even if ctx carries events this replica has not stored. It returns the new
// object and the minted dot; local is not modified.
//
// The actor must never have minted a dot this replica does not know of: a
// replica object that lost its state (wiped, deleted and re-created) must mint
// with a new actor. Raising a counter to skip "possibly used" values is no
// substitute: a version vector is downward closed, so it would claim to have
// seen (and so supersede) every lower dot of that actor.
func Update(local Object, ctx Clock, a Actor, v Sibling, now int64) (Object, Dot) {
	base := Merge(local.Clock, ctx)
	clock, dot := base.Event(a, now)
	v = NewVersion(v, dot, now)
	sibs := make([]Sibling, 0, len(local.Siblings)+1)
	for _, s := range local.Siblings {
		if !ctx.Covers(s.Dot) {
			sibs = append(sibs, s)
		}
	}
	sibs = append(sibs, v)
	sortSiblings(sibs)
	return Object{Key: local.Key, Clock: clock, Siblings: sibs}, dot
}

// NewVersion returns v as the version written as dot at time now: a
// tombstone keeps no value, content type or expiry.
func NewVersion(v Sibling, dot Dot, now int64) Sibling {
	v.Dot, v.Time = dot, now
	if v.Tombstone {
		v.Value, v.ContentType, v.Expires = nil, "", 0
	}
	return v
}

// MergeObjects is syntactic reconciliation of two replicas of one key: a version
// survives if the other side has it too or has not seen its dot; everything
// either side saw is remembered. It is commutative, associative and
// idempotent, so replicas converge whatever order repairs arrive in. The
// result takes a's key.
func MergeObjects(a, b Object) Object {
	out := Object{Key: a.Key, Clock: Merge(a.Clock, b.Clock)}
	i, j := 0, 0
	for i < len(a.Siblings) || j < len(b.Siblings) {
		switch {
		case j == len(b.Siblings) || (i < len(a.Siblings) && a.Siblings[i].Dot.Less(b.Siblings[j].Dot)):
			if s := a.Siblings[i]; !b.Clock.Covers(s.Dot) {
				out.Siblings = append(out.Siblings, s)
			}
			i++
		case i == len(a.Siblings) || b.Siblings[j].Dot.Less(a.Siblings[i].Dot):
			if s := b.Siblings[j]; !a.Clock.Covers(s.Dot) {
				out.Siblings = append(out.Siblings, s)
			}
			j++
		default: // same dot on both sides: both keep it
			out.Siblings = append(out.Siblings, pick(a.Siblings[i], b.Siblings[j]))
			i++
			j++
		}
	}
	return out
}

// Reconcile merges any number of replicas of one key (see MergeObjects).
// Reconcile of no objects is the empty object with key "".
func Reconcile(objs ...Object) Object {
	var out Object
	for i, o := range objs {
		if i == 0 {
			out = o
			continue
		}
		out = MergeObjects(out, o)
	}
	return out
}

// pick chooses deterministically between two siblings with the same dot. Dots
// are unique by construction, so they are normally identical; if corruption
// ever made them differ, the choice must still be the same on every replica.
func pick(a, b Sibling) Sibling {
	if a.Time != b.Time {
		if a.Time > b.Time {
			return a
		}
		return b
	}
	if a.Expires != b.Expires {
		if a.Expires > b.Expires {
			return a
		}
		return b
	}
	if a.Tombstone != b.Tombstone {
		if a.Tombstone {
			return b
		}
		return a
	}
	if c := bytes.Compare(a.Value, b.Value); c != 0 {
		if c > 0 {
			return a
		}
		return b
	}
	if a.ContentType >= b.ContentType {
		return a
	}
	return b
}

// LastWriteWins collapses the object to its newest sibling by (Time, Dot),
// the opt-in mode that loses concurrent writes. The clock is kept whole so the
// discarded versions stay superseded everywhere.
func LastWriteWins(o Object) Object {
	if len(o.Siblings) <= 1 {
		return o
	}
	best := o.Siblings[0]
	for _, s := range o.Siblings[1:] {
		if s.Time > best.Time || (s.Time == best.Time && best.Dot.Less(s.Dot)) {
			best = s
		}
	}
	return Object{Key: o.Key, Clock: o.Clock, Siblings: []Sibling{best}}
}

// PruneObject prunes the object's clock per p at time now, never dropping the
// entry of an actor that has a sibling. See Prune.
func PruneObject(o Object, now int64, p PrunePolicy) Object {
	keep := make(map[Actor]bool, len(o.Siblings))
	for _, s := range o.Siblings {
		keep[s.Dot.Actor] = true
	}
	o.Clock = Prune(o.Clock, now, p, keep)
	return o
}

// Equal reports whether o and b have the same logical content.
func (a Object) Equal(b Object) bool {
	if a.Key != b.Key || len(a.Clock) != len(b.Clock) || len(a.Siblings) != len(b.Siblings) {
		return false
	}
	for i := range a.Clock {
		if !a.Clock[i].equal(b.Clock[i]) {
			return false
		}
	}
	for i := range a.Siblings {
		x, y := a.Siblings[i], b.Siblings[i]
		if x.Dot != y.Dot || x.Time != y.Time || x.Expires != y.Expires || x.Tombstone != y.Tombstone ||
			x.ContentType != y.ContentType || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func sortSiblings(s []Sibling) {
	sort.Slice(s, func(i, j int) bool { return s[i].Dot.Less(s[j].Dot) })
}
