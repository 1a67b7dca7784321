package coordinator

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// TestOneRoundPut: a put whose context saw every primary sends its N
// conditional PUTs at once: each PUT waits until all N have arrived, so a
// put in two phases (commit, then replicate) never sends the others and
// hangs this test until go test's -timeout (a failure, with no wall-clock
// limit in the test). It reads nothing, leaves the same object on every
// primary, and a put with the context it returned goes the same way. With
// one round off (the control) no put goes in one round.
func TestOneRoundPut(t *testing.T) {
	for i := range 12 {
		key := fmt.Sprintf("one-%d", i)
		e := newEnv(t, 3+i%3)
		on := i%4 != 3
		co := e.coord(func(c *Config) { c.OneRoundPut = on })
		mustPut(t, co, key, "", "v0", Options{})
		co.Wait()
		token := mustGet(t, co, key, Options{R: QuorumAll}).Context
		co.Wait()
		for round, v := range []string{"v1", "v2"} {
			var mu sync.Mutex
			inFlight, most, gets := 0, 0, 0
			all := make(chan struct{})
			e.store.SetHook(func(_ context.Context, op kvmem.Op, _ kv.Location, name string) error {
				if name != kv.DataName(key) {
					return nil
				}
				mu.Lock()
				if op == kvmem.OpGet {
					gets++
				}
				if op != kvmem.OpPut {
					mu.Unlock()
					return nil
				}
				inFlight++
				most = max(most, inFlight)
				if most == 3 && on {
					close(all)
				}
				mu.Unlock()
				if on {
					<-all
				}
				mu.Lock()
				inFlight--
				mu.Unlock()
				return nil
			})
			before := co.Stats().OneRoundPuts.Load()
			p := mustPut(t, co, key, token, v, Options{})
			co.Wait()
			e.store.SetHook(nil)
			rounds := co.Stats().OneRoundPuts.Load() - before
			switch {
			case on && (gets != 0 || most != 3 || rounds != 1):
				t.Fatalf("%s put %d: %d GETs, %d PUTs in flight at once, %d one-round puts; want 0, 3, 1", key, round, gets, most, rounds)
			case !on && rounds != 0:
				t.Fatalf("%s put %d: %d one-round puts with one round off", key, round, rounds)
			}
			var first []byte
			for _, id := range e.primaries(key) {
				if vals := e.values(id, key); fmt.Sprint(vals) != "["+v+"]" {
					t.Fatalf("%s: primary %s holds %v, want [%s]", key, id, vals, v)
				}
				b, err := e.store.Get(context.Background(), e.loc(id), kv.DataName(key))
				if err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = b.Data
				} else if string(b.Data) != string(first) {
					t.Fatalf("%s: primary %s holds other bytes", key, id)
				}
			}
			token = p.Context
		}
	}
}
