package storetest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

// MultiEndpoint runs the kv.ReplicaStore conformance suite through one store
// at several locations that differ in region and endpoint (one local server
// per "region"), then checks that the locations are really apart: an object
// written at one is not visible at the others, though bucket and prefix are
// the same. newLoc returns, for location i, an empty location of its own with
// a fresh prefix; all of them must use the same bucket name and prefix when
// called with the same suffix.
func MultiEndpoint(t *testing.T, s kv.ReplicaStore, regions int, newLoc func(t *testing.T, i int, suffix string) kv.Location) {
	n := 0
	for i := range regions {
		t.Run(fmt.Sprintf("region%d", i), func(t *testing.T) {
			// Every case but the concurrent-write races, which test the
			// backend's atomicity, not the routing to it: the single-endpoint
			// suite runs them on every backend, and moto_server, which these
			// regions run on, is not atomic under load (internal/regioncheck's
			// TestConditionalWriteRace).
			replicaStore(t, func(t *testing.T) (kv.ReplicaStore, kv.Location) {
				n++
				return s, newLoc(t, i, fmt.Sprintf("conf-%d", n))
			}, false)
		})
	}
	t.Run("Isolated", func(t *testing.T) {
		ctx := testCtx(t)
		locs := make([]kv.Location, regions)
		for i := range locs {
			locs[i] = newLoc(t, i, "iso")
		}
		for i, loc := range locs {
			mustPut(ctx, t, s, loc, "data/only", []byte(fmt.Sprint("region ", i)), "a:1", "")
		}
		for i, loc := range locs {
			mustGet(ctx, t, s, loc, "data/only", []byte(fmt.Sprint("region ", i)), etagOf([]byte(fmt.Sprint("region ", i))), "a:1")
			if err := s.Delete(ctx, loc, "data/only", ""); err != nil {
				t.Fatal(err)
			}
			for j, other := range locs {
				if j <= i {
					continue
				}
				if _, err := s.Get(ctx, other, "data/only"); err != nil {
					t.Fatalf("deleting at region %d removed the object at region %d: %v", i, j, err)
				}
			}
			if _, err := s.Get(ctx, loc, "data/only"); !errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("region %d: deleted object still there: %v", i, err)
			}
		}
	})
}
