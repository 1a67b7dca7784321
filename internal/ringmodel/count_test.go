package ringmodel_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/cartwheel/cartwheel/internal/ringmodel"
)

// TestCountFailures measures how often the model finds a defect: with
// CARTWHEEL_RINGMODEL_COUNT=N it runs seeds 1..N without stopping at the
// first failure and reports how many failed and the first (used to size the
// default run against defects put back on purpose). Skipped otherwise.
func TestCountFailures(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("CARTWHEEL_RINGMODEL_COUNT"))
	if err != nil || n < 1 {
		t.Skip("set CARTWHEEL_RINGMODEL_COUNT=N to count failing histories")
	}
	cfg := ringmodel.DefaultConfig()
	fails, first := 0, -1
	for i := 0; i < n; i++ {
		if _, err := ringmodel.History(t, int64(1+i), cfg); err != nil {
			fails++
			if first < 0 {
				first = i + 1
				t.Logf("first failure: seed %d: %v", i+1, err)
			}
		}
	}
	t.Logf("%d of %d histories failed, the first at seed %d", fails, n, first)
}
