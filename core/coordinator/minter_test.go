package coordinator

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// TestDotMinterNeverRepeats: dots minted concurrently by one process, and
// by two processes, for a few keys, through a table small enough to forget
// keys, are all distinct (across keys too, as replica actors are), and a
// key's counters under one actor are 1, 2, 3 ... (so its clock entry stays
// one contiguous counter).
func TestDotMinterNeverRepeats(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var rmu sync.Mutex
	rnd := func() uint64 { rmu.Lock(); defer rmu.Unlock(); return r.Uint64() }
	a, b := newDotMinter(rnd, 3), newDotMinter(rnd, 3)
	var mu sync.Mutex
	seen := map[vclock.Dot]bool{}
	last := map[vclock.Actor]map[string]uint64{}
	var wg sync.WaitGroup
	for w := range 8 {
		m := a
		if w%2 == 1 {
			m = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				key := fmt.Sprintf("k%d", (i*7+w)%5)
				mu.Lock() // serialize per key order checks with minting
				d := m.next(key, nil)
				if seen[d] {
					t.Errorf("dot %s minted twice", d)
				}
				seen[d] = true
				if last[d.Actor] == nil {
					last[d.Actor] = map[string]uint64{}
				}
				if prev, ok := last[d.Actor][key]; (ok && d.Counter != prev+1) || (!ok && d.Counter != 1) || (!ok && len(last[d.Actor]) > 0) {
					t.Errorf("%s: counter %d after %d, actor shared by keys %v", key, d.Counter, prev, last[d.Actor])
				}
				last[d.Actor][key] = d.Counter
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := len(last); n <= 10 {
		t.Fatalf("%d actors for 5 keys in 2 processes: the table never forgot a key", n)
	}
	// A context that covers a counter the table forgot is skipped.
	m := newDotMinter(rnd, 8)
	d := m.next("k", nil)
	m.keys = map[string]vclock.Dot{"k": {Actor: d.Actor}} // as if its counter were lost
	if d2 := m.next("k", vclock.DotClock(d, 1)); d2 == d {
		t.Fatalf("re-minted %s though the context covered it", d)
	}
}
