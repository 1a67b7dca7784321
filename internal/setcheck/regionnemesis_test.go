package setcheck

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestNemesisWithRegionCut: while a region cut is on, the random nemesis
// never acts on a cut node, takes a node down only if the total (cut
// included) stays within its limit, heals one of its own downs first when
// the cut pushed the total over the limit, and adds no fault when the cut and
// its faults already fill its share.
func TestNemesisWithRegionCut(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nodes := rapid.IntRange(1, 9).Draw(t, "nodes")
		n := rapid.IntRange(1, 5).Draw(t, "n")
		w := rapid.IntRange(1, n).Draw(t, "w")
		var ids []string
		for i := 1; i <= nodes; i++ {
			ids = append(ids, fmt.Sprintf("n%d", i))
		}
		m := newNemesis(rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1)), ids, n, w,
			rapid.IntRange(0, 3).Draw(t, "maxDown"), rapid.Float64Range(0, 1).Draw(t, "sloppy"), 100*time.Millisecond)
		cut := rapid.SliceOfNDistinct(rapid.SampledFrom(ids), 1, nodes, rapid.ID[string]).Draw(t, "cut")
		cutAt := rapid.IntRange(0, 20).Draw(t, "cutAt")
		healAt := cutAt + rapid.IntRange(1, 40).Draw(t, "for")
		for i := 0; i < healAt+20; i++ {
			switch i {
			case cutAt:
				if err := m.cutOff(cut, func() error { return nil }); err != nil {
					t.Fatal(err)
				}
				for _, id := range cut {
					if _, ok := m.modes[id]; ok {
						t.Fatalf("the nemesis still records a fault on cut node %s", id)
					}
				}
			case healAt:
				if err := m.healCut(func() error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
			cutOn := i >= cutAt && i < healAt
			downsBefore, faultedBefore := m.downs(), len(m.modes)+len(m.cut)
			a := m.next()
			if a.node == "" {
				if len(m.modes) > 0 || (!cutOn && nodes > 0) {
					t.Fatalf("step %d: no action with faults %v, cut %v", i, m.modes, m.cut)
				}
				continue
			}
			if m.cut[a.node] {
				t.Fatalf("step %d: action %+v on cut node", i, a)
			}
			if cutOn && downsBefore > m.downLimit() && m.ownDowns() > 0 && !(a.heal && m.modes[a.node].Kind == "down") {
				t.Fatalf("step %d: %d down (limit %d) and the nemesis did not heal one of its own: %+v", i, downsBefore, m.downLimit(), a)
			}
			if !a.heal && faultedBefore >= max((nodes+1)/2, 1) {
				t.Fatalf("step %d: a new fault with %d nodes already faulted or cut of %d", i, faultedBefore, nodes)
			}
			m.applied(a, nil)
			if !a.heal && a.mode.Kind == "down" && m.downs() > m.downLimit() {
				t.Fatalf("step %d: %d nodes down after %+v, limit %d (cut %v)", i, m.downs(), a, m.downLimit(), m.cut)
			}
		}
		if len(m.cut) != 0 {
			t.Fatalf("cut %v left after the heal", m.cut)
		}
	})
}

// ownDowns counts the nodes the nemesis itself has down.
func (m *nemesis) ownDowns() int {
	d := 0
	for _, f := range m.modes {
		if f.Kind == "down" {
			d++
		}
	}
	return d
}

// TestRunRegionCutWithNemesis runs the random nemesis beside a region cut
// that names its nodes: while the cut is on, the nemesis sets no fault on a
// cut node, clears none of the cut's faults, and takes no other node down
// that would leave more than its limit down in all.
func TestRunRegionCutWithNemesis(t *testing.T) {
	f := newFake()
	cutNodes := []string{"n1", "n2"}
	var cutOn bool
	var violations []string
	f.onFault = func() { // under f.mu, after a nemesis PUT
		if !cutOn {
			return
		}
		downs := 0
		for id, m := range f.faults {
			if m.Kind == "down" {
				downs++
			}
			if slices.Contains(cutNodes, id) && m.Kind != "down" {
				violations = append(violations, "fault on cut node "+id+": "+m.Kind)
			}
		}
		if last := f.faultLog[len(f.faultLog)-1]; strings.HasSuffix(last, "=down") && downs > 2 {
			violations = append(violations, fmt.Sprintf("%s with %d down", last, downs))
		}
	}
	region := &RegionCut{
		Name: "zone a", At: 50 * time.Millisecond, For: 250 * time.Millisecond, Nodes: cutNodes,
		Cut: func(context.Context) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, id := range cutNodes {
				f.faults[id] = FaultMode{Kind: "down"}
			}
			cutOn = true
			return nil
		},
		Heal: func(context.Context) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, id := range cutNodes {
				if f.faults[id].Kind != "down" {
					violations = append(violations, "cut node "+id+" came back before the heal")
				}
				delete(f.faults, id)
			}
			cutOn = false
			return nil
		},
	}
	rep, err := runFake(t, f, Config{Nemesis: true, NemesisInterval: time.Millisecond, Clients: 2, Keys: 2,
		Duration: 400 * time.Millisecond, Ops: 1 << 30, Region: region})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("%d violations, e.g. %v", len(violations), violations[:min(len(violations), 5)])
	}
	if rep.Region == nil || rep.Region.CutAt < 0 || rep.Region.HealedAt < 0 || rep.Region.Error != "" {
		t.Fatalf("region %+v", rep.Region)
	}
	if rep.Nemesis.Faults() == 0 || len(f.faults) != 0 || !rep.OK() {
		t.Fatalf("nemesis %+v, faults left %v, report OK %v", rep.Nemesis, f.faults, rep.OK())
	}
}
