package crdtmodel_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/cartwheel/cartwheel/internal/coordtest"
	"github.com/cartwheel/cartwheel/internal/crdtmodel"
)

// scale multiplies the histories: CARTWHEEL_MODEL_SCALE=10 for a long run.
func scale(t *testing.T, n int) int {
	if s := os.Getenv("CARTWHEEL_MODEL_SCALE"); s != "" {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 {
			t.Fatalf("CARTWHEEL_MODEL_SCALE=%q must be a positive integer", s)
		}
		return n * k
	}
	return n
}

func TestDataTypesAgainstSpec(t *testing.T) {
	for _, faults := range []bool{false, true} {
		cfg := crdtmodel.Config{Seed: 1, Histories: scale(t, 40), Ops: 60, Faults: faults}
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
