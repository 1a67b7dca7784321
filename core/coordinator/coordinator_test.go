package coordinator_test

import (
	"testing"

	"github.com/cartwheel/cartwheel/internal/coordtest"
)

func TestScenariosInMemory(t *testing.T) { coordtest.Run(t, coordtest.MemEnv) }
