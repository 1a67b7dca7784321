package crdtmodel_test

import (
	"testing"

	"github.com/cartwheel/cartwheel/internal/coordtest"
	"github.com/cartwheel/cartwheel/internal/crdtmodel"
	"github.com/cartwheel/cartwheel/internal/modeltest"
)

func TestDataTypesAgainstSpec(t *testing.T) {
	for _, faults := range []bool{false, true} {
		cfg := crdtmodel.Config{Seed: 1, Histories: modeltest.Scale(t, 40), Ops: 60, Faults: faults}
		if faults {
			cfg.Seed = 1_000_000
		}
		tot := crdtmodel.Run(t, coordtest.MemEnv, cfg)
		if tot.Present == 0 || tot.Absent == 0 || tot.Removes == 0 {
			t.Fatalf("the run checked too little: %v", tot)
		}
		t.Logf("faults %v: %v", faults, tot)
	}
}
