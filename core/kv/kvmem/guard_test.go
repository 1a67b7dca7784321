package kvmem_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
)

// A write that passed its guard on entry (after the hook, the simulated
// network) is checked again where it takes effect, under the store's lock: an
// operation suspended in between (the freeze comes right after the entry
// check, while the write waits for the lock) never writes. Put and Delete.
func TestGuardWhereTheWriteTakesEffect(t *testing.T) {
	errFrozen := errors.New("operation suspended")
	loc := kv.Location{Bucket: "b", Prefix: "n/"}
	for _, op := range []string{"put", "delete"} {
		t.Run(op, func(t *testing.T) {
			s := kvmem.NewStore()
			etag, err := s.Put(context.Background(), loc, "k", []byte("v"), "a", "")
			if err != nil {
				t.Fatal(err)
			}
			name := "k"
			if op == "put" {
				name = "new"
			}
			var passed atomic.Bool
			ctx := kv.WithWriteGuard(context.Background(), func() error {
				if passed.Swap(true) { // suspended once it let the write in
					return errFrozen
				}
				return nil
			})
			if op == "delete" {
				err = s.Delete(ctx, loc, name, etag)
			} else {
				_, err = s.Put(ctx, loc, name, []byte("old"), "a", "")
			}
			if !errors.Is(err, errFrozen) {
				t.Fatalf("%s suspended while it waited = %v, want the guard's refusal", op, err)
			}
			_, err = s.Get(context.Background(), loc, name)
			if (op == "put") != errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("after a refused %s, get %s = %v", op, name, err)
			}
		})
	}
}
