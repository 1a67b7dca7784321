package crdt

import (
	"errors"
	"reflect"
	"testing"
)

func i64(n int64) *int64   { return &n }
func str(s string) *string { return &s }
func yes() *bool           { b := true; return &b }

func TestRemoveNeedsAContextThatSawTheElement(t *testing.T) {
	s, err := Apply(State{}, Op{Type: Set, Add: []string{"a"}}, nil, "r1", 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(s, Op{Type: Set, Remove: []string{"a"}}, nil, "r1", 2, 2); !errors.Is(err, ErrNotSeen) {
		t.Fatalf("remove without a context: %v, want ErrNotSeen", err)
	}
	empty := New(Set)
	if _, err := Apply(s, Op{Type: Set, Remove: []string{"a"}}, &empty, "r1", 2, 2); !errors.Is(err, ErrNotSeen) {
		t.Fatalf("remove with a context that never saw it: %v, want ErrNotSeen", err)
	}
	if _, err := Apply(s, Op{Type: Counter, Increment: i64(1)}, nil, "r1", 2, 2); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("counter op on a set: %v, want ErrTypeMismatch", err)
	}
}

// TestConcurrentAddWinsAndUpdateWins: the add (or field update) a remove did
// not observe survives it, on whichever replica they meet.
func TestConcurrentAddWinsAndUpdateWins(t *testing.T) {
	s, _ := Apply(State{}, Op{Type: Set, Add: []string{"a"}}, nil, "r1", 1, 1)
	read := s
	x, _ := Apply(s, Op{Type: Set, Remove: []string{"a"}}, &read, "r1", 2, 2)
	y, _ := Apply(s, Op{Type: Set, Add: []string{"a"}}, nil, "r2", 1, 2)
	if got := Merge(x, y).Value(); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("add vs remove: %v, want [a]", got)
	}
	m, _ := Apply(State{}, Op{Type: Map, Update: map[string]Op{"i": {Type: Counter, Increment: i64(2)}, "done": {Type: Flag, Enable: yes()}}}, nil, "r1", 1, 1)
	mr := m
	x, _ = Apply(m, Op{Type: Map, Remove: []string{"i", "done"}}, &mr, "r1", 2, 2)
	y, _ = Apply(m, Op{Type: Map, Update: map[string]Op{"j": {Type: Register, Assign: str("t")}}}, nil, "r2", 1, 2)
	want := map[string]any{"j": "t"}
	if got := Merge(x, y).Value(); !reflect.DeepEqual(got, want) {
		t.Fatalf("map: %v, want %v", got, want)
	}
	z, _ := Apply(m, Op{Type: Map, Update: map[string]Op{"done": {Type: Flag, Enable: yes()}}}, nil, "r3", 1, 3)
	want = map[string]any{"done": true}
	if got := Merge(x, z).Value(); !reflect.DeepEqual(got, want) {
		t.Fatalf("update wins: %v, want %v", got, want)
	}
}

func TestRegisterLastWriterWins(t *testing.T) {
	m, _ := Apply(State{}, Op{Type: Map, Update: map[string]Op{"r": {Type: Register, Assign: str("old")}}}, nil, "r1", 1, 1)
	x, _ := Apply(m, Op{Type: Map, Update: map[string]Op{"r": {Type: Register, Assign: str("late")}}}, nil, "r1", 2, 9)
	y, _ := Apply(m, Op{Type: Map, Update: map[string]Op{"r": {Type: Register, Assign: str("early")}}}, nil, "r2", 1, 5)
	z, _ := Apply(m, Op{Type: Map, Update: map[string]Op{"r": {Type: Register, Assign: str("tie")}}}, nil, "r3", 1, 9)
	if got := Merge(x, y).Value().(map[string]any)["r"]; got != "late" {
		t.Fatalf("register: %v, want late (the later time)", got)
	}
	if got := Merge(x, z).Value().(map[string]any)["r"]; got != "tie" {
		t.Fatalf("register: %v, want tie (same time, greater actor r3)", got)
	}
}

func TestOpCheck(t *testing.T) {
	for _, op := range []Op{
		{Type: "list"},
		{Type: Counter},
		{Type: Counter, Increment: i64(1), Add: []string{"x"}},
		{Type: Set},
		{Type: Map, Update: map[string]Op{"f": {Type: Flag}}},
		{Type: Map, Update: map[string]Op{"f": {Type: Set, Add: []string{"a"}, Context: "x"}}},
		{Type: Counter, Increment: i64(MaxIncrement + 1)},
		{Type: Set, Add: []string{"\xff"}},
	} {
		if err := op.Check(); !errors.Is(err, ErrBadOp) {
			t.Errorf("%+v: %v, want ErrBadOp", op, err)
		}
	}
}
