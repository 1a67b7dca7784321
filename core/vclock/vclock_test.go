package vclock

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"pgregory.net/rapid"
)

// ---- A naive reference model of causality --------------------------------
//
// Each write is a dot plus the set of dots its writer had seen (its context,
// as a plain set). A replica knows a set of writes; the versions it should
// present are exactly the known writes that no other known write's context
// covers, and its clock must cover exactly the dots of its known writes and
// of their contexts. The real Object must agree with this after any history
// of updates and merges, including writes whose context is one a previous
// write returned (its own context plus its new dot: a set with gaps).

type dotSet map[Dot]bool

func (s dotSet) union(o dotSet) dotSet {
	out := dotSet{}
	for d := range s {
		out[d] = true
	}
	for d := range o {
		out[d] = true
	}
	return out
}

type refWrite struct {
	dot Dot
	ctx dotSet
	val string
}

type refReplica map[Dot]refWrite

func (r refReplica) siblings() []Dot {
	var out []Dot
	for d := range r {
		dominated := false
		for d2, w2 := range r {
			if d2 != d && w2.ctx[d] {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// seen is every dot the replica knows of: its writes and their contexts.
func (r refReplica) seen() dotSet {
	out := dotSet{}
	for d, w := range r {
		out[d] = true
		for c := range w.ctx {
			out[c] = true
		}
	}
	return out
}

// expand lists the dots a clock covers, as a set.
func expand(c Clock) dotSet {
	out := dotSet{}
	for _, e := range c {
		for k := uint64(1); k <= e.Counter; k++ {
			out[Dot{Actor: e.Actor, Counter: k}] = true
		}
		for _, x := range e.Extra {
			out[Dot{Actor: e.Actor, Counter: x}] = true
		}
	}
	return out
}

func sameSet(a, b dotSet) bool {
	if len(a) != len(b) {
		return false
	}
	for d := range a {
		if !b[d] {
			return false
		}
	}
	return true
}

func dots(o Object) []Dot {
	var out []Dot
	for _, s := range o.Siblings {
		out = append(out, s.Dot)
	}
	return out
}

func hasDot(o Object, d Dot) bool {
	for _, s := range o.Siblings {
		if s.Dot == d {
			return true
		}
	}
	return false
}

func equalDots(a, b []Dot) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// heldCtx is a context a client holds: the real clock and the naive set.
type heldCtx struct {
	real  Clock
	naive dotSet
}

// history runs a random sequence of writes and merges over a few replicas and
// checks every replica against the reference after each step. It returns the
// final objects.
func history(t *rapid.T) []Object {
	nrep := rapid.IntRange(1, 4).Draw(t, "replicas")
	objs := make([]Object, nrep)
	refs := make([]refReplica, nrep)
	for i := range objs {
		objs[i] = Object{Key: "k"}
		refs[i] = refReplica{}
	}
	var returned []heldCtx // contexts earlier writes returned
	steps := rapid.IntRange(0, 30).Draw(t, "steps")
	now := int64(1000)
	for s := 0; s < steps; s++ {
		now += rapid.Int64Range(0, 5).Draw(t, "dt")
		i := rapid.IntRange(0, nrep-1).Draw(t, "at")
		switch rapid.IntRange(0, 3).Draw(t, "op") {
		case 0, 1, 3: // a client write at replica i with a context read from a replica, one a write returned, or none
			ctx := heldCtx{naive: dotSet{}}
			if len(returned) > 0 && rapid.Bool().Draw(t, "reuse") {
				ctx = returned[rapid.IntRange(0, len(returned)-1).Draw(t, "returned")]
			} else if j := rapid.IntRange(-1, nrep-1).Draw(t, "readFrom"); j >= 0 {
				ctx = heldCtx{real: objs[j].Clock, naive: refs[j].seen()}
			}
			if !sameSet(expand(ctx.real), ctx.naive) {
				t.Fatalf("context %s covers %v, reference says %v", ctx.real, expand(ctx.real), ctx.naive)
			}
			val := fmt.Sprintf("v%d", s)
			tomb := rapid.IntRange(0, 9).Draw(t, "tomb") == 0
			sib := Sibling{Value: []byte(val), ContentType: "text/plain", Tombstone: tomb}
			next, dot := Update(objs[i], ctx.real, Actor(fmt.Sprintf("r%d", i)), sib, now)
			if err := next.Validate(); err != nil {
				t.Fatalf("update produced invalid object: %v", err)
			}
			if ctx.naive[dot] || refs[i].seen()[dot] {
				t.Fatalf("dot %s minted twice (local clock %s, context %s)", dot, objs[i].Clock, ctx.real)
			}
			objs[i] = next
			refs[i][dot] = refWrite{dot: dot, ctx: ctx.naive, val: val}
			ret := heldCtx{real: Merge(ctx.real, DotClock(dot, now)), naive: ctx.naive.union(dotSet{dot: true})}
			if err := ret.real.Validate(); err != nil {
				t.Fatalf("returned context invalid: %v", err)
			}
			returned = append(returned, ret)
		case 2: // replica i merges replica j's state (replication, repair, handoff)
			j := rapid.IntRange(0, nrep-1).Draw(t, "from")
			objs[i] = MergeObjects(objs[i], objs[j])
			for d, w := range refs[j] {
				refs[i][d] = w
			}
		}
		for k := range objs {
			if got, want := dots(objs[k]), refs[k].siblings(); !equalDots(got, want) {
				t.Fatalf("replica %d: siblings %v, reference says %v (clock %s)", k, got, want, objs[k].Clock)
			}
			if !sameSet(expand(objs[k].Clock), refs[k].seen()) {
				t.Fatalf("replica %d: clock %s covers %v, reference says %v", k, objs[k].Clock, expand(objs[k].Clock), refs[k].seen())
			}
			for _, sb := range objs[k].Siblings {
				if !sb.Tombstone && string(sb.Value) != refs[k][sb.Dot].val {
					t.Fatalf("replica %d: sibling %s has value %q, written %q", k, sb.Dot, sb.Value, refs[k][sb.Dot].val)
				}
			}
		}
	}
	return objs
}

func TestObjectsAgreeWithReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { history(t) })
}

func TestMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		objs := history(t)
		pick := func(name string) Object { return objs[rapid.IntRange(0, len(objs)-1).Draw(t, name)] }
		a, b, c := pick("a"), pick("b"), pick("c")
		if !MergeObjects(a, b).Equal(MergeObjects(b, a)) {
			t.Fatalf("merge not commutative:\n a=%+v\n b=%+v", a, b)
		}
		if !MergeObjects(MergeObjects(a, b), c).Equal(MergeObjects(a, MergeObjects(b, c))) {
			t.Fatalf("merge not associative")
		}
		if !MergeObjects(a, a).Equal(a) {
			t.Fatalf("merge not idempotent: %+v", a)
		}
		m := MergeObjects(a, b)
		if !m.Clock.Descends(a.Clock) || !m.Clock.Descends(b.Clock) {
			t.Fatalf("merged clock %s does not descend %s and %s", m.Clock, a.Clock, b.Clock)
		}
		// Reconcile never drops a version that the other side has not seen.
		for _, pair := range [][2]Object{{a, b}, {b, a}} {
			for _, s := range pair[0].Siblings {
				if !pair[1].Clock.Covers(s.Dot) && !hasDot(m, s.Dot) {
					t.Fatalf("merge dropped %s, which the other side never saw", s.Dot)
				}
			}
		}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		// Encoding is canonical and round-trips.
		enc := Encode(m)
		dec, err := Decode(enc, DecodeLimits())
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !dec.Equal(m) || !bytes.Equal(Encode(dec), enc) {
			t.Fatalf("round trip changed the object")
		}
		if !bytes.Equal(Encode(MergeObjects(a, b)), Encode(MergeObjects(b, a))) {
			t.Fatalf("converged replicas encode differently")
		}
	})
}

func TestClockLaws(t *testing.T) {
	genClock := rapid.Custom(func(t *rapid.T) Clock {
		n := rapid.IntRange(0, 4).Draw(t, "n")
		m := map[Actor]uint64{}
		for i := 0; i < n; i++ {
			m[Actor(rapid.SampledFrom([]string{"a", "b", "c", "d", "e"}).Draw(t, "actor"))] = rapid.Uint64Range(1, 4).Draw(t, "ctr")
		}
		var c Clock
		for a, k := range m {
			c = append(c, Entry{Actor: a, Counter: k, Time: int64(k)})
		}
		sort.Slice(c, func(i, j int) bool { return c[i].Actor < c[j].Actor })
		return c
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genClock.Draw(t, "a"), genClock.Draw(t, "b"), genClock.Draw(t, "c")
		// Naive comparison by counting per actor.
		actors := map[Actor]bool{}
		for _, x := range []Clock{a, b} {
			for _, e := range x {
				actors[e.Actor] = true
			}
		}
		less, more := false, false
		for act := range actors {
			if a.Counter(act) < b.Counter(act) {
				less = true
			}
			if a.Counter(act) > b.Counter(act) {
				more = true
			}
		}
		want := Equal
		switch {
		case less && more:
			want = Concurrent
		case less:
			want = Before
		case more:
			want = After
		}
		if got := a.Compare(b); got != want {
			t.Fatalf("Compare(%s, %s) = %s, want %s", a, b, got, want)
		}
		inverse := map[Ordering]Ordering{Equal: Equal, Before: After, After: Before, Concurrent: Concurrent}
		if b.Compare(a) != inverse[want] {
			t.Fatalf("Compare not antisymmetric")
		}
		ab := Merge(a, b)
		if ab.Compare(Merge(b, a)) != Equal || Merge(ab, c).Compare(Merge(a, Merge(b, c))) != Equal || Merge(a, a).Compare(a) != Equal {
			t.Fatalf("clock merge laws fail for %s %s %s", a, b, c)
		}
		if err := ab.Validate(); err != nil {
			t.Fatal(err)
		}
		for act := range actors {
			if ab.Counter(act) != max(a.Counter(act), b.Counter(act)) {
				t.Fatalf("merge counter for %s wrong", act)
			}
		}
		enc := AppendClock(nil, ab)
		dec, rest, err := ReadClock(append(enc, 9), DecodeLimits())
		if err != nil || len(rest) != 1 || dec.Compare(ab) != Equal {
			t.Fatalf("clock round trip: %v %v", err, rest)
		}
	})
}

func TestSiblingsScenario(t *testing.T) {
	// Two clients read the same version and write concurrently at different
	// replicas: two siblings. A write with the merged context replaces both.
	o := Object{Key: "cart"}
	v1, d1 := Update(o, nil, "a", Sibling{Value: []byte("1")}, 10)
	if d1 != (Dot{"a", 1}) {
		t.Fatalf("first dot %s", d1)
	}
	ctx := v1.Clock
	x, _ := Update(v1, ctx, "a", Sibling{Value: []byte("x")}, 11)
	y, _ := Update(v1, ctx, "b", Sibling{Value: []byte("y")}, 12)
	m := MergeObjects(x, y)
	if got := len(m.Live()); got != 2 {
		t.Fatalf("want 2 siblings, got %d: %+v", got, m.Siblings)
	}
	r, _ := Update(m, m.Clock, "b", Sibling{Value: []byte("xy")}, 13)
	if len(r.Siblings) != 1 || string(r.Siblings[0].Value) != "xy" {
		t.Fatalf("resolved write did not replace siblings: %+v", r.Siblings)
	}
	// A stale write (old context) stays concurrent with the resolution.
	stale, _ := Update(r, ctx, "c", Sibling{Value: []byte("late")}, 14)
	if len(stale.Live()) != 2 {
		t.Fatalf("stale write should be a sibling of the resolution: %+v", stale.Siblings)
	}
	// Last-write-wins keeps only the newest.
	if l := LastWriteWins(stale); len(l.Siblings) != 1 || string(l.Siblings[0].Value) != "late" {
		t.Fatalf("LWW kept %+v", l.Siblings)
	}
	if l := LastWriteWins(r); !l.Equal(r) {
		t.Fatalf("LWW of a single version changed it")
	}
	// A tombstone written with the context hides the value; a blind re-create is concurrent with it.
	del, _ := Update(r, r.Clock, "a", Sibling{Tombstone: true, Value: []byte("ignored"), ContentType: "x"}, 15)
	if len(del.Live()) != 0 || len(del.Siblings) != 1 || del.Siblings[0].Value != nil {
		t.Fatalf("delete: %+v", del.Siblings)
	}
	again, _ := Update(del, nil, "b", Sibling{Value: []byte("new")}, 16)
	if live := again.Live(); len(live) != 1 || string(live[0].Value) != "new" {
		t.Fatalf("re-create hidden by old tombstone: %+v", again.Siblings)
	}
	if !Reconcile().Empty() || !Reconcile(x, y).Equal(m) {
		t.Fatalf("Reconcile")
	}
}

func TestAmnesiaNeedsNewActor(t *testing.T) {
	// Replica a wrote (a,1)="old"; b has it. a is wiped and, with the SAME actor,
	// mints (a,1) again for "new": merging with b silently drops one of them.
	// With a fresh actor (new incarnation) both survive as siblings.
	old, _ := Update(Object{Key: "k"}, nil, "a.1", Sibling{Value: []byte("old")}, 1)
	b := old
	reused, _ := Update(Object{Key: "k"}, nil, "a.1", Sibling{Value: []byte("new")}, 2)
	if got := MergeObjects(b, reused); len(got.Siblings) != 1 {
		t.Fatalf("expected the same-dot collision to lose a write (that is the trap), got %d", len(got.Siblings))
	}
	fresh, _ := Update(Object{Key: "k"}, nil, "a.2", Sibling{Value: []byte("new")}, 2)
	if got := MergeObjects(b, fresh); len(got.Live()) != 2 {
		t.Fatalf("fresh actor lost a write: %+v", got.Siblings)
	}
	// Raising the reused actor's counter above anything it may have minted
	// does not help: the raised clock claims to have seen the old dot and
	// supersedes it. Only a new actor is safe.
	raised, _ := Update(Object{Key: "k"}, Clock{{Actor: "a.1", Counter: 5000}}, "a.1", Sibling{Value: []byte("new")}, 5000)
	if got := MergeObjects(b, raised); len(got.Live()) != 1 {
		t.Fatalf("expected the raised counter to supersede the old write, got %+v", got.Siblings)
	}
}

func TestPrune(t *testing.T) {
	var c Clock
	for i := 0; i < 8; i++ {
		c = append(c, Entry{Actor: Actor(fmt.Sprintf("n%d", i)), Counter: 1, Time: int64(i * 1000)})
	}
	p := PrunePolicy{Small: 3, Big: 5, Young: 500, Old: 1_000_000}
	got := Prune(c, 10_000, p, map[Actor]bool{"n0": true})
	// Above Big: drop oldest (skipping kept n0) until 5 remain: n1, n2, n3 go.
	want := []Actor{"n0", "n4", "n5", "n6", "n7"}
	if len(got) != len(want) {
		t.Fatalf("pruned to %s", got)
	}
	for i, a := range want {
		if got[i].Actor != a {
			t.Fatalf("pruned to %s, want %v", got, want)
		}
	}
	if len(Prune(c, 10_000, PrunePolicy{Small: 10, Big: 10}, nil)) != 8 {
		t.Fatal("clock at or below Small must not be pruned")
	}
	if len(Prune(c, 100, p, nil)) != 8 {
		t.Fatal("young entries must not be pruned")
	}
	// Old threshold prunes even below Big.
	if got := Prune(c, 2_000_000, PrunePolicy{Small: 2, Big: 100, Young: 0, Old: 1_995_500}, nil); len(got) != 3 {
		t.Fatalf("old entries: %s", got)
	}
	o := Object{Key: "k", Clock: c, Siblings: []Sibling{{Dot: Dot{"n1", 1}}}}
	po := PruneObject(o, 10_000, p)
	if !po.Clock.Covers(Dot{"n1", 1}) {
		t.Fatalf("PruneObject dropped a sibling's actor: %s", po.Clock)
	}
	if d := DefaultPrunePolicy(); d.Small != 50 || d.Old != 86_400_000 {
		t.Fatalf("defaults %+v", d)
	}
}

func TestDecodeRejects(t *testing.T) {
	o, _ := Update(Object{Key: "key"}, nil, "a", Sibling{Value: []byte("hello"), ContentType: "text/plain"}, 5)
	o, _ = Update(o, nil, "b", Sibling{Tombstone: true}, 6)
	good := Encode(o)
	if _, err := Decode(good, DecodeLimits()); err != nil {
		t.Fatalf("good: %v", err)
	}
	reseal := func(b []byte) []byte {
		b = append([]byte(nil), b[:len(b)-4]...)
		return Encode2(b)
	}
	cases := map[string][]byte{
		"empty":        nil,
		"short":        good[:5],
		"truncated":    good[:len(good)-1],
		"flipped bit":  flip(good, 7),
		"bad magic":    reseal(append([]byte("XW"), good[2:]...)),
		"bad version":  reseal(append([]byte{'C', 'W', 9}, good[3:]...)),
		"wrong kind":   reseal(append([]byte{'C', 'W', 1, 'K'}, good[4:]...)),
		"trailing":     reseal(append(append([]byte(nil), good[:len(good)-4]...), 0)),
		"unknown flag": reseal(setSiblingFlags(good, 0x80)),
	}
	for name, in := range cases {
		if _, err := Decode(in, DecodeLimits()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: want ErrCorrupt, got %v", name, err)
		}
	}
	small := DecodeLimits()
	small.MaxValueBytes = 3
	if _, err := Decode(good, small); !errors.Is(err, ErrCorrupt) {
		t.Errorf("value over limit accepted: %v", err)
	}
	small = DecodeLimits()
	small.MaxBytes = 10
	if _, err := Decode(good, small); !errors.Is(err, ErrCorrupt) {
		t.Errorf("object over limit accepted: %v", err)
	}
	if _, _, err := ReadClock([]byte{'C', 'W', 1, 'K', 1, 1, 'a', 0, 0}, DecodeLimits()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("zero counter accepted: %v", err)
	}
	if _, _, err := ReadClock([]byte{'C', 'W', 1, 'K', 2, 1, 'b', 1, 0, 1, 'a', 1, 0}, DecodeLimits()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unsorted clock accepted: %v", err)
	}
	if _, _, err := ReadClock([]byte{'C', 'W', 1, 'K', 0x81, 0}, DecodeLimits()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("non-minimal varint accepted: %v", err)
	}
}

// Encode2 appends a fresh checksum to a body, to build inputs that pass the
// checksum but are otherwise malformed.
func Encode2(body []byte) []byte {
	return appendCRC(body)
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

// setSiblingFlags rewrites the flags byte of the last sibling of an encoding
// made by TestDecodeRejects (a tombstone with empty content type and value).
func setSiblingFlags(enc []byte, flags byte) []byte {
	body := append([]byte(nil), enc[:len(enc)-4]...)
	// last sibling ends with: flags, 0 (ct len), 0 (value len)
	body[len(body)-3] |= flags
	return append(body, 0, 0, 0, 0)
}

func TestStrings(t *testing.T) {
	for o, s := range map[Ordering]string{Equal: "equal", Before: "before", After: "after", Concurrent: "concurrent"} {
		if o.String() != s {
			t.Errorf("%d: %s", o, o.String())
		}
	}
	if got := (Clock{{Actor: "a", Counter: 2}, {Actor: "b", Counter: 1}}).String(); got != "[a:2 b:1]" {
		t.Errorf("clock string %q", got)
	}
	if (Dot{"a", 3}).String() != "a:3" {
		t.Error("dot string")
	}
	bad := []Clock{{{Actor: "", Counter: 1}}, {{Actor: "a", Counter: 0}}, {{Actor: "b", Counter: 1}, {Actor: "a", Counter: 1}}}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Errorf("Validate accepted %v", c)
		}
	}
	badObj := []Object{
		{Key: "k", Siblings: []Sibling{{Dot: Dot{"a", 1}}}},
		{Key: "k", Clock: Clock{{Actor: "a", Counter: 2}}, Siblings: []Sibling{{Dot: Dot{"a", 2}}, {Dot: Dot{"a", 1}}}},
		{Key: "k", Clock: Clock{{Actor: "a", Counter: 2}}, Siblings: []Sibling{{Dot: Dot{"a", 2}, Tombstone: true, Value: []byte("x")}}},
	}
	for _, o := range badObj {
		if o.Validate() == nil {
			t.Errorf("Validate accepted %+v", o)
		}
	}
}

func TestPickIsDeterministic(t *testing.T) {
	base := Sibling{Dot: Dot{"a", 1}, Time: 1, Value: []byte("a"), ContentType: "x"}
	variants := []Sibling{
		{Dot: base.Dot, Time: 2, Value: []byte("a")},
		{Dot: base.Dot, Time: 1, Tombstone: true},
		{Dot: base.Dot, Time: 1, Value: []byte("b")},
		{Dot: base.Dot, Time: 1, Value: []byte("a"), ContentType: "y"},
	}
	for _, v := range variants {
		if p, q := pick(base, v), pick(v, base); !(Object{Siblings: []Sibling{p}}).Equal(Object{Siblings: []Sibling{q}}) {
			t.Errorf("pick not symmetric for %+v", v)
		}
	}
}

// TestClockSetsAgreeWithNaiveSets checks clocks with gaps (Entry.Extra)
// against plain sets of dots: covering, comparing, merging and encoding.
func TestClockSetsAgreeWithNaiveSets(t *testing.T) {
	genSet := rapid.Custom(func(t *rapid.T) dotSet {
		s := dotSet{}
		n := rapid.IntRange(0, 8).Draw(t, "n")
		for i := 0; i < n; i++ {
			a := Actor(rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "actor"))
			s[Dot{Actor: a, Counter: rapid.Uint64Range(1, 6).Draw(t, "ctr")}] = true
		}
		return s
	})
	// build makes the clock of a set by merging single-dot clocks.
	build := func(s dotSet) Clock {
		var c Clock
		for d := range s {
			c = Merge(c, DotClock(d, 7))
		}
		return c
	}
	rapid.Check(t, func(t *rapid.T) {
		a, b := genSet.Draw(t, "a"), genSet.Draw(t, "b")
		ca, cb := build(a), build(b)
		for _, c := range []Clock{ca, cb} {
			if err := c.Validate(); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
		}
		if !sameSet(expand(ca), a) {
			t.Fatalf("clock %s covers %v, built from %v", ca, expand(ca), a)
		}
		subset := func(x, y dotSet) bool {
			for d := range x {
				if !y[d] {
					return false
				}
			}
			return true
		}
		want := Concurrent
		switch ab, ba := subset(a, b), subset(b, a); {
		case ab && ba:
			want = Equal
		case ab:
			want = Before
		case ba:
			want = After
		}
		if got := ca.Compare(cb); got != want {
			t.Fatalf("Compare(%s, %s) = %s, want %s", ca, cb, got, want)
		}
		if m := Merge(ca, cb); !sameSet(expand(m), a.union(b)) || m.Validate() != nil {
			t.Fatalf("Merge(%s, %s) = %s", ca, cb, m)
		}
		enc := AppendClock(nil, ca)
		dec, rest, err := ReadClock(enc, DecodeLimits())
		if err != nil || len(rest) != 0 || dec.Compare(ca) != Equal || !bytes.Equal(AppendClock(nil, dec), enc) {
			t.Fatalf("clock %s round trip: %v", ca, err)
		}
	})
}

// TestWith: c.With(d, now) has seen exactly c's events and d, and records d
// at now when d continues its actor's events (as Event does).
func TestWith(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c Clock
		for range rapid.IntRange(0, 6).Draw(t, "events") {
			d := Dot{Actor: Actor(rapid.SampledFrom([]string{"a", "b"}).Draw(t, "actor")), Counter: rapid.Uint64Range(1, 6).Draw(t, "counter")}
			c = Merge(c, DotClock(d, 1))
		}
		d := Dot{Actor: Actor(rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "newActor")), Counter: rapid.Uint64Range(1, 8).Draw(t, "newCounter")}
		w := c.With(d, 99)
		if err := w.Validate(); err != nil {
			t.Fatal(err)
		}
		if want := expand(c).union(dotSet{d: true}); !sameSet(expand(w), want) {
			t.Fatalf("%s.With(%s) = %s", c, d, w)
		}
		i, had := c.find(d.Actor)
		contiguous := (!had && d.Counter == 1) || (had && len(c[i].Extra) == 0 && d.Counter == c[i].Counter+1)
		if j, _ := w.find(d.Actor); contiguous && w[j].Time != 99 {
			t.Fatalf("%s.With(%s) = %s: the contiguous event is not recorded at its time", c, d, w)
		}
		e, next := c.Event(d.Actor, 99)
		if !slices.EqualFunc(e, c.With(next, 99), Entry.equal) {
			t.Fatalf("Event %s != With %s", e, c.With(next, 99))
		}
	})
}
