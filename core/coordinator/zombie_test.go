package coordinator

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// TestOneRoundZombieCopy: a one-round put whose caller dies while two
// replicas' writes hang has already replaced, at the third, the
// acknowledged v1 its context saw. A later blind put coordinates at a
// replica that still holds v1. Nothing may be lost: either v1 survives or
// the version that superseded it does. (A prototype whose copies carried a
// dot the hung replica had yet to accept lost v1 here: the blind put minted
// that dot for itself, the copies died as strays, and their supersession of
// v1 stayed.)
func TestOneRoundZombieCopy(t *testing.T) {
	e := newEnv(t, 3)
	co := e.coord()
	key := "zombie"
	mustPut(t, co, key, "", "v1", Options{})
	co.Wait()
	g := mustGet(t, co, key, Options{R: QuorumAll})
	co.Wait()
	prim := e.primaries(key)
	landing := e.loc(prim[1]) // the others hang; the first primary is where a blind put coordinates
	var mu sync.Mutex
	copies := 0
	landed := make(chan struct{})
	e.store.SetHook(func(ctx context.Context, op kvmem.Op, loc kv.Location, name string) error {
		if op != kvmem.OpPut || name != kv.DataName(key) {
			return nil
		}
		if loc != landing {
			<-ctx.Done() // these writes hang until the caller dies
			return ctx.Err()
		}
		mu.Lock()
		copies++
		if copies == 1 {
			close(landed)
		}
		mu.Unlock()
		return nil
	})
	cctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := co.Put(cctx, key, g.Context, val("v2"), Options{})
		done <- err
	}()
	<-landed
	for fmt.Sprint(e.values(prim[1], key)) != "[v2]" { // the write that passed lands
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v", err)
	}
	co.Wait()
	e.store.SetHook(nil)
	mustPut(t, co, key, "", "v3", Options{}) // blind
	co.Wait()
	got := mustGet(t, co, key, Options{R: QuorumAll})
	co.Wait()
	if vals := fmt.Sprint(liveValues(got.Siblings)); vals != "[v2 v3]" {
		t.Fatalf("get = %s: v1 (acknowledged) lost, or v2 (which superseded it) vanished", vals)
	}
}
