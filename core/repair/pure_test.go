package repair

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/merkle"
	"github.com/cartwheel/cartwheel/core/ring"
	"github.com/cartwheel/cartwheel/core/vclock"
)

func TestParseNames(t *testing.T) {
	h := kv.KeyHash("k")
	hx := hex.EncodeToString(h[:])
	if got, ok := ParseDataName(kv.DataName("k")); !ok || got != h {
		t.Fatalf("ParseDataName(DataName) = %x, %v", got, ok)
	}
	for _, bad := range []string{"", "data/", "data/" + hx[:31], "data/" + strings.ToUpper(hx), "data/" + hx + "0", "hints/" + hx, "data/" + hx[:31] + "g"} {
		if _, ok := ParseDataName(bad); ok {
			t.Errorf("ParseDataName(%q) accepted", bad)
		}
	}
	if got, who, ok := ParseHintName(kv.HintName("n3", "k")); !ok || got != h || who != "n3" {
		t.Fatalf("ParseHintName(HintName) = %x %q %v", got, who, ok)
	}
	if hintKeyPrefix(h) != kv.HintKeyPrefix("k") || dataName(h) != kv.DataName("k") {
		t.Fatal("names disagree with package kv")
	}
	for _, bad := range []string{"hints/" + hx, "hints/" + hx + "/", "hints/" + hx + "x" + "n1", "hints/" + hx + "/bad id", "data/" + hx + "/n1", "hints/" + hx[:30] + "zz/n1"} {
		if _, _, ok := ParseHintName(bad); ok {
			t.Errorf("ParseHintName(%q) accepted", bad)
		}
	}
}

func TestETags(t *testing.T) {
	data := []byte("canonical bytes")
	sum := md5.Sum(data)
	if e := ETagOf(data); e != `"`+hex.EncodeToString(sum[:])+`"` || e != kvmem.ETag(data) {
		t.Fatalf("ETagOf = %s, want the store's %s", e, kvmem.ETag(data))
	}
	if VersionHash(ETagOf(data)) != merkle.Hash(sum) || VersionHash(strings.ToUpper(hex.EncodeToString(sum[:]))) != merkle.Hash(sum) {
		t.Fatal("the version hash of an MD5 ETag is not the MD5")
	}
	multi := `"` + hex.EncodeToString(sum[:]) + `-2"`
	if VersionHash(multi) == merkle.Hash(sum) || VersionHash(multi) != VersionHash(strings.ToUpper(multi)) {
		t.Fatal("a multipart ETag must hash deterministically to something else")
	}
	if !sameETag(`"ABC"`, "abc") || sameETag("", "abc") || !sameETag("", "") {
		t.Fatal("sameETag")
	}
	if !allSame([]string{"a", `"a"`}) || allSame([]string{"a", ""}) || allSame(nil) || allSame([]string{"a", "b"}) {
		t.Fatal("allSame")
	}
}

// Property: partitionNames bounds exactly the names of a partition's keys,
// and after is the last name of the previous partition.
func TestPartitionNames(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := 1 << rapid.IntRange(0, 12).Draw(t, "qbits")
		var h [16]byte
		copy(h[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "hash"))
		name := kv.DataPrefix + hex.EncodeToString(h[:])
		p := ring.PartitionOf(q, h)
		lo, hi, after := partitionNames(q, p)
		if name < lo || name > hi || !(after < lo) || !(name > after) {
			t.Fatalf("q=%d p=%d: %s not in [%s, %s] after %q", q, p, name, lo, hi, after)
		}
		if p > 0 {
			if _, prevHi, _ := partitionNames(q, p-1); prevHi != after {
				t.Fatalf("after %s is not the last name %s of partition %d", after, prevHi, p-1)
			}
		} else if after != "" {
			t.Fatalf("partition 0 starts after %q", after)
		}
		if p+1 < q {
			if nextLo, _, _ := partitionNames(q, p+1); !(nextLo > hi) {
				t.Fatalf("partition %d starts at %s, not after %s", p+1, nextLo, hi)
			}
		}
	})
}

// naiveDiffering is the dumb twin of DifferingKeys: every key of every
// listing, kept when some listing lacks it or has another ETag.
func naiveDiffering(ls []Listing) []merkle.Hash {
	var out []merkle.Hash
	for _, l := range ls {
		for h := range l.ETags {
			if !slices.Contains(out, h) && !agree(ls, h) {
				out = append(out, h)
			}
		}
	}
	slices.SortFunc(out, func(a, b merkle.Hash) int { return strings.Compare(string(a[:]), string(b[:])) })
	return out
}

// Property: DifferingKeys, which looks only into the segments the trees say
// differ, finds exactly the keys the naive comparison finds, for small
// shapes (many keys per segment) and the default one.
func TestDifferingKeysMatchesNaive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		shape := rapid.SampledFrom([]merkle.Shape{{Width: 2, Depth: 1}, {Width: 4, Depth: 2}, merkle.DefaultShape()}).Draw(t, "shape")
		n := rapid.IntRange(0, 40).Draw(t, "keys")
		var base []kv.Listed
		for i := 0; i < n; i++ {
			key := fmt.Sprintf("k%d", rapid.IntRange(0, 1000).Draw(t, "key"))
			base = append(base, kv.Listed{Name: kv.DataName(key), ETag: ETagOf([]byte(fmt.Sprint(rapid.IntRange(0, 2).Draw(t, "version"))))})
		}
		var ls []Listing
		for r := rapid.IntRange(1, 4).Draw(t, "replicas"); r > 0; r-- {
			var entries []kv.Listed
			for _, e := range base {
				switch rapid.IntRange(0, 9).Draw(t, "mutation") {
				case 0: // missing
				case 1:
					entries = append(entries, kv.Listed{Name: e.Name, ETag: ETagOf([]byte("other"))})
				default:
					entries = append(entries, e)
				}
			}
			if rapid.Bool().Draw(t, "extra") {
				entries = append(entries, kv.Listed{Name: kv.DataName(fmt.Sprint("extra", r)), ETag: `"x"`})
			}
			entries = append(entries, kv.Listed{Name: "data/not-a-hash", ETag: `"y"`})
			ls = append(ls, NewListing(shape, entries))
		}
		got, want := DifferingKeys(shape, ls), naiveDiffering(ls)
		if !slices.Equal(got, want) {
			t.Fatalf("DifferingKeys = %x, naive = %x", got, want)
		}
		if (len(DifferingSegments(ls)) == 0) != (len(want) == 0) {
			t.Fatal("segments differ without differing keys, or the reverse")
		}
		// Recycling a tree leaves it equal to a new empty one.
		for _, l := range ls {
			l.clear()
			if !l.Tree.Equal(merkle.New(shape)) {
				t.Fatal("a cleared tree is not empty")
			}
		}
	})
}

func TestDistinctKeys(t *testing.T) {
	a := NewListing(merkle.DefaultShape(), []kv.Listed{{Name: kv.DataName("a"), ETag: "1"}, {Name: kv.DataName("b"), ETag: "1"}})
	b := NewListing(merkle.DefaultShape(), []kv.Listed{{Name: kv.DataName("b"), ETag: "2"}, {Name: kv.DataName("c"), ETag: "1"}, {Name: kv.DataName("c"), ETag: "1"}})
	if n := distinctKeys([]Listing{a, b}); n != 3 {
		t.Fatalf("distinct keys = %d, want 3", n)
	}
	if len(b.ETags) != 2 {
		t.Fatal("a name listed twice was counted twice")
	}
}

// The stream serves any increasing sequence of partitions with the right
// objects, sharing LIST pages between partitions, and restarts on wrap-around.
func TestStream(t *testing.T) {
	ctx := context.Background()
	store := kvmem.NewStore()
	loc := kv.Location{Bucket: "b", Prefix: "n1/"}
	const q = 16
	byPart := map[int][]string{}
	for i := 0; i < 300; i++ {
		key := fmt.Sprint("key", i)
		if _, err := store.Put(ctx, loc, kv.DataName(key), []byte(key), "a", ""); err != nil {
			t.Fatal(err)
		}
		p := ring.PartitionOf(q, kv.KeyHash(key))
		byPart[p] = append(byPart[p], kv.DataName(key))
	}
	if _, err := store.Put(ctx, loc, "hints/x/n2", []byte("h"), "a", ""); err != nil {
		t.Fatal(err)
	}
	s := newStream(store, loc, 40)
	check := func(p int) {
		t.Helper()
		lo, hi, after := partitionNames(q, p)
		got, err := s.take(ctx, lo, hi, after)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Name)
		}
		want := slices.Clone(byPart[p])
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Fatalf("partition %d: %d names, want %d", p, len(names), len(want))
		}
	}
	for _, p := range []int{1, 2, 5, 6, 7, 12, 15} {
		check(p)
	}
	lists := store.TotalCounts().List
	if lists > 300/40+4 {
		t.Fatalf("%d LISTs for 300 objects in pages of 40", lists)
	}
	check(0) // wrapped around
	check(3)
	store.SetDown(loc, true)
	lo, hi, after := partitionNames(q, 9)
	if _, err := s.take(ctx, lo, hi, after); err == nil {
		t.Fatal("a listing error was swallowed")
	}
}

func TestReapDecision(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-2 * time.Hour).UnixMilli()
	tomb := vclock.Object{Key: "k", Siblings: []vclock.Sibling{{Tombstone: true, Time: old}, {Tombstone: true, Time: old - 5}}}
	live := vclock.Object{Key: "k", Siblings: []vclock.Sibling{{Tombstone: true, Time: old}, {Value: []byte("v"), Time: old}}}
	recent := vclock.Object{Key: "k", Siblings: []vclock.Sibling{{Tombstone: true, Time: old}, {Tombstone: true, Time: now.Add(-time.Minute).UnixMilli()}}}
	same := []string{`"e1"`, "e1", `"E1"`}
	cases := []struct {
		name string
		in   ReapInput
		want string
	}{
		{"reap", ReapInput{ETags: same, Object: tomb}, ReapOK},
		{"pending ring change", ReapInput{ETags: same, Object: tomb, Pending: true}, ReapPending},
		{"no replicas", ReapInput{Object: tomb}, ReapNoReplicas},
		{"one replica missing", ReapInput{ETags: []string{"e1", "", "e1"}, Object: tomb}, ReapDiffer},
		{"one replica differs", ReapInput{ETags: []string{"e1", "e2", "e1"}, Object: tomb}, ReapDiffer},
		{"identical by content, ETags differ (S3 Express)", ReapInput{ETags: []string{"e1", "e2", "e3"}, Identical: true, Object: tomb}, ReapOK},
		{"identical but one replica missing", ReapInput{ETags: []string{"e1", "", "e3"}, Identical: true, Object: tomb}, ReapDiffer},
		{"live sibling", ReapInput{ETags: same, Object: live}, ReapLive},
		{"no versions", ReapInput{ETags: same, Object: vclock.Object{Key: "k"}}, ReapLive},
		{"newest tombstone too recent", ReapInput{ETags: same, Object: recent}, ReapTooRecent},
		{"hinted replica", ReapInput{ETags: same, Object: tomb, Hinted: 1}, ReapHinted},
		{"cleanup pending", ReapInput{ETags: same, Object: tomb, Cleaning: true}, ReapCleaning},
	}
	for _, tc := range cases {
		tc.in.Now, tc.in.Grace = now, time.Hour
		ok, why := ReapDecision(tc.in)
		if why != tc.want || ok != (tc.want == ReapOK) {
			t.Errorf("%s: ReapDecision = %v %q, want %q", tc.name, ok, why, tc.want)
		}
	}
}

// fataler is what testCluster needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func testCluster(t fataler, nodes, q int) kv.Cluster {
	t.Helper()
	var ns []kv.Node
	for i := 1; i <= nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		ns = append(ns, kv.Node{ID: id, Zone: fmt.Sprintf("z%d", (i-1)%3+1), Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = q
	c, err := membership.Bootstrap(p, ns)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Property: a plan's moves are exactly the partitions whose primaries
// differ between Owners and Next; each gives up as many replicas as it
// gains; only the changed nodes gain (added) or lose (removed) ownership.
func TestPlanOf(t *testing.T) {
	c := testCluster(t, 5, 64)
	p, err := PlanOf(c)
	if err != nil || p.Pending || len(p.Moves) != 0 {
		t.Fatalf("plan without a change: %+v %v", p, err)
	}
	for _, n := range p.Nodes {
		if n.Owned != n.Planned || n.Replicas != n.PlannedReplicas || n.Gains+n.Losses != 0 {
			t.Fatalf("node %+v changes without a plan", n)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		c := testCluster(t, rapid.IntRange(1, 7).Draw(t, "nodes"), 1<<rapid.IntRange(0, 7).Draw(t, "qbits"))
		var err error
		changed := "n9"
		if rapid.Bool().Draw(t, "add") || len(c.Nodes) == 1 {
			c, err = membership.AddNode(c, kv.Node{ID: changed, Zone: "z2", Weight: 1, Location: kv.Location{Bucket: "b"}})
		} else {
			changed = rapid.SampledFrom(c.Nodes).Draw(t, "victim").ID
			c, err = membership.RemoveNode(c, changed)
		}
		if err != nil {
			t.Fatal(err)
		}
		p, err := PlanOf(c)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := newWorld(c)
		moves := 0
		for part := range c.Owners {
			now := w.owners.PrimariesOfPartition(part, c.Params.N)
			next := now
			if w.next != nil {
				next = w.next.PrimariesOfPartition(part, c.Params.N)
			}
			i := slices.IndexFunc(p.Moves, func(m Move) bool { return m.Partition == part })
			sameSet := slices.Equal(slices.Sorted(slices.Values(now)), slices.Sorted(slices.Values(next)))
			if sameSet != (i < 0) {
				t.Fatalf("partition %d: primaries %v -> %v, move %v", part, now, next, i >= 0)
			}
			if i < 0 {
				continue
			}
			moves++
			m := p.Moves[i]
			if len(m.From) != len(m.To) && len(now) == len(next) {
				t.Fatalf("move %+v gives up and gains different numbers of replicas", m)
			}
			for _, id := range m.To {
				if !slices.Contains(next, id) || slices.Contains(now, id) {
					t.Fatalf("move %+v: %s does not gain it", m, id)
				}
			}
			members := w.members(part)
			if len(members) != len(now)+len(m.To) {
				t.Fatalf("partition %d exchanged between %d nodes, want %d", part, len(members), len(now)+len(m.To))
			}
		}
		if moves != len(p.Moves) || p.Pending != (c.Next != nil) {
			t.Fatalf("%d moves listed, %d found", len(p.Moves), moves)
		}
		gains, losses := 0, 0
		for _, n := range p.Nodes {
			gains += n.Gains
			losses += n.Losses
			owned, planned := 0, 0
			for i := range c.Owners {
				if c.Owners[i] == n.ID {
					owned++
				}
				if c.Next != nil && c.Next[i] == n.ID || c.Next == nil && c.Owners[i] == n.ID {
					planned++
				}
			}
			if n.Owned != owned || n.Planned != planned {
				t.Fatalf("node %+v: owns %d, planned %d", n, owned, planned)
			}
		}
		for i := range c.Next {
			if c.Next[i] != c.Owners[i] && c.Next[i] != changed && c.Owners[i] != changed {
				t.Fatalf("partition %d moves %s -> %s, neither is %s", i, c.Owners[i], c.Next[i], changed)
			}
		}
		if gains != losses && len(c.Nodes) > c.Params.N {
			t.Fatalf("%d replicas gained, %d lost", gains, losses)
		}
	})
	bad := c
	bad.Owners = bad.Owners[:3]
	if _, err := PlanOf(bad); err == nil {
		t.Fatal("PlanOf of an invalid cluster")
	}
	bad = c
	bad.Next = slices.Clone(c.Owners)
	bad.Next[0] = "ghost"
	if _, err := PlanOf(bad); err == nil || !strings.Contains(err.Error(), "pending owners") {
		t.Fatalf("PlanOf of an invalid plan: %v", err)
	}
	bad = c
	bad.Params.N = 0
	if _, err := PlanOf(bad); err == nil {
		t.Fatal("PlanOf with invalid params")
	}
}

func TestFingerprint(t *testing.T) {
	c := testCluster(t, 4, 16)
	planned, err := membership.AddNode(c, kv.Node{ID: "n5", Zone: "z1", Weight: 1, Location: kv.Location{Bucket: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	down, err := membership.SetState(planned, "n1", kv.StateDown)
	if err != nil {
		t.Fatal(err)
	}
	if fingerprint(planned) != fingerprint(down) || fingerprint(planned) == fingerprint(c) {
		t.Fatal("the fingerprint must follow the owners and the plan, not the epoch")
	}
}

func TestTransferred(t *testing.T) {
	m := func(old, next, ok, failed bool) *member { return &member{old: old, next: next, ok: ok, failed: failed} }
	cases := []struct {
		name string
		ms   []*member
		w    int
		want bool
	}{
		{"all listed", []*member{m(true, true, true, false), m(true, false, true, false), m(false, true, true, false)}, 2, true},
		{"new owner not listed", []*member{m(true, true, true, false), m(true, false, true, false), m(false, true, false, false)}, 2, false},
		{"new owner refused a write", []*member{m(true, true, true, false), m(false, true, true, true)}, 2, false},
		{"enough old replicas read", []*member{m(true, false, true, false), m(true, false, false, false), m(true, true, true, false), m(false, true, true, false)}, 2, true},
		{"too few old replicas read", []*member{m(true, false, false, false), m(true, false, false, false), m(true, true, true, false), m(false, true, true, false)}, 2, false},
		{"w=1 needs all", []*member{m(true, false, false, false), m(true, true, true, false), m(false, true, true, false)}, 1, false},
	}
	for _, tc := range cases {
		if got := transferred(tc.ms, tc.w); got != tc.want {
			t.Errorf("%s: transferred = %v", tc.name, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*Config){
		"shape":          func(c *Config) { c.Shape.Width = 3 },
		"page":           func(c *Config) { c.PageSize = 1001 },
		"max requests":   func(c *Config) { c.MaxRequests = 0 },
		"rate":           func(c *Config) { c.RequestsPerSecond = -1 },
		"reserve":        func(c *Config) { c.Reserve = -1 },
		"timeout":        func(c *Config) { c.RequestTimeout = 0 },
		"cas":            func(c *Config) { c.CASRetries = 0 },
		"grace":          func(c *Config) { c.ReapGrace = 0 },
		"settle":         func(c *Config) { c.PlanSettle = -1 },
		"hint wait":      func(c *Config) { c.HintWait = -1 },
		"max errors":     func(c *Config) { c.MaxErrors = -1 },
		"page too small": func(c *Config) { c.PageSize = 0 },
	} {
		c := DefaultConfig()
		edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
		if _, err := New(c, Deps{}); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
}
