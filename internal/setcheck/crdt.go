// The data type mode (Config.CRDT): the same clients and nemesis over typed
// sets (/crdt). Clients add distinct elements without reading first, and
// every fourth operation reads a set and removes one element the read
// showed, with the read's context. Each element is added once, so a read
// that shows it observed its only add: after the settle phase an element
// whose remove was acknowledged must be gone (else it was resurrected), and
// an acknowledged element no remove touched must be there (else it was
// lost).

package setcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/cartwheel/cartwheel/client"
)

// crdtStep runs one operation of the data type mode on key: a remove of an
// element a read showed (every fourth), else an add of elem. It reports
// whether the operation was acknowledged.
func (r *run) crdtStep(ctx context.Context, a *api, key string, elem int64) bool {
	failed := func(kind string) bool {
		r.errs.Add(1)
		r.hist.fail(kind)
		if r.cutOn.Load() {
			a.failed.Add(1)
		}
		return false
	}
	op := client.Op{Type: "set", Add: []string{strconv.FormatInt(elem, 10)}}
	var victim int64
	remove := elem%4 == 0
	if remove {
		set, token, _, kind, err := a.readTypedSet(ctx, key, r.cfg.Quorum)
		if err != nil {
			return failed(kind)
		}
		if len(set) == 0 {
			remove = false
		} else {
			elems := sortedElems(set)
			victim = elems[int(elem/4)%len(elems)]
			op = client.Op{Type: "set", Remove: []string{strconv.FormatInt(victim, 10)}, Context: token}
			r.hist.add(r.hist.rmAttempted, key, victim)
		}
	}
	if !remove {
		r.hist.add(r.hist.attempted, key, elem)
	}
	if _, err := a.c.TypedUpdate(ctx, key, op, writeQuorum(r.cfg.Quorum)); err != nil {
		return failed(errorKind("update", err))
	}
	if r.cutOn.Load() {
		a.acked.Add(1)
	}
	if remove {
		r.hist.add(r.hist.rmAcked, key, victim)
	} else {
		r.hist.add(r.hist.acked, key, elem)
	}
	r.acked.Add(1)
	return true
}

// readTypedSet reads a typed set as readSet reads an opaque one (a typed
// key has no siblings: the count is always 0 or 1).
func (a *api) readTypedSet(ctx context.Context, key string, r string) (set map[int64]bool, token string, siblings int, kind string, err error) {
	v, err := a.c.TypedGet(ctx, key, readQuorum(r))
	set = map[int64]bool{}
	switch {
	case errors.Is(err, client.ErrNotFound):
		return set, "", 0, "", nil
	case err != nil:
		return nil, "", 0, errorKind("get", err), fmt.Errorf("get %s: %w", key, err)
	}
	members := []string{}
	if err := json.Unmarshal(v.Value, &members); err != nil {
		return nil, "", 0, "get bad_json", fmt.Errorf("get %s: not a typed set: %s", key, v.Value)
	}
	for _, m := range members {
		e, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return nil, "", 0, "get bad_value", fmt.Errorf("get %s: element %q is not an integer", key, m)
		}
		set[e] = true
	}
	return set, v.Context, 1, "", nil
}

// removed reports whether a remove of e in key was attempted (the element
// may then be absent, whether the remove was acknowledged or not).
func (h *history) removed(key string, e int64) bool { return h.rmAttempted[key][e] }
