package vclock

import "testing"

func TestTop(t *testing.T) {
	c := Clock{{Actor: "a", Counter: 3}, {Actor: "b", Counter: 1, Extra: []uint64{4, 9}}}
	for a, want := range map[Actor]uint64{"a": 3, "b": 9, "c": 0} {
		if got := c.Top(a); got != want {
			t.Fatalf("Top(%s) of %s = %d, want %d", a, c, got, want)
		}
	}
}
