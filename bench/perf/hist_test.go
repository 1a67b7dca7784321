package perf

import (
	"fmt"
	"slices"
	"testing"
)

// TestErrorSamples: a phase keeps the first distinct error messages, at
// most maxErrorSamples, across workers' merged histograms, and counts all.
func TestErrorSamples(t *testing.T) {
	a, b := newLatencies(), newLatencies()
	for i := range 4 {
		a.Errors++
		a.sampleError(fmt.Sprintf("e%d", i%2)) // e0, e1, e0, e1
		b.Errors++
		b.sampleError(fmt.Sprintf("e%d", i+1)) // e1..e4
	}
	a.merge(b)
	if want := []string{"e0", "e1", "e2", "e3", "e4"}; a.Errors != 8 || !slices.Equal(a.ErrorSamples, want) {
		t.Fatalf("errors %d, samples %q; want 8 and %q", a.Errors, a.ErrorSamples, want)
	}
	a.sampleError("e5")
	if len(a.ErrorSamples) != maxErrorSamples {
		t.Fatalf("%d samples kept, want at most %d", len(a.ErrorSamples), maxErrorSamples)
	}
}
