package crdtmodel

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/crdt"
)

func spec(m map[string]*elemSpec, name string) *elemSpec {
	if m[name] == nil {
		m[name] = &elemSpec{}
	}
	return m[name]
}

// op runs one random operation.
func (h *history) op() error {
	switch h.rnd.Intn(8) {
	case 0:
		_, _, err := h.readKey([]crdt.Type{crdt.Counter, crdt.Set, crdt.Map}[h.rnd.Intn(3)])
		return err
	case 1:
		n := int64(h.rnd.Intn(9) - 3)
		acked, err := h.update(crdt.Counter, crdt.Op{Type: crdt.Counter, Increment: &n})
		h.tot.Increments++
		switch {
		case acked:
			h.count.acked += n
		case n < 0:
			h.count.unsureNeg += n
		default:
			h.count.unsurePos += n
		}
		return err
	case 2, 3:
		if h.rnd.Intn(2) == 0 {
			return h.setAdd()
		}
		return h.setRemove()
	case 4, 5:
		return h.cartAdd()
	case 6:
		return h.cartRemove()
	default:
		on := true
		acked, err := h.update(crdt.Map, crdt.Op{Type: crdt.Map, Update: map[string]crdt.Op{"checkout": {Type: crdt.Flag, Enable: &on}}})
		s := spec(h.cart, "checkout")
		s.adds = append(s.adds, addRec{step: h.step, acked: acked})
		h.tot.Adds++
		return err
	}
}

func (h *history) setAdd() error {
	e := h.name("e", h.set)
	acked, err := h.update(crdt.Set, crdt.Op{Type: crdt.Set, Add: []string{e}})
	s := spec(h.set, e)
	s.adds = append(s.adds, addRec{step: h.step, acked: acked})
	h.tot.Adds++
	return err
}

// removable returns a read (an old one, or a new one) that shows something.
func (h *history) removable(typ crdt.Type) (read, []string, error) {
	r, ok := h.oldRead(typ)
	if !ok || h.rnd.Intn(2) == 0 {
		var err error
		if r, ok, err = h.readKey(typ); err != nil || !ok {
			return read{}, nil, err
		}
	}
	var names []string
	switch v := r.value.(type) {
	case []string:
		names = v
	case map[string]any:
		for k := range v {
			names = append(names, k)
		}
		slices.Sort(names)
	}
	return r, names, nil
}

func (h *history) setRemove() error {
	r, names, err := h.removable(crdt.Set)
	if err != nil || len(names) == 0 {
		return err
	}
	e := names[h.rnd.Intn(len(names))]
	acked, err := h.update(crdt.Set, crdt.Op{Type: crdt.Set, Remove: []string{e}, Context: r.ctx})
	s := spec(h.set, e)
	s.rms = append(s.rms, rmRec{readStep: r.step, sawIt: true, acked: acked})
	h.tot.Removes++
	return err
}

func (h *history) cartAdd() error {
	item := h.name("item", h.cart)
	if item == "checkout" {
		item = "item0"
	}
	n := int64(1 + h.rnd.Intn(3))
	acked, err := h.update(crdt.Map, crdt.Op{Type: crdt.Map, Update: map[string]crdt.Op{item: {Type: crdt.Counter, Increment: &n}}})
	s := spec(h.cart, item)
	s.adds = append(s.adds, addRec{step: h.step, acked: acked})
	c := h.items[item]
	if acked {
		c.acked += n
	} else {
		c.unsurePos += n
	}
	h.items[item] = c
	h.tot.Adds++
	return err
}

func (h *history) cartRemove() error {
	r, names, err := h.removable(crdt.Map)
	if err != nil || len(names) == 0 {
		return err
	}
	f := names[h.rnd.Intn(len(names))]
	acked, err := h.update(crdt.Map, crdt.Op{Type: crdt.Map, Remove: []string{f}, Context: r.ctx})
	s := spec(h.cart, f)
	s.rms = append(s.rms, rmRec{readStep: r.step, sawIt: true, acked: acked})
	h.tot.Removes++
	return err
}

// noInvention checks a read shows only elements and fields someone added.
func (h *history) noInvention(typ crdt.Type, v any) error {
	switch v := v.(type) {
	case []string:
		for _, e := range v {
			if h.set[e] == nil || len(h.set[e].adds) == 0 {
				return fmt.Errorf("set shows %q, never added", e)
			}
		}
	case map[string]any:
		for f := range v {
			if h.cart[f] == nil || len(h.cart[f].adds) == 0 {
				return fmt.Errorf("cart shows field %q, never updated", f)
			}
		}
	}
	return nil
}

// mustPresent: an acknowledged add that no remove (acknowledged or not)
// can have observed, since every remove's read came before it.
func mustPresent(s *elemSpec) bool {
	for _, a := range s.adds {
		if !a.acked {
			continue
		}
		observed := false
		for _, r := range s.rms {
			if r.readStep >= a.step {
				observed = true
			}
		}
		if !observed {
			return true
		}
	}
	return false
}

// mustAbsent: an acknowledged remove whose read showed the element after
// every add of it, and so observed them all: in the fault-free mode every
// read sees every earlier acknowledged add; in the fault mode only when the
// element had a single add (the one the read showed).
func mustAbsent(s *elemSpec, faults bool) bool {
	for _, r := range s.rms {
		if !r.acked || !r.sawIt {
			continue
		}
		all := true
		for _, a := range s.adds {
			if a.step >= r.readStep {
				all = false
			}
		}
		if all && (!faults || len(s.adds) == 1) {
			return true
		}
	}
	return false
}

// final reads every key through every coordinator (all replicas), checks
// they agree and hold the same bytes, and compares with the specification.
func (h *history) final() error {
	vals := map[crdt.Type]any{}
	for _, typ := range []crdt.Type{crdt.Counter, crdt.Set, crdt.Map} {
		var first []byte
		for i, co := range h.coords {
			res, err := co.GetTyped(context.Background(), h.keys[typ], coordinator.Options{R: coordinator.QuorumAll})
			if err != nil {
				return fmt.Errorf("final read of the %s: %w", typ, err)
			}
			var enc []byte
			if res.Found {
				enc = crdt.Encode(res.State)
				vals[typ] = res.State.Value()
			}
			if i > 0 && !bytes.Equal(enc, first) {
				return fmt.Errorf("the %s reads differently through two coordinators", typ)
			}
			first = enc
		}
		for _, co := range h.coords {
			co.Wait()
		}
		var data [][]byte
		for _, id := range h.cl.Primaries(h.keys[typ]) {
			if _, b, ok := h.cl.Replica(id, h.keys[typ]); ok {
				data = append(data, b)
			}
		}
		for _, b := range data[1:] {
			if !bytes.Equal(b, data[0]) {
				return fmt.Errorf("the %s's primaries did not converge", typ)
			}
		}
	}
	if n, _ := vals[crdt.Counter].(int64); n < h.count.acked+h.count.unsureNeg || n > h.count.acked+h.count.unsurePos {
		return fmt.Errorf("counter %d, want %d (acknowledged) %+d..%+d (unsure)", n, h.count.acked, h.count.unsureNeg, h.count.unsurePos)
	}
	members, _ := vals[crdt.Set].([]string)
	fields, _ := vals[crdt.Map].(map[string]any)
	if err := h.noInvention(crdt.Set, members); err != nil {
		return err
	}
	if err := h.noInvention(crdt.Map, fields); err != nil {
		return err
	}
	check := func(what string, specs map[string]*elemSpec, present func(string) bool) error {
		for name, s := range specs {
			switch {
			case mustPresent(s):
				h.tot.Present++
				if !present(name) {
					return fmt.Errorf("%s %q lost: an acknowledged add no remove observed (%+v)", what, name, *s)
				}
			case mustAbsent(s, h.cfg.Faults):
				h.tot.Absent++
				if present(name) {
					return fmt.Errorf("%s %q resurrected: removed by a remove that observed every add (%+v)", what, name, *s)
				}
			}
		}
		return nil
	}
	if err := check("element", h.set, func(e string) bool { return slices.Contains(members, e) }); err != nil {
		return err
	}
	if err := check("field", h.cart, func(f string) bool { _, ok := fields[f]; return ok }); err != nil {
		return err
	}
	for item, c := range h.items {
		if len(h.cart[item].rms) > 0 {
			continue // a removed counter's value is not specified here (see the README)
		}
		n, _ := fields[item].(int64)
		if n < c.acked || n > c.acked+c.unsurePos {
			return fmt.Errorf("item %q counts %d, want %d (+%d unsure)", item, n, c.acked, c.unsurePos)
		}
	}
	return nil
}
