package httpapi

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeListsEveryErrorCode: the README's table of error codes (under
// "Errors are JSON") names every error code of the client package.
func TestReadmeListsEveryErrorCode(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(b), "Errors are JSON")
	_, table, ok := strings.Cut(table, "\n| Status")
	if !ok {
		t.Fatal("README: no \"Errors are JSON\" table")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	for _, code := range clientErrorCodes(t) {
		if !strings.Contains(table, "`"+code+"`") {
			t.Errorf("the README's error table does not list %q", code)
		}
	}
}
