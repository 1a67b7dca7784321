package modeltest

import (
	"os"
	"strconv"
	"testing"
)

// Scale multiplies a generated model's number of histories n by
// CARTWHEEL_MODEL_SCALE (a positive integer; unset: 1, as make test runs
// it). CARTWHEEL_MODEL_SCALE=10 is the long run every model
// (internal/modeltest, internal/ringmodel, internal/crdtmodel) honours; any
// other value fails the test.
func Scale(t testing.TB, n int) int {
	t.Helper()
	s := os.Getenv("CARTWHEEL_MODEL_SCALE")
	if s == "" {
		return n
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 1 {
		t.Fatalf("CARTWHEEL_MODEL_SCALE=%q must be a positive integer", s)
	}
	return n * k
}
