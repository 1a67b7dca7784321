package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchProgressOnlyOnATerminal: like check and sim, bench writes its
// progress lines only when standard error is a terminal; a pipe or a file
// gets none (the results still go to standard output).
//
// It benches the test binary's shared kumo server by URL: "--endpoints kumo"
// would start a second kumo in this process, and kumo's services are
// process-wide (a race other tests here then hit; see endpoints).
func TestBenchProgressOnlyOnATerminal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	ep := kumoEndpoint(t)
	args := []string{"bench", "--endpoints", ep, "--workloads", "A", "--duration", "200ms", "--calibrate", "200ms",
		"--degraded", "0", "--rate", "50", "--records", "20", "--nodes", "4", "--out", t.TempDir()}
	if code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("bench: exit %d\n%s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("bench wrote progress to a non-terminal stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), ep) {
		t.Errorf("bench printed no results for %s:\n%s", ep, stdout.String())
	}
}
