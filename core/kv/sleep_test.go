package kv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

// TestSleepHonoursContext: a cancelled context ends the wait with its error
// (an hour-long sleep returns at once); a zero wait returns nil.
func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := kv.Sleep(ctx, 3600e9); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := kv.Sleep(context.Background(), 0); err != nil {
		t.Fatalf("zero: %v", err)
	}
}
