package coordinator_test

import (
	"context"
	"testing"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/internal/coordtest"
)

// A cluster record saved without context keys (made before they existed) gets
// them from the first coordinator that loads it, once, with a conditional
// save; every coordinator then signs with the same key.
func TestContextKeysInstalledOnce(t *testing.T) {
	ctx := context.Background()
	env := coordtest.MemEnv(t)
	c := coordtest.NewCluster(t, env, coordtest.Options{})
	legacy := c.Cluster
	legacy.ContextKeys = nil
	legacy.Epoch++
	if err := env.Members.Save(ctx, legacy, c.Cluster.Epoch); err != nil {
		t.Fatal(err)
	}
	a, b := c.Coordinator(), c.Coordinator()
	p, err := a.Put(ctx, "k", "", coordinator.Value{Data: []byte("v")}, coordinator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Wait()
	got, err := env.Members.Load(ctx)
	if err != nil || got.ContextKeys == nil || got.ContextKeys.Validate() != nil || got.Epoch != legacy.Epoch+1 {
		t.Fatalf("after the first request: epoch %d (want %d), keys %+v, %v", got.Epoch, legacy.Epoch+1, got.ContextKeys, err)
	}
	if _, err := b.Put(ctx, "k", p.Context, coordinator.Value{Data: []byte("w")}, coordinator.Options{}); err != nil {
		t.Fatalf("a second coordinator rejects the first one's context: %v", err)
	}
	if again, _ := env.Members.Load(ctx); again.Epoch != got.Epoch {
		t.Fatalf("keys installed twice: epoch %d, then %d", got.Epoch, again.Epoch)
	}
}
