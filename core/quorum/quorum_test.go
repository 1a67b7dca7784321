package quorum

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// event is one step fed to an accumulator: a reply (node, ok, value) or, when
// isAdd is set, an AddCandidates(add).
type event struct {
	isAdd bool
	add   int
	node  string
	ok    bool
	value int // the read value carried by a successful reply
}

func (e event) String() string {
	switch {
	case e.isAdd:
		return fmt.Sprintf("add %d", e.add)
	case e.ok:
		return fmt.Sprintf("ok %s %d", e.node, e.value)
	default:
		return "fail " + e.node
	}
}

// reference is the naive specification: it recounts the whole event history
// from scratch and returns the vote, the acks and the failures.
func reference(need, candidates int, events []event) (Vote, []string, []string) {
	var acks, fails, heard []string
	for _, e := range events {
		if e.isAdd {
			candidates += e.add
			continue
		}
		if slices.Contains(heard, e.node) {
			continue // the first verdict stands
		}
		heard = append(heard, e.node)
		if len(heard) > candidates {
			candidates = len(heard) // an unannounced node is an implicit candidate
		}
		if e.ok {
			acks = append(acks, e.node)
		} else {
			fails = append(fails, e.node)
		}
	}
	switch {
	case len(acks) >= need:
		return Won, acks, fails
	case len(acks)+candidates-len(heard) < need:
		return Lost, acks, fails
	default:
		return Pending, acks, fails
	}
}

// referenceRead returns the merged result (max of the first values of each
// node), whether there is one, and the stale nodes.
func referenceRead(events []event) (int, bool, []string) {
	var heard []string
	var vals []Reply[int]
	for _, e := range events {
		if e.isAdd || slices.Contains(heard, e.node) {
			continue
		}
		heard = append(heard, e.node)
		if e.ok {
			vals = append(vals, Reply[int]{e.node, e.value})
		}
	}
	if len(vals) == 0 {
		return 0, false, nil
	}
	best := vals[0].Value
	for _, r := range vals {
		best = max(best, r.Value)
	}
	var stale []string
	for _, r := range vals {
		if r.Value != best {
			stale = append(stale, r.Node)
		}
	}
	return best, true, stale
}

func drawEvents(t *rapid.T, label string) (need, candidates int, events []event) {
	need = rapid.IntRange(1, 5).Draw(t, label+"need")
	candidates = rapid.IntRange(0, 7).Draw(t, label+"candidates")
	n := rapid.IntRange(0, 20).Draw(t, label+"n")
	nodes := rapid.IntRange(1, 9).Draw(t, label+"nodes")
	for i := range n {
		p := fmt.Sprintf("%s%d.", label, i)
		if rapid.IntRange(0, 9).Draw(t, p+"kind") == 0 {
			events = append(events, event{isAdd: true, add: rapid.IntRange(0, 2).Draw(t, p+"add")})
			continue
		}
		events = append(events, event{
			node:  fmt.Sprintf("n%d", rapid.IntRange(1, nodes).Draw(t, p+"node")),
			ok:    rapid.Bool().Draw(t, p+"ok"),
			value: rapid.IntRange(0, 3).Draw(t, p+"value"),
		})
	}
	return need, candidates, events
}

// sequencesPerCheck event sequences are checked per rapid case, so the default
// 100 rapid checks cover 4,000 sequences per property (and >10,000 in total).
const sequencesPerCheck = 40

func TestWriteMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		for s := range sequencesPerCheck {
			need, cands, events := drawEvents(t, fmt.Sprintf("s%d.", s))
			w := NewWrite(need, cands)
			if want, _, _ := reference(need, cands, nil); w.Vote() != want {
				t.Fatalf("need=%d candidates=%d: initial vote %v, want %v", need, cands, w.Vote(), want)
			}
			prev := w.Vote()
			for i, e := range events {
				var got Vote
				if e.isAdd {
					w.AddCandidates(e.add)
					got = w.Vote()
				} else {
					got = w.Record(e.node, e.ok)
				}
				want, acks, fails := reference(need, cands, events[:i+1])
				if got != want || w.Vote() != want {
					t.Fatalf("need=%d candidates=%d events=%v: vote after %d = %v, want %v", need, cands, events[:i+1], i, got, want)
				}
				if !slices.Equal(w.Acks(), acks) || !slices.Equal(w.Failures(), fails) {
					t.Fatalf("events=%v: acks %v fails %v, want %v %v", events[:i+1], w.Acks(), w.Failures(), acks, fails)
				}
				checkTransition(t, prev, got, e)
				prev = got
			}
		}
	})
}

// checkTransition asserts the documented stickiness: Won is final; Lost is
// left only through AddCandidates, explicitly (and then never straight to Won)
// or implicitly by a success from an unannounced node.
func checkTransition(t *rapid.T, prev, got Vote, e event) {
	if prev == Won && got != Won {
		t.Fatalf("vote went from won to %v after %v", got, e)
	}
	if prev == Lost && got != Lost && !e.isAdd && !e.ok {
		t.Fatalf("vote went from lost to %v after %v", got, e)
	}
	if prev == Lost && e.isAdd && got == Won {
		t.Fatalf("vote went from lost to won by %v", e)
	}
}

func TestReadMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		for s := range sequencesPerCheck {
			need, cands, events := drawEvents(t, fmt.Sprintf("s%d.", s))
			r := NewRead(need, cands, func(a, b int) int { return max(a, b) }, func(a, b int) bool { return a == b })
			prev := r.Vote()
			for i, e := range events {
				var got Vote
				switch {
				case e.isAdd:
					r.AddCandidates(e.add)
					got = r.Vote()
				case e.ok:
					got = r.Record(e.node, e.value)
				default:
					got = r.Fail(e.node)
				}
				want, acks, fails := reference(need, cands, events[:i+1])
				if got != want || r.Vote() != want {
					t.Fatalf("need=%d candidates=%d events=%v: vote %v, want %v", need, cands, events[:i+1], got, want)
				}
				var nodes []string
				for _, rep := range r.Replies() {
					nodes = append(nodes, rep.Node)
				}
				if !slices.Equal(nodes, acks) || !slices.Equal(r.Failures(), fails) {
					t.Fatalf("events=%v: replies %v fails %v, want %v %v", events[:i+1], nodes, r.Failures(), acks, fails)
				}
				res, ok := r.Result()
				wres, wok, wstale := referenceRead(events[:i+1])
				if res != wres || ok != wok || !slices.Equal(r.Stale(), wstale) {
					t.Fatalf("events=%v: result %d,%v stale %v; want %d,%v %v", events[:i+1], res, ok, r.Stale(), wres, wok, wstale)
				}
				checkTransition(t, prev, got, e)
				prev = got
			}
		}
	})
}

func TestVoteString(t *testing.T) {
	for v, want := range map[Vote]string{Pending: "pending", Won: "won", Lost: "lost", 0: "Vote(0)", 9: "Vote(9)"} {
		if got := v.String(); got != want {
			t.Errorf("Vote(%d).String() = %q, want %q", int(v), got, want)
		}
	}
}

func TestDuplicateFirstVerdictStands(t *testing.T) {
	w := NewWrite(2, 3)
	w.Record("a", false)
	if v := w.Record("a", true); v != Pending {
		t.Fatalf("dup success after failure: vote %v, want pending", v)
	}
	if got := w.Acks(); len(got) != 0 {
		t.Fatalf("acks %v, want none", got)
	}
	w.Record("b", true)
	if v := w.Record("b", true); v != Pending {
		t.Fatalf("dup success counted twice: vote %v", v)
	}
	if v := w.Record("c", true); v != Won {
		t.Fatalf("vote %v, want won", v)
	}
}

func TestLostRevivedByAddCandidates(t *testing.T) {
	w := NewWrite(2, 2)
	w.Record("a", true)
	if v := w.Record("b", false); v != Lost {
		t.Fatalf("vote %v, want lost", v)
	}
	w.AddCandidates(1)
	if v := w.Vote(); v != Pending {
		t.Fatalf("after AddCandidates: vote %v, want pending", v)
	}
	if v := w.Record("c", true); v != Won {
		t.Fatalf("vote %v, want won", v)
	}
	if v := w.Record("d", false); v != Won {
		t.Fatalf("won is final: vote %v", v)
	}
}

func TestReadResultAndStale(t *testing.T) {
	// Values are sets of versions; merge is union; equal is set equality.
	merge := func(a, b []string) []string {
		out := slices.Clone(a)
		for _, x := range b {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		slices.Sort(out)
		return out
	}
	r := NewRead(2, 3, merge, slices.Equal[[]string])
	if _, ok := r.Result(); ok {
		t.Fatal("Result with no replies reported ok")
	}
	r.Record("a", []string{"v1"})
	r.Fail("b")
	if v := r.Record("c", []string{"v2"}); v != Won {
		t.Fatalf("vote %v, want won", v)
	}
	res, ok := r.Result()
	if !ok || !slices.Equal(res, []string{"v1", "v2"}) {
		t.Fatalf("result %v %v", res, ok)
	}
	if got := r.Stale(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("stale %v", got)
	}
	reps := r.Replies()
	if len(reps) != 2 || reps[0].Node != "a" || reps[1].Node != "c" {
		t.Fatalf("replies %v", reps)
	}
	if got := r.Failures(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("failures %v", got)
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	w := NewWrite(1, 2)
	w.Record("a", true)
	w.Record("b", false)
	w.Acks()[0] = "x"
	w.Failures()[0] = "y"
	if w.Acks()[0] != "a" || w.Failures()[0] != "b" {
		t.Fatal("Acks/Failures expose internal state")
	}
	r := NewRead(1, 1, func(a, _ int) int { return a }, func(a, b int) bool { return a == b })
	r.Record("a", 1)
	r.Replies()[0].Node = "x"
	if r.Replies()[0].Node != "a" {
		t.Fatal("Replies exposes internal state")
	}
}

func TestPanics(t *testing.T) {
	id := func(a, _ int) int { return a }
	eq := func(a, b int) bool { return a == b }
	for name, f := range map[string]func(){
		"NewWrite need 0":       func() { NewWrite(0, 3) },
		"NewWrite candidates<0": func() { NewWrite(1, -1) },
		"NewRead need 0":        func() { NewRead(0, 3, id, eq) },
		"NewRead nil merge":     func() { NewRead(1, 3, nil, eq) },
		"NewRead nil equal":     func() { NewRead[int](1, 3, id, nil) },
		"Write AddCandidates<0": func() { NewWrite(1, 1).AddCandidates(-1) },
		"Read AddCandidates<0":  func() { NewRead(1, 1, id, eq).AddCandidates(-1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("did not panic")
				}
			}()
			f()
		})
	}
}
