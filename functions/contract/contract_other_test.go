//go:build !linux

package contract

import (
	"fmt"
	"os"
	"runtime"
	"testing"
)

// TestContract skips, loudly, where the bootstraps cannot run: they and the
// Lambda Runtime Interface Emulator are linux programs (see contract_test.go).
func TestContract(t *testing.T) {
	msg := fmt.Sprintf("contract: SKIPPING the Lambda contract test on %s: the emulator and the bootstraps run on linux only", runtime.GOOS)
	fmt.Fprintln(os.Stderr, "!!!!! "+msg)
	t.Skip(msg)
}

// TestFreeze skips, loudly, for the same reason (see freeze_test.go); it also
// stops the bootstrap with SIGSTOP.
func TestFreeze(t *testing.T) {
	msg := fmt.Sprintf("contract: SKIPPING the Lambda freeze test on %s: the bootstrap runs on linux only", runtime.GOOS)
	fmt.Fprintln(os.Stderr, "!!!!! "+msg)
	t.Skip(msg)
}
