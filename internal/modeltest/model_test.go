package modeltest_test

import (
	"testing"

	"github.com/cartwheel/cartwheel/internal/coordtest"
	"github.com/cartwheel/cartwheel/internal/modeltest"
)

// regressionSeeds are seeds that once failed, kept so they always run.
var regressionSeeds = []struct {
	seed   int64
	faults bool
}{{16, false}}

func TestContractAgainstModel(t *testing.T) {
	cfg := modeltest.DefaultConfig()
	cfg.Histories = modeltest.Scale(t, cfg.Histories)
	tot := modeltest.Run(t, coordtest.MemEnv, cfg)
	if tot.OneRoundPuts == 0 || tot.Recycled == 0 {
		t.Fatalf("%d puts in one round, %d coordinators recycled; want some of each", tot.OneRoundPuts, tot.Recycled)
	}
	t.Logf("fault-free: %v", tot)
}

func TestContractAgainstModelWithFaults(t *testing.T) {
	cfg := modeltest.DefaultConfig()
	cfg.Faults = true
	cfg.Seed = 1_000_000
	cfg.Histories = modeltest.Scale(t, 300)
	cfg.Ops = 60
	tot := modeltest.Run(t, coordtest.MemEnv, cfg)
	t.Logf("with faults: %v", tot)
}

// TestContractAgainstModelFallbackChurn: up to three of seven nodes down at
// once, so every primary of a key can be down and fallbacks coordinate
// writes, minting dots in hinted replicas; hints are delivered and stubs
// expire mid-history, so hinted replicas are created again at the same
// names. The dot ledger checks that no dot ever names two versions
// (issue 22, defect 4: reused minting identities).
func TestContractAgainstModelFallbackChurn(t *testing.T) {
	cfg := modeltest.DefaultConfig()
	cfg.Faults, cfg.Nodes, cfg.MaxDown = true, 7, 3
	cfg.Seed, cfg.Histories, cfg.Ops = 3_000_000, modeltest.Scale(t, 100), 60
	tot := modeltest.Run(t, coordtest.MemEnv, cfg)
	t.Logf("fallback churn: %v", tot)
}

// TestContractAgainstModelLocalQuorum: coordinators in three regions, about
// half the operations with r=w=local, fault-free and with faults.
func TestContractAgainstModelLocalQuorum(t *testing.T) {
	for _, faults := range []bool{false, true} {
		cfg := modeltest.DefaultConfig()
		cfg.Local, cfg.Faults = true, faults
		cfg.Seed, cfg.Histories = 2_000_000, modeltest.Scale(t, 300)
		if faults {
			cfg.Ops, cfg.Histories = 60, modeltest.Scale(t, 100)
		}
		tot := modeltest.Run(t, coordtest.MemEnv, cfg)
		if tot.Local == 0 {
			t.Fatal("no operation asked for the local quorum")
		}
		t.Logf("local quorum, faults %v: %v", faults, tot)
	}
}

// TestContractAgainstModelHedged: hedged reads and writes on (at the
// median latency, so they happen often), with faults: stand-ins written
// beside primaries still writing, hinted replicas delivered to primaries
// that got the version anyway.
func TestContractAgainstModelHedged(t *testing.T) {
	cfg := modeltest.DefaultConfig()
	cfg.Faults, cfg.Hedged = true, true
	cfg.Seed, cfg.Histories, cfg.Ops = 5_000_000, modeltest.Scale(t, 100), 60
	tot := modeltest.Run(t, coordtest.MemEnv, cfg)
	if tot.HedgedWrites == 0 || tot.HedgedReads == 0 {
		t.Fatalf("hedged mode hedged %d reads and %d writes; want some of each", tot.HedgedReads, tot.HedgedWrites)
	}
	t.Logf("hedged: %v; %d hedged reads, %d hedged writes", tot, tot.HedgedReads, tot.HedgedWrites)
}

// TestContractAgainstModelRaces: puts race on one key through different
// coordinators with an identical context while replicas answer in
// adversarial orders (race.go); every racer's version survives and no dot
// names two versions.
func TestContractAgainstModelRaces(t *testing.T) {
	cfg := modeltest.DefaultConfig()
	cfg.Races = true
	cfg.Seed, cfg.Histories = 4_000_000, modeltest.Scale(t, 100)
	tot := modeltest.Run(t, coordtest.MemEnv, cfg)
	if tot.Races == 0 || tot.OneRoundRaces == 0 {
		t.Fatalf("%d racing steps, %d in one round; want some of each", tot.Races, tot.OneRoundRaces)
	}
	t.Logf("races: %v; %d racing steps (%d in one round), %d racing puts, %d conditional writes lost and retried (%.2f per racing put)",
		tot, tot.Races, tot.OneRoundRaces, tot.RacePuts, tot.RaceRetries, float64(tot.RaceRetries)/float64(tot.RacePuts))
}

func TestContractRegressionSeeds(t *testing.T) {
	for _, r := range regressionSeeds {
		cfg := modeltest.DefaultConfig()
		cfg.Faults, cfg.Seed, cfg.Histories = r.faults, r.seed, 1
		if r.faults {
			cfg.Ops = 60
		}
		modeltest.Run(t, coordtest.MemEnv, cfg)
	}
}
