package crdt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cartwheel/cartwheel/core/vclock"
	"pgregory.net/rapid"
)

// replica is one simulated replica object: its actor, its commit counter
// (the vclock dot counter a real commit would mint) and its state.
type replica struct {
	actor vclock.Actor
	k     uint64
	st    State
}

// commit applies op at the replica as a coordinator's commit would.
func (r *replica) commit(op Op, ctx *State, now int64) error {
	next, err := Apply(r.st, op, ctx, r.actor, r.k+1, now)
	if err != nil {
		return err
	}
	r.k++
	r.st = next
	return nil
}

var (
	elems  = []string{"a", "b", "c", "d"}
	fields = []string{"x", "y", "z"}
)

// drawOp draws an operation of type t; removes name elements or fields of
// ctx (the state a client read) when there is one.
func drawOp(t *rapid.T, typ Type, ctx *Store, depth int, label string) Op {
	op := Op{Type: typ}
	switch typ {
	case Counter:
		n := rapid.Int64Range(-5, 5).Draw(t, label+"incr")
		op.Increment = &n
	case Flag:
		b := rapid.Bool().Draw(t, label+"enable")
		op.Enable = &b
	case Register:
		s := rapid.SampledFrom(elems).Draw(t, label+"assign")
		op.Assign = &s
	case Set:
		if ctx != nil && len(ctx.Elems) > 0 && rapid.Bool().Draw(t, label+"rm?") {
			op.Remove = []string{rapid.SampledFrom(sortedKeys(ctx.Elems)).Draw(t, label+"rm")}
		}
		if len(op.Remove) == 0 || rapid.Bool().Draw(t, label+"add?") {
			op.Add = rapid.SliceOfNDistinct(rapid.SampledFrom(elems), 1, 2, rapid.ID[string]).Draw(t, label+"add")
		}
	case Map:
		if ctx != nil && len(ctx.Fields) > 0 && rapid.Bool().Draw(t, label+"rmf?") {
			var names []string
			for f := range ctx.Fields {
				names = append(names, f.Name)
			}
			op.Remove = []string{rapid.SampledFrom(names).Draw(t, label+"rmf")}
		}
		if len(op.Remove) == 0 || rapid.Bool().Draw(t, label+"upd?") {
			name := rapid.SampledFrom(fields).Draw(t, label+"field")
			types := []Type{Counter, Set, Flag, Register}
			if depth < 2 {
				types = append(types, Map)
			}
			ft := rapid.SampledFrom(types).Draw(t, label+"ftype")
			var sub *Store
			if ctx != nil {
				sub = ctx.Fields[Field{Name: name, Type: ft}]
			}
			op.Update = map[string]Op{name: drawOp(t, ft, sub, depth+1, label+name+"/")}
		}
	}
	return op
}

// history runs random commits and merges over three replicas of a key of
// type typ and returns the replicas.
func history(t *rapid.T, typ Type, steps int) []*replica {
	rs := []*replica{{actor: "a"}, {actor: "b"}, {actor: "c"}}
	for i := range rs {
		rs[i].st = New(typ)
	}
	for step := 0; step < steps; step++ {
		i := rapid.IntRange(0, 2).Draw(t, "at")
		if rapid.IntRange(0, 3).Draw(t, "merge?") == 0 {
			j := rapid.IntRange(0, 2).Draw(t, "from")
			rs[i].st = Merge(rs[i].st, rs[j].st)
			continue
		}
		ctx := rs[rapid.IntRange(0, 2).Draw(t, "read")].st
		op := drawOp(t, typ, &ctx.Root, 0, "")
		if err := rs[i].commit(op, &ctx, int64(step)); err != nil && !errors.Is(err, ErrTypeMismatch) && !errors.Is(err, ErrNotSeen) {
			t.Fatalf("apply %+v: %v", op, err)
		}
	}
	return rs
}

func sameState(t *rapid.T, what string, a, b State) {
	if ea, eb := Encode(a), Encode(b); !bytes.Equal(ea, eb) {
		t.Fatalf("%s: states differ:\n%s\n%s", what, dump(a), dump(b))
	}
}

func dump(s State) string { return fmt.Sprintf("%v %v", s.Clock, s.Value()) }
