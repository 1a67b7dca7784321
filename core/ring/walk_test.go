package ring

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// genUp draws a liveness predicate: each node is down with some probability.
func genUp(t *rapid.T, r *Ring) func(string) bool {
	down := make(map[string]bool)
	for _, n := range r.Nodes() {
		down[n.ID] = rapid.IntRange(0, 2).Draw(t, "down:"+n.ID) == 0
	}
	return func(id string) bool { return !down[id] }
}

func TestWalkMatchesNaive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := genRing(t)
		p := rapid.IntRange(0, r.Q()-1).Draw(t, "p")
		want := naiveWalk(r, p)
		if got := r.WalkPartition(p); !slices.Equal(got, want) {
			t.Fatalf("WalkPartition(%d) = %q, want %q (owners %q)", p, got, want, r.Owners())
		}
		n := rapid.IntRange(0, len(r.Nodes())+2).Draw(t, "n")
		if got := r.PrimariesOfPartition(p, n); !slices.Equal(got, want[:min(n, len(want))]) {
			t.Fatalf("PrimariesOfPartition(%d, %d) = %q, want prefix of %q", p, n, got, want)
		}
		key := rapid.String().Draw(t, "key")
		kp := r.Partition(key)
		if got, want := r.Walk(key), naiveWalk(r, kp); !slices.Equal(got, want) {
			t.Fatalf("Walk(%q) = %q, want %q", key, got, want)
		}
		if got, want := r.Primaries(key, n), r.PrimariesOfPartition(kp, n); !slices.Equal(got, want) {
			t.Fatalf("Primaries(%q, %d) = %q, want %q", key, n, got, want)
		}
	})
}

func TestPreferenceListMatchesNaive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := genRing(t)
		p := rapid.IntRange(0, r.Q()-1).Draw(t, "p")
		n := rapid.IntRange(-1, 7).Draw(t, "n")
		up := genUp(t, r)
		want := naivePreferenceList(r, p, n, up)
		if got := r.PreferenceListOfPartition(p, n, up); !slices.Equal(got, want) {
			t.Fatalf("PreferenceListOfPartition(%d, %d) = %+v, want %+v (owners %q)", p, n, got, want, r.Owners())
		}
		key := rapid.String().Draw(t, "key")
		if got, want := r.PreferenceList(key, n, up), naivePreferenceList(r, r.Partition(key), n, up); !slices.Equal(got, want) {
			t.Fatalf("PreferenceList(%q, %d) = %+v, want %+v", key, n, got, want)
		}
	})
}

// TestPreferenceListProperties checks the contract directly on claimed rings:
// distinct nodes, fallbacks only for down primaries and only from outside the
// primaries, full length when enough nodes are up, zone-diverse primaries,
// and primaries independent of liveness.
func TestPreferenceListProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := genQ(t, 2, 10)
		nodes := genNodes(t, 1, 24, 6, 4)
		r := mustNew(t, q, nodes, mustClaim(t, q, nodes, nil))
		n := rapid.IntRange(1, 6).Draw(t, "n")
		key := rapid.String().Draw(t, "key")
		up := genUp(t, r)
		pl := r.PreferenceList(key, n, up)
		prim := r.Primaries(key, n)
		allUp := r.PreferenceList(key, n, nil)

		owning := counts(r.Owners())
		zones := make(map[string]bool)
		upOwning := 0
		for _, node := range r.Nodes() {
			if owning[node.ID] > 0 {
				zones[node.Zone] = true
				if up(node.ID) {
					upOwning++
				}
			}
		}
		if len(prim) != min(n, len(owning)) {
			t.Fatalf("%d primaries, want min(n=%d, owning=%d)", len(prim), n, len(owning))
		}
		if len(zones) >= n {
			seen := make(map[string]bool)
			for _, id := range prim {
				node, _ := r.Node(id)
				if seen[node.Zone] {
					t.Fatalf("%d zones exist but primaries %q repeat zone %q", len(zones), prim, node.Zone)
				}
				seen[node.Zone] = true
			}
		}
		if len(allUp) != len(prim) {
			t.Fatalf("all up: %d replicas, want %d", len(allUp), len(prim))
		}
		for i, rep := range allUp {
			if rep != (Replica{Node: prim[i], Primary: true}) {
				t.Fatalf("all up: replica %d = %+v, want primary %q", i, rep, prim[i])
			}
		}
		if len(pl) != min(len(prim), upOwning) {
			t.Fatalf("%d replicas with %d up owning nodes and %d primaries: %+v", len(pl), upOwning, len(prim), pl)
		}
		used := make(map[string]bool)
		slot := 0
		for _, rep := range pl {
			if used[rep.Node] {
				t.Fatalf("node %q appears twice in %+v", rep.Node, pl)
			}
			used[rep.Node] = true
			if !up(rep.Node) {
				t.Fatalf("down node %q in preference list %+v", rep.Node, pl)
			}
			// Slots keep primary order; dropped slots are down primaries.
			for slot < len(prim) && prim[slot] != rep.Node && prim[slot] != rep.StandsInFor {
				if up(prim[slot]) {
					t.Fatalf("up primary %q missing from %+v", prim[slot], pl)
				}
				slot++
			}
			if slot == len(prim) {
				t.Fatalf("replica %+v out of primary order %q", rep, prim)
			}
			if rep.Primary {
				if rep.Node != prim[slot] || rep.StandsInFor != "" {
					t.Fatalf("bad primary replica %+v for slot %q", rep, prim[slot])
				}
			} else {
				if rep.StandsInFor != prim[slot] || up(prim[slot]) || slices.Contains(prim, rep.Node) {
					t.Fatalf("bad fallback %+v for slot %q (primaries %q)", rep, prim[slot], prim)
				}
			}
			slot++
		}
	})
}

func TestPartitionsOf(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := genRing(t)
		n := rapid.IntRange(0, 4).Draw(t, "n")
		total := 0
		for _, node := range r.Nodes() {
			got := r.PartitionsOf(node.ID, n)
			var want []int
			for p := range r.Q() {
				if slices.Contains(naiveWalk(r, p)[:min(n, len(naiveWalk(r, p)))], node.ID) {
					want = append(want, p)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("PartitionsOf(%q, %d) = %v, want %v", node.ID, n, got, want)
			}
			total += len(got)
		}
		if want := r.Q() * min(n, len(counts(r.Owners()))); total != want {
			t.Fatalf("partitions held %d times in total, want Q*min(n, owning) = %d", total, want)
		}
		if got := r.PartitionsOf("not-a-node", 3); got != nil {
			t.Fatalf("PartitionsOf(unknown) = %v, want nil", got)
		}
	})
}

func TestWalkZoneOrderExample(t *testing.T) {
	// Ring order a1 a2 b1 c1 b2: zones a, a, b, c, b.
	nodes := []Node{
		{ID: "a1", Zone: "a", Weight: 1}, {ID: "a2", Zone: "a", Weight: 1},
		{ID: "b1", Zone: "b", Weight: 1}, {ID: "b2", Zone: "b", Weight: 1},
		{ID: "c1", Zone: "c", Weight: 1},
	}
	owners := []string{"a1", "a2", "b1", "c1", "b2", "a1", "a2", "b1"}
	r := mustNew(t, 8, nodes, owners)
	if got, want := r.WalkPartition(0), []string{"a1", "b1", "c1", "a2", "b2"}; !slices.Equal(got, want) {
		t.Errorf("WalkPartition(0) = %q, want %q", got, want)
	}
	if got, want := r.WalkPartition(4), []string{"b2", "a1", "c1", "a2", "b1"}; !slices.Equal(got, want) {
		t.Errorf("WalkPartition(4) = %q, want %q", got, want)
	}
	down := func(ids ...string) func(string) bool {
		return func(id string) bool { return !slices.Contains(ids, id) }
	}
	got := r.PreferenceListOfPartition(0, 3, down("b1"))
	want := []Replica{{Node: "a1", Primary: true}, {Node: "a2", StandsInFor: "b1"}, {Node: "c1", Primary: true}}
	if !slices.Equal(got, want) {
		t.Errorf("PreferenceListOfPartition(0, 3, b1 down) = %+v, want %+v", got, want)
	}
	got = r.PreferenceListOfPartition(0, 3, down("a1", "b1", "c1", "a2", "b2"))
	if len(got) != 0 {
		t.Errorf("all down: %+v, want empty", got)
	}
	if got := r.PreferenceListOfPartition(0, 0, nil); got != nil {
		t.Errorf("n=0: %+v, want nil", got)
	}
	if got := r.PrimariesOfPartition(0, -1); got != nil {
		t.Errorf("n=-1: %q, want nil", got)
	}
	if got := r.PartitionsOf("c1", 0); got != nil {
		t.Errorf("PartitionsOf(c1, 0) = %v, want nil", got)
	}
}

func TestPreferenceListCallsUpOncePerNode(t *testing.T) {
	nodes := equalNodes(16)
	r := mustNew(t, 256, nodes, mustClaim(t, 256, nodes, nil))
	calls := make(map[string]int)
	up := func(id string) bool {
		calls[id]++
		return id != "n003" && id != "n007" && id > "n002"
	}
	for p := range r.Q() {
		clear(calls)
		pl := r.PreferenceListOfPartition(p, 5, up)
		if len(pl) != 5 {
			t.Fatalf("partition %d: %d replicas, want 5: %+v", p, len(pl), pl)
		}
		for id, c := range calls {
			if c != 1 {
				t.Fatalf("partition %d: up(%q) called %d times", p, id, c)
			}
		}
	}
}

func ExampleRing_PreferenceList() {
	nodes := []Node{
		{ID: "n1", Zone: "us-east-1a", Weight: 1},
		{ID: "n2", Zone: "us-east-1b", Weight: 1},
		{ID: "n3", Zone: "us-east-1c", Weight: 1},
		{ID: "n4", Zone: "us-east-1a", Weight: 1},
	}
	owners, err := Claim(16, nodes, nil)
	if err != nil {
		panic(err)
	}
	r, err := New(16, nodes, owners)
	if err != nil {
		panic(err)
	}
	fmt.Println("partition", r.Partition("cart:42"), "walk", r.Walk("cart:42"))
	up := func(id string) bool { return id != "n2" }
	for _, rep := range r.PreferenceList("cart:42", 3, up) {
		fmt.Printf("%+v\n", rep)
	}
	// Output:
	// partition 10 walk [n3 n4 n2 n1]
	// {Node:n3 Primary:true StandsInFor:}
	// {Node:n4 Primary:true StandsInFor:}
	// {Node:n1 Primary:false StandsInFor:n2}
}

// TestRingConcurrentUse runs lookups from several goroutines; with -race it
// checks that a Ring is safe to share (lookups keep no state in it).
func TestRingConcurrentUse(t *testing.T) {
	nodes := equalNodes(12)
	r := mustNew(t, 512, nodes, mustClaim(t, 512, nodes, nil))
	want := make([][]Replica, 64)
	for i := range want {
		want[i] = r.PreferenceList(fmt.Sprint(i), 3, nil)
	}
	errs := make(chan string, 8)
	for g := range 8 {
		go func() {
			for i := range want {
				if got := r.PreferenceList(fmt.Sprint(i), 3, nil); !slices.Equal(got, want[i]) {
					errs <- fmt.Sprintf("goroutine %d key %d: %+v, want %+v", g, i, got, want[i])
					return
				}
			}
			errs <- ""
		}()
	}
	for range 8 {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}
