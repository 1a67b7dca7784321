// Package vclock holds Cartwheel's versions and causality: version vectors
// (Clock), dots, and the dotted causal container (Object) that keeps a key's
// concurrent versions (siblings) bounded by the number of truly concurrent
// writers — the "dotted version vector set" of Riak 2.0 (Preguiça et al.).
//
// Actors are replicas, not clients: a replica mints a dot for a new write at
// the moment it commits it (Riak's "vnode as actor"). An actor id includes the
// node's incarnation and a per-object nonce (see kv.ActorFor), so a replica
// whose data was wiped never reuses an old counter (Riak kv679). A put that
// goes to every replica in one round cannot wait for a replica to mint: its
// coordinator process mints the dot under an actor it drew at random for
// that key and counts in memory (coordinator's minter.go), at the cost of a
// clock entry per such (process, key).
//
// Every function is pure: time is passed in as Unix milliseconds.
package vclock

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Actor identifies the replica that minted a dot.
type Actor string

// Dot names one write event: the Counter-th event minted by Actor.
type Dot struct {
	Actor   Actor
	Counter uint64
}

// String renders a dot as "actor:counter".
func (d Dot) String() string { return fmt.Sprintf("%s:%d", d.Actor, d.Counter) }

// Less orders dots by actor, then counter.
func (d Dot) Less(o Dot) bool {
	if d.Actor != o.Actor {
		return d.Actor < o.Actor
	}
	return d.Counter < o.Counter
}

// Entry is one entry of a clock: Actor's events 1..Counter have been seen, and
// so have the single events listed in Extra (a "dot cloud": events seen out of
// order, beyond a gap). Time is the Unix-millisecond time of the newest of the
// contiguous events as recorded by the minting replica; it is used only by
// Prune.
//
// Extra is what lets a context cover exactly what its holder saw: a put whose
// new dot (a, 7) was minted after a concurrent write (a, 6) that the writer
// never saw returns a context covering (a, 7) but not (a, 6), and every object
// that version reaches records the same gap, so (a, 6) survives as a sibling.
// The gap closes (Extra is absorbed into Counter) as soon as the missing event
// is merged in.
type Entry struct {
	Actor   Actor
	Counter uint64
	Time    int64
	// Extra holds single events seen beyond Counter, strictly increasing, each
	// greater than Counter+1; nil for a plain version-vector entry.
	Extra []uint64
}

// covers reports whether the entry has seen event n of its actor.
func (e Entry) covers(n uint64) bool {
	if n <= e.Counter {
		return true
	}
	_, ok := slices.BinarySearch(e.Extra, n)
	return ok
}

// top is the highest event the entry has seen.
func (e Entry) top() uint64 {
	if len(e.Extra) > 0 {
		return e.Extra[len(e.Extra)-1]
	}
	return e.Counter
}

// normalize drops events of Extra already below Counter and absorbs the
// events that continue Counter without a gap. It never modifies e.Extra.
func (e Entry) normalize() Entry {
	i := 0
	for i < len(e.Extra) && e.Extra[i] <= e.Counter+1 {
		if e.Extra[i] == e.Counter+1 {
			e.Counter++
		}
		i++
	}
	if i == len(e.Extra) {
		e.Extra = nil
	} else {
		e.Extra = slices.Clone(e.Extra[i:])
	}
	return e
}

// equal reports whether two entries are identical.
func (e Entry) equal(o Entry) bool {
	return e.Actor == o.Actor && e.Counter == o.Counter && e.Time == o.Time && slices.Equal(e.Extra, o.Extra)
}

// Clock is a set of seen events, held as a version vector with per-actor dot
// clouds: entries sorted by Actor, no duplicate actors, each normalized (see
// Entry). The zero value (nil) is the empty clock. Clocks are values: no
// method modifies its receiver.
type Clock []Entry

// Ordering is the causal relation between two clocks.
type Ordering int

// The four possible relations of a clock a to a clock b.
const (
	Equal      Ordering = iota // a == b
	Before                     // a < b: b has seen everything a has, and more
	After                      // a > b
	Concurrent                 // neither has seen all of the other
)

// String names the ordering.
func (o Ordering) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	default:
		return "concurrent"
	}
}

// Validate checks the Clock invariants.
func (c Clock) Validate() error {
	for i, e := range c {
		if e.Actor == "" {
			return fmt.Errorf("vclock: entry %d: empty actor", i)
		}
		if e.Counter == 0 && len(e.Extra) == 0 {
			return fmt.Errorf("vclock: entry %d (%s): zero counter", i, e.Actor)
		}
		for k, x := range e.Extra {
			if (k == 0 && x <= e.Counter+1) || (k > 0 && x <= e.Extra[k-1]) {
				return fmt.Errorf("vclock: entry %d (%s): extra events not normalized", i, e.Actor)
			}
		}
		if i > 0 && c[i-1].Actor >= e.Actor {
			return fmt.Errorf("vclock: entry %d (%s): actors not strictly sorted", i, e.Actor)
		}
	}
	return nil
}

func (c Clock) find(a Actor) (int, bool) {
	i := sort.Search(len(c), func(i int) bool { return c[i].Actor >= a })
	return i, i < len(c) && c[i].Actor == a
}

// Counter returns how many events of a the clock has seen without a gap (0
// if none): events 1..Counter(a) are all covered.
func (c Clock) Counter(a Actor) uint64 {
	if i, ok := c.find(a); ok {
		return c[i].Counter
	}
	return 0
}

// Top returns the highest event of a the clock has seen, beyond any gap (0
// if none): every counter a has minted that the clock knows of is at most
// Top(a).
func (c Clock) Top(a Actor) uint64 {
	if i, ok := c.find(a); ok {
		return c[i].top()
	}
	return 0
}

// Covers reports whether the clock has seen the dot.
func (c Clock) Covers(d Dot) bool {
	if i, ok := c.find(d.Actor); ok {
		return c[i].covers(d.Counter)
	}
	return false
}

// entryIn reports whether every event of e is covered by o.
func entryIn(e Entry, o Clock) bool {
	i, ok := o.find(e.Actor)
	if !ok {
		return false
	}
	oe := o[i]
	if e.Counter > oe.Counter { // oe has a gap at oe.Counter+1 (or ends there)
		return false
	}
	for _, x := range e.Extra {
		if !oe.covers(x) {
			return false
		}
	}
	return true
}

// subset reports whether every event c has seen, o has seen too.
func (c Clock) subset(o Clock) bool {
	for _, e := range c {
		if !entryIn(e, o) {
			return false
		}
	}
	return true
}

// Compare returns the causal relation of c to o, as sets of seen events.
func (c Clock) Compare(o Clock) Ordering {
	cIn, oIn := c.subset(o), o.subset(c)
	switch {
	case cIn && oIn:
		return Equal
	case cIn:
		return Before
	case oIn:
		return After
	default:
		return Concurrent
	}
}

// Descends reports whether c has seen everything o has (c >= o).
func (c Clock) Descends(o Clock) bool {
	r := c.Compare(o)
	return r == Equal || r == After
}

// Merge returns the least upper bound of a and b: for each actor the larger
// counter (and, on a tie, the later time; on different counters, the time of the
// larger counter). Merge is commutative, associative and idempotent.
func Merge(a, b Clock) Clock {
	out := make(Clock, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Actor < b[j].Actor):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Actor < a[i].Actor:
			out = append(out, b[j])
			j++
		default:
			e := a[i]
			if b[j].Counter > e.Counter || (b[j].Counter == e.Counter && b[j].Time > e.Time) {
				e = b[j]
			}
			if len(a[i].Extra) > 0 || len(b[j].Extra) > 0 {
				e.Extra = unionSorted(a[i].Extra, b[j].Extra)
				e = e.normalize()
			}
			out = append(out, e)
			i++
			j++
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// unionSorted merges two strictly increasing lists into one.
func unionSorted(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// DotClock returns the clock that covers exactly one event, d (an empty
// clock for the zero dot).
func DotClock(d Dot, time int64) Clock {
	switch {
	case d.Counter == 0:
		return nil
	case d.Counter == 1:
		return Clock{{Actor: d.Actor, Counter: 1, Time: time}}
	default:
		return Clock{{Actor: d.Actor, Time: time, Extra: []uint64{d.Counter}}}
	}
}

// Event returns a copy of c advanced by one event of actor a at time now, and
// the dot of that event: the next counter after every event of a that c has
// seen. (A minting replica's own entry never has a gap, since it saw every
// event it minted; a gap in it would keep the new event in Extra.)
func (c Clock) Event(a Actor, now int64) (Clock, Dot) {
	d := Dot{Actor: a, Counter: c.Top(a) + 1}
	return c.With(d, now), d
}

// With returns a copy of c that has also seen event d, recorded at time now
// when d continues its actor's events without a gap (as Event records the
// event it mints); c itself if it had seen d. It is how a dot minted
// elsewhere than from c (a one-round put's coordinator counts its own)
// joins the clock.
func (c Clock) With(d Dot, now int64) Clock {
	if d.Counter == 0 || c.Covers(d) {
		return c
	}
	i, ok := c.find(d.Actor)
	out := make(Clock, 0, len(c)+1)
	out = append(out, c[:i]...)
	if ok {
		e := c[i]
		if len(e.Extra) == 0 && d.Counter == e.Counter+1 {
			e.Counter, e.Time = d.Counter, now
		} else {
			e.Extra = unionSorted(e.Extra, []uint64{d.Counter})
			e = e.normalize()
		}
		out = append(out, e)
		out = append(out, c[i+1:]...)
	} else {
		out = append(out, DotClock(d, now)...)
		out = append(out, c[i:]...)
	}
	return out
}

// String renders the clock as "[a:1 b:3]".
func (c Clock) String() string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, e := range c {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%s:%d", e.Actor, e.Counter)
		for k, x := range e.Extra {
			if k == 0 {
				sb.WriteByte('+')
			} else {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "%d", x)
		}
	}
	sb.WriteByte(']')
	return sb.String()
}

// PrunePolicy holds Riak-style clock pruning thresholds. A clock with at most
// Small entries is never pruned; entries younger than Young are never pruned;
// otherwise the oldest entries are dropped while the clock has more than Big
// entries or the oldest entry is older than Old.
type PrunePolicy struct {
	Small int   // never prune at or below this many entries
	Big   int   // always prune above this many entries (oldest first)
	Young int64 // milliseconds: entries younger than this are kept
	Old   int64 // milliseconds: entries older than this are dropped (above Small)
}

// DefaultPrunePolicy returns Riak's defaults: small 50, big 50, young 20 s, old 1 day.
// With replicas as actors a key's clock has about one entry per replica that ever
// coordinated it, so pruning should almost never trigger.
func DefaultPrunePolicy() PrunePolicy {
	return PrunePolicy{Small: 50, Big: 50, Young: 20_000, Old: 86_400_000}
}

// Prune drops old entries of c per policy p at time now (Unix ms), never an
// entry of an actor in keep. Pruning forgets causal history and can turn a
// "before" into "concurrent" (a spurious sibling, never a lost write when the
// kept actors cover every live dot); it must not be used on repair paths.
func Prune(c Clock, now int64, p PrunePolicy, keep map[Actor]bool) Clock {
	if len(c) <= p.Small {
		return c
	}
	byTime := make([]Entry, len(c))
	copy(byTime, c)
	sort.SliceStable(byTime, func(i, j int) bool {
		if byTime[i].Time != byTime[j].Time {
			return byTime[i].Time < byTime[j].Time
		}
		return byTime[i].Actor < byTime[j].Actor
	})
	drop := map[Actor]bool{}
	n := len(c)
	for _, e := range byTime {
		if n <= p.Small || now-e.Time < p.Young {
			break
		}
		if !(n > p.Big || now-e.Time > p.Old) {
			break
		}
		if keep[e.Actor] {
			continue
		}
		drop[e.Actor] = true
		n--
	}
	if len(drop) == 0 {
		return c
	}
	out := make(Clock, 0, n)
	for _, e := range c {
		if !drop[e.Actor] {
			out = append(out, e)
		}
	}
	return out
}
