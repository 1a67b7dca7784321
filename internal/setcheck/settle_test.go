package setcheck

import (
	"bytes"
	"strings"
	"testing"
)

// TestRingChangesSayWhyNoCommit: a ring-change run whose plans never left
// the server's settle period reports why it committed nothing, and how to
// shorten it, instead of a bare "0 commits".
func TestRingChangesSayWhyNoCommit(t *testing.T) {
	for _, c := range []struct {
		ring RingChanges
		want string
	}{
		{RingChanges{Added: 1, Commits: 0, SettlingWaits: 14, SettleMs: 89_500}, "still settling"},
		{RingChanges{Added: 3, Removed: 2, Commits: 4}, ""},
	} {
		r := &Report{Nemesis: Nemesis{Ring: &c.ring}}
		var b bytes.Buffer
		if err := r.WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		got := b.String()
		if c.want != "" && (!strings.Contains(got, c.want) || !strings.Contains(got, "--plan-settle") || !strings.Contains(got, "1m30s")) {
			t.Errorf("%+v: the table does not say why nothing was committed:\n%s", c.ring, got)
		}
		if c.want == "" && strings.Contains(got, "settling") {
			t.Errorf("%+v: a settle note without need:\n%s", c.ring, got)
		}
	}
}
