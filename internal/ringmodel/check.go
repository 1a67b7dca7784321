package ringmodel

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/core/ring"
)

// ledger is the model of one key: what was written and what each write's
// context covered. Values are unique per history.
type ledger struct {
	ever    map[string]bool // every value written, acknowledged or not
	acked   map[string]bool // acknowledged puts
	covered map[string]bool // values an acknowledged write's context covered
	maybe   map[string]bool // values an unacknowledged write's context covered
	tainted bool            // a copy was on storage that node forget gave up
}

func newLedger() *ledger {
	return &ledger{ever: map[string]bool{}, acked: map[string]bool{}, covered: map[string]bool{}, maybe: map[string]bool{}}
}

// write records a put of v ("" for a delete) whose context covered covers.
func (l *ledger) write(v string, covers []string, acked bool) {
	if v != "" {
		l.ever[v] = true
		if acked {
			l.acked[v] = true
		}
	}
	for _, c := range covers {
		if acked {
			l.covered[c] = true
		} else {
			l.maybe[c] = true
		}
	}
}

// unknownCover records a write whose context is not known (a delete
// without a context covers what its own read saw): every value may be gone.
func (l *ledger) unknownCover() {
	for v := range l.ever {
		l.maybe[v] = true
	}
}

// invented reports a read of a value never written.
func (l *ledger) invented(key string, got []string) error {
	for _, v := range got {
		if !l.ever[v] {
			return fmt.Errorf("%s: read %q, never written (read %v)", key, v, got)
		}
	}
	return nil
}

// final checks a key's values once repair reached a fixed point.
func (l *ledger) final(key string, got []string) error {
	if err := l.invented(key, got); err != nil {
		return err
	}
	if l.tainted {
		return nil
	}
	for _, v := range got {
		if l.covered[v] {
			return fmt.Errorf("%s: %q came back after an acknowledged write covered it (read %v)", key, v, got)
		}
	}
	for v := range l.acked {
		if !l.covered[v] && !l.maybe[v] && !slices.Contains(got, v) {
			return fmt.Errorf("%s: acknowledged write %q lost (read %v)", key, v, got)
		}
	}
	return nil
}

func primaries(c kv.Cluster, owners []string, key string) ([]string, error) {
	r, err := ringOf(c, owners)
	if err != nil {
		return nil, err
	}
	return r.Primaries(key, c.Params.N), nil
}

func ringOf(c kv.Cluster, owners []string) (*ring.Ring, error) {
	var rn []ring.Node
	for _, n := range c.Nodes {
		rn = append(rn, ring.Node{ID: n.ID, Zone: n.Zone, Weight: max(n.Weight, 1)})
	}
	r, err := ring.New(c.Params.Q, rn, owners)
	if err != nil {
		return nil, fmt.Errorf("ring of epoch %d: %w", c.Epoch, err)
	}
	return r, nil
}

func (h *history) nodeLoc(c kv.Cluster, id string) kv.Location {
	n, err := c.Node(id)
	if err != nil {
		h.t.Fatalf("ringmodel: %v", err)
	}
	return n.Location
}

func sortedLocs(m map[kv.Location]string) []kv.Location {
	out := make([]kv.Location, 0, len(m))
	for l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Prefix < out[j].Prefix })
	return out
}

// list returns every object name at loc (straight from the store, under
// the faults).
func (h *history) list(loc kv.Location) ([]string, error) {
	var out []string
	after := ""
	for {
		items, more, err := h.env.Store.List(context.Background(), loc, "", after, 1000)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", loc.Prefix, err)
		}
		for _, it := range items {
			out = append(out, it.Name)
			after = it.Name
		}
		if !more || len(items) == 0 {
			return out, nil
		}
	}
}

// placement checks that every object stored anywhere is accounted for:
// a replica on a current owner of its partition (or, unless final, a pending
// owner), or on storage with a pending clean-up of the partition; a hinted
// replica on a member's storage or on a departed node's with a pending
// clean-up (none at all when final). And the record fits one DynamoDB item.
func (h *history) placement(final bool) error {
	c := h.members()
	if n := recordSize(c); n > recordLimit {
		return fmt.Errorf("the membership record is %d bytes, over DynamoDB's item limit", n)
	}
	owners, err := ringOf(c, c.Owners)
	if err != nil {
		return err
	}
	var next *ring.Ring
	if c.Next != nil && !final {
		if next, err = ringOf(c, c.Next); err != nil {
			return err
		}
	}
	for _, loc := range sortedLocs(h.locs) {
		if h.gone[loc] {
			continue
		}
		names, err := h.list(loc)
		if err != nil {
			return err
		}
		member := ""
		for _, n := range c.Nodes {
			if n.Location == loc {
				member = n.ID
			}
		}
		for _, name := range names {
			if hash, ok := repair.ParseDataName(name); ok {
				p := ring.PartitionOf(c.Params.Q, hash)
				switch {
				case member != "" && slices.Contains(owners.PrimariesOfPartition(p, c.Params.N), member):
				case member != "" && next != nil && slices.Contains(next.PrimariesOfPartition(p, c.Params.N), member):
				case cleaning(c, loc, p):
				default:
					return fmt.Errorf("%s on %s (%s) of partition %d: not on an owner and no clean-up records it (cleanups %+v)", name, h.locs[loc], loc.Prefix, p, c.Cleanups)
				}
				continue
			}
			if _, _, ok := repair.ParseHintName(name); ok {
				if final || (member == "" && !departed(c, loc)) {
					return fmt.Errorf("hinted replica %s left on %s (%s), member %q", name, h.locs[loc], loc.Prefix, member)
				}
			}
		}
	}
	return nil
}

func cleaning(c kv.Cluster, loc kv.Location, p int) bool {
	for _, cl := range c.Cleanups {
		if cl.Node.Location == loc && slices.Contains(cl.Partitions, p) {
			return true
		}
	}
	return false
}

func departed(c kv.Cluster, loc kv.Location) bool {
	for _, cl := range c.Cleanups {
		if cl.Node.Location == loc && cl.Departed {
			return true
		}
	}
	return false
}

// wipe deletes everything at loc (node forget: its storage is gone) and
// taints every key it held a copy of.
func (h *history) wipe(loc kv.Location) error {
	names, err := h.list(loc)
	if err != nil {
		return err
	}
	for _, name := range names {
		for _, k := range h.keys {
			if name == kv.DataName(k) || bytes.HasPrefix([]byte(name), []byte(kv.HintKeyPrefix(k))) {
				h.vals[k].tainted = true
			}
		}
		if err := h.env.Store.Delete(context.Background(), loc, name, ""); err != nil {
			return fmt.Errorf("wipe %s: %w", name, err)
		}
	}
	h.gone[loc] = true
	return nil
}

// fixedPoint may remove the unreachable members, heals the storage of the
// members that stay, lets a grace period pass with the other storage still
// unreachable (repair and a reap run), then heals every fault and runs fresh repair processes until
// nothing is pending: no plan, no clean-up, no queued or held hint, and a
// run that found nothing to do; then reaps and does it again.
func (h *history) fixedPoint() error {
	// Three times in four the operator removes the nodes still unreachable.
	// The storage of the members that stay is healed first; the others'
	// (nodes leaving or gone) answers again only a grace period later, while
	// the scheduled repair and reaping go on.
	if h.rnd.Intn(4) > 0 {
		for _, n := range h.members().Nodes {
			if h.down[n.Location] {
				h.failedFirst = true
				_ = h.planRemove()
				h.failedFirst = false
			}
		}
	}
	for _, n := range h.members().Nodes {
		if n.State != kv.StateLeaving {
			h.setDown(false, n.Location)
		}
	}
	for i := 0; i < 3; i++ {
		h.offset += Settle + time.Second
		if err := h.repair(nil); err != nil {
			return err
		}
	}
	if err := h.graceReap(); err != nil {
		return err
	}
	h.setDown(false, sortedLocs(h.locs)...)
	c := h.members()
	for _, n := range c.Nodes {
		if n.State == kv.StateDown {
			h.change(func(c kv.Cluster) (kv.Cluster, error) { return setActive(c, n.ID, h.now()) })
		}
	}
	for _, hint := range h.held {
		co := h.coord()
		if err := co.DeliverHint(context.Background(), hint); err != nil {
			return fmt.Errorf("deliver held hint %+v: %w", hint, err)
		}
		co.Wait()
	}
	h.held = nil
	if err := h.settle(); err != nil {
		return err
	}
	h.offset += 2 * time.Hour
	if err := h.reap(); err != nil {
		return err
	}
	return h.settle()
}

func (h *history) settle() error {
	var last repair.Report
	for i := 0; ; i++ {
		if i == 20 {
			c := h.members()
			return fmt.Errorf("no fixed point after 20 repair runs: next %v, cleanups %+v, nodes %+v, last report %+v", c.Next != nil, c.Cleanups, c.Nodes, last)
		}
		h.offset += Settle + time.Second
		r, err := h.repairer(nil)
		if err != nil {
			return err
		}
		rep, err := r.Run(context.Background())
		if err != nil {
			return fmt.Errorf("repair run: %w", err)
		}
		last = rep
		h.remember(h.members())
		c := h.members()
		quiet := rep.Errors == 0 && rep.AntiEntropy.Differing == 0 && rep.AntiEntropy.Writes == 0 && rep.Handoff.Found == 0 && !rep.Transfers.Committed
		if c.Next == nil && len(c.Cleanups) == 0 && quiet {
			return nil
		}
	}
}

// finalCheck reads every key from its current owners (all of them) and
// checks the ledger, then that nothing is left outside the owners.
func (h *history) finalCheck() error {
	co := h.coord()
	defer co.Wait()
	for _, k := range h.keys {
		g, err := co.Get(context.Background(), k, coordinator.Options{R: 3})
		if err != nil {
			return fmt.Errorf("final get %s: %w", k, err)
		}
		if err := h.vals[k].final(k, live(g)); err != nil {
			return err
		}
		h.tot.Acked += len(h.vals[k].acked)
	}
	return h.placement(true)
}
