package repair_test

import (
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/internal/coordtest"
	"github.com/cartwheel/cartwheel/internal/repairtest"
)

func memEnv(t *testing.T) coordtest.Env {
	return coordtest.Env{
		Store:   kvmem.NewStore(),
		Hints:   kvmem.NewHintQueue(50*time.Millisecond, 100),
		Members: kvmem.NewMembership(),
		Bucket:  "cartwheel-test",
	}
}

func TestScenariosInMemory(t *testing.T) { repairtest.Run(t, memEnv) }

func TestRingChangesInMemory(t *testing.T) { repairtest.RunRingChanges(t, memEnv) }
