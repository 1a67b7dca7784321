// A run: clients adding elements to sets while the nemesis injects faults,
// then healing, repair, and the final read that finds what was lost.

package setcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cartwheel/cartwheel/client"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type ringInfo struct {
	N   int  `json:"n"`
	R   int  `json:"r"`
	W   int  `json:"w"`
	LWW bool `json:"lww"`
}

type nodesInfo struct {
	Nodes []struct {
		ID   string `json:"id"`
		Zone string `json:"zone"`
	} `json:"nodes"`
}

type statsInfo struct {
	FaultsInjected *int64      `json:"faultsInjected"`
	Hints          *QueueStats `json:"hints"`
}

// history is what the clients did: elements attempted and acknowledged per
// key, and failed requests by kind.
type history struct {
	mu        sync.Mutex
	attempted map[string]map[int64]bool
	acked     map[string]map[int64]bool
	errors    map[string]int
	// The data type mode's removes (crdt.go): attempted, and acknowledged.
	rmAttempted, rmAcked map[string]map[int64]bool
}

func (h *history) add(m map[string]map[int64]bool, key string, e int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := m[key]
	if s == nil {
		s = map[int64]bool{}
		m[key] = s
	}
	s[e] = true
}

func (h *history) fail(kind string) {
	h.mu.Lock()
	h.errors[kind]++
	h.mu.Unlock()
}

type run struct {
	cfg   Config
	api   *api
	ring  ringInfo
	nodes []string
	keys  []string
	hist  *history

	ops, acked, errs atomic.Int64
	maxSib           atomic.Int64
	next             atomic.Int64
	cutOn            atomic.Bool // a region cut is on
}

func (r *run) sawSiblings(n int) {
	for {
		cur := r.maxSib.Load()
		if int64(n) <= cur || r.maxSib.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// Run runs the check and returns its report. An error means the check could
// not run (bad configuration, unreachable server, mode mismatch, faults that
// would not clear); a report whose OK is false means it ran and found a
// problem.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &run{
		cfg: cfg, api: newAPI(cfg.URL, cfg.HTTP),
		hist: &history{attempted: map[string]map[int64]bool{}, acked: map[string]map[int64]bool{}, errors: map[string]int{},
			rmAttempted: map[string]map[int64]bool{}, rmAcked: map[string]map[int64]bool{}},
	}
	if err := r.api.admin(ctx, http.MethodGet, "/admin/ring", nil, &r.ring); err != nil {
		return nil, fmt.Errorf("setcheck: reading the ring: %w", err)
	}
	if r.ring.N < 1 || r.ring.W < 1 {
		return nil, fmt.Errorf("setcheck: the ring reports N=%d W=%d", r.ring.N, r.ring.W)
	}
	switch {
	case cfg.LWW && !r.ring.LWW:
		return nil, fmt.Errorf("%w: --lww expects a last-write-wins cluster, but this one keeps siblings (start one with serve --lww)", ErrMode)
	case !cfg.LWW && r.ring.LWW:
		return nil, fmt.Errorf("%w: this cluster is last-write-wins and will lose writes; run the check with --lww to measure the loss", ErrMode)
	}
	var ni nodesInfo
	if err := r.api.admin(ctx, http.MethodGet, "/admin/nodes", nil, &ni); err != nil {
		return nil, fmt.Errorf("setcheck: reading the nodes: %w", err)
	}
	for _, n := range ni.Nodes {
		if cfg.RingChanges && n.ID == RingNode {
			continue // the ring-change nemesis's node: it comes and goes
		}
		r.nodes = append(r.nodes, n.ID)
	}
	sort.Strings(r.nodes)
	for i := 0; i < cfg.Keys; i++ {
		r.keys = append(r.keys, fmt.Sprintf("%s/set-%d", cfg.Prefix, i))
	}
	rep := &Report{
		URL: cfg.URL, Mode: "siblings", Seed: cfg.Seed, Prefix: cfg.Prefix, Clients: cfg.Clients, Keys: cfg.Keys,
		N: r.ring.N, R: r.ring.R, W: r.ring.W, Quorum: cfg.Quorum, Nodes: len(r.nodes),
		Nemesis: Nemesis{Enabled: cfg.Nemesis, Actions: map[string]int{}, InjectedFailures: -1},
	}
	if cfg.LWW {
		rep.Mode = "lww"
	}
	if cfg.CRDT {
		rep.Mode = "crdt"
	}
	injectedBefore := r.injected(ctx)
	var nem *nemesis
	if cfg.Nemesis {
		if len(r.nodes) == 0 {
			return nil, fmt.Errorf("setcheck: the cluster lists no nodes")
		}
		nem = newNemesis(rand.New(rand.NewPCG(cfg.Seed, 0x6e656d65)), r.nodes, r.ring.N, r.ring.W, cfg.MaxDown, cfg.Sloppy, cfg.MaxLatency)
		// Start from a healthy cluster; this also proves the fault API is on.
		if err := r.clearFaults(ctx); err != nil {
			return nil, err
		}
	}

	// The workload: clients and the nemesis until the duration or the
	// operation budget is spent (or ctx ends).
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	start := time.Now()
	var wg sync.WaitGroup
	var clients sync.WaitGroup
	apis := []*api{r.api}
	for _, u := range cfg.Coordinators {
		apis = append(apis, newAPI(strings.TrimRight(u, "/"), cfg.HTTP))
	}
	for i := 0; i < cfg.Clients; i++ {
		clients.Add(1)
		go func() {
			defer clients.Done()
			r.client(ctx, apis[i%len(apis)], rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1)), stop)
		}()
	}
	if cfg.Region != nil {
		rep.Region = &RegionReport{Name: cfg.Region.Name, Coordinators: len(apis)}
		region := *cfg.Region
		if nem != nil && len(region.Nodes) > 0 {
			// The random nemesis leaves the cut nodes alone and counts
			// them as down while the cut lasts.
			cut, heal := region.Cut, region.Heal
			region.Cut = func(ctx context.Context) error {
				return nem.cutOff(region.Nodes, func() error { return cut(ctx) })
			}
			region.Heal = func(ctx context.Context) error {
				return nem.healCut(func() error { return heal(ctx) })
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			region.run(ctx, rep.Region, stop, &r.cutOn)
		}()
	}
	if nem != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.nemesis(ctx, nem, stop)
		}()
	}
	var ringc *RingChanges
	if cfg.RingChanges {
		if len(r.nodes) == 0 {
			return nil, fmt.Errorf("setcheck: the cluster lists no nodes")
		}
		ringc = &RingChanges{}
		rep.Nemesis.Ring = ringc
		zone := ni.Nodes[len(ni.Nodes)-1].Zone
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.ringNemesis(ctx, ringc, zone, cfg.NemesisInterval, stop)
		}()
	}
	if cfg.Progress != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.progress(nem, start, stop)
		}()
	}
	var timer <-chan time.Time
	if cfg.Duration > 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		timer = t.C
	}
	clientsDone := make(chan struct{})
	go func() { clients.Wait(); close(clientsDone) }()
	select {
	case <-timer:
	case <-clientsDone: // the operation budget is spent
	case <-ctx.Done():
	}
	halt()
	<-clientsDone
	wg.Wait()
	elapsed := time.Since(start)
	if rep.Region != nil {
		for _, a := range apis {
			rep.Region.DuringCut = append(rep.Region.DuringCut, CoordinatorCount{URL: a.base, Acknowledged: a.acked.Load(), Failed: a.failed.Load()})
		}
	}
	rep.Seconds = elapsed.Seconds()
	rep.Operations = int(min(r.ops.Load(), int64(maxOps(cfg.Ops))))
	if elapsed > 0 {
		rep.OpsPerSec = float64(rep.Operations) / elapsed.Seconds()
	}
	if nem != nil {
		rep.Nemesis.Actions, rep.Nemesis.Heals = nem.actions, nem.heals
		rep.Nemesis.MaxDown, rep.Nemesis.Sloppy, rep.Nemesis.Errors = nem.maxDown, nem.sloppy, nem.errors
	}
	if err := ctx.Err(); err != nil {
		if nem != nil {
			// Leave no fault behind, even when interrupted.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if cerr := r.clearFaults(cctx); cerr != nil {
				return nil, fmt.Errorf("setcheck: interrupted (%w), and clearing the faults failed: %w", err, cerr)
			}
		}
		return nil, fmt.Errorf("setcheck: interrupted (faults cleared): %w", err)
	}

	// Settle: heal, repair, and read every set with R=N.
	settleStart := time.Now()
	if nem != nil {
		if err := r.clearFaults(ctx); err != nil {
			return nil, err
		}
	}
	if ringc != nil {
		// Leave the ring as it was: the nemesis's node goes.
		if err := r.ringRestore(ctx, cfg.Settle); err != nil {
			return nil, err
		}
	}
	final, err := r.settle(ctx, rep)
	rep.SettleSeconds = time.Since(settleStart).Seconds()
	if err != nil {
		return nil, err
	}
	if injectedAfter := r.injected(ctx); injectedBefore >= 0 && injectedAfter >= 0 {
		rep.Nemesis.InjectedFailures = injectedAfter - injectedBefore
	}
	r.summarize(rep, final)
	return rep, nil
}

func maxOps(ops int) int {
	if ops <= 0 {
		return int(^uint(0) >> 1)
	}
	return ops
}

// injected reads the server's count of injected failures (-1 if unknown).
func (r *run) injected(ctx context.Context) int64 {
	var st statsInfo
	if err := r.api.admin(ctx, http.MethodGet, "/admin/stats", nil, &st); err != nil || st.FaultsInjected == nil {
		return -1
	}
	return *st.FaultsInjected
}

// client runs read-modify-writes until stop closes or the budget is spent.
func (r *run) client(ctx context.Context, a *api, rng *rand.Rand, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if n := r.ops.Add(1); r.cfg.Ops > 0 && n > int64(r.cfg.Ops) {
			return
		}
		key := r.keys[rng.IntN(len(r.keys))]
		elem := r.next.Add(1)
		if !r.addElement(ctx, a, key, elem) {
			// Back off a little after a failure so a down cluster is not
			// hammered; stop still ends the wait.
			t := time.NewTimer(time.Duration(20+rng.IntN(60)) * time.Millisecond)
			select {
			case <-t.C:
			case <-stop:
			case <-ctx.Done():
			}
			t.Stop()
		}
	}
}

// addElement adds elem to key's set by read-modify-write; it reports whether
// the put was acknowledged.
func (r *run) addElement(ctx context.Context, a *api, key string, elem int64) bool {
	if r.cfg.CRDT {
		return r.crdtStep(ctx, a, key, elem)
	}
	cut := r.cutOn.Load()
	set, token, sibs, kind, err := a.readSet(ctx, key, r.cfg.Quorum)
	if err != nil {
		r.errs.Add(1)
		r.hist.fail(kind)
		if cut {
			a.failed.Add(1)
		}
		return false
	}
	r.sawSiblings(sibs)
	elems := make([]int64, 0, len(set)+1)
	for e := range set {
		elems = append(elems, e)
	}
	elems = append(elems, elem)
	r.hist.add(r.hist.attempted, key, elem)
	if _, err := a.c.Put(ctx, key, token, EncodeSet(elems), "application/json", writeQuorum(r.cfg.Quorum)); err != nil {
		r.errs.Add(1)
		r.hist.fail(errorKind("put", err))
		if cut {
			a.failed.Add(1)
		}
		return false
	}
	if cut {
		a.acked.Add(1)
	}
	r.hist.add(r.hist.acked, key, elem)
	r.acked.Add(1)
	return true
}

func (r *run) progress(nem *nemesis, start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			faults := 0
			if nem != nil {
				faults = nem.faults()
			}
			elapsed := fmt.Sprintf("%.0fs", time.Since(start).Seconds())
			if r.cfg.Duration > 0 {
				elapsed += fmt.Sprintf(" of %s", r.cfg.Duration)
			}
			if r.cfg.Ops > 0 {
				elapsed += fmt.Sprintf(", ops %d of %d", r.ops.Load(), r.cfg.Ops)
			}
			fmt.Fprintf(r.cfg.Progress, "check: %s  ops %d  acknowledged %d  request errors %d  faults %d  max siblings %d\n",
				elapsed, r.ops.Load(), r.acked.Load(), r.errs.Load(), faults, r.maxSib.Load())
		}
	}
}

// nemesis applies one fault action per interval until stop closes.
func (r *run) nemesis(ctx context.Context, n *nemesis, stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.NemesisInterval)
	defer t.Stop()
	for {
		n.act.Lock()
		if a := n.next(); a.node != "" {
			var err error
			if a.heal {
				err = r.api.admin(ctx, http.MethodDelete, "/admin/faults/"+url.PathEscape(a.node), nil, nil)
			} else {
				err = r.api.admin(ctx, http.MethodPut, "/admin/faults/"+url.PathEscape(a.node), a.mode, nil)
			}
			n.applied(a, err)
		}
		n.act.Unlock()
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// clearFaults clears every node's fault and checks that none is left.
func (r *run) clearFaults(ctx context.Context) error {
	for _, id := range r.nodes {
		err := r.api.admin(ctx, http.MethodDelete, "/admin/faults/"+url.PathEscape(id), nil, nil)
		var se *client.Error
		if errors.As(err, &se) && se.Body.Code == client.CodeFaultsDisabled {
			return fmt.Errorf("setcheck: the server has fault injection disabled; run with the nemesis off: %w", err)
		}
		if err != nil {
			return fmt.Errorf("setcheck: clearing faults: %w", err)
		}
	}
	var left struct {
		Faults map[string]json.RawMessage `json:"faults"`
	}
	if err := r.api.admin(ctx, http.MethodGet, "/admin/faults", nil, &left); err != nil {
		return fmt.Errorf("setcheck: listing faults: %w", err)
	}
	if len(left.Faults) > 0 {
		return fmt.Errorf("setcheck: faults still set after clearing: %v", sortedKeys(left.Faults))
	}
	return nil
}

// settle repairs and reads every set with R=N until nothing acknowledged is
// missing, or (LWW, where losses are expected) the hint queue stayed empty for
// two rounds, or the settle deadline passes. It returns the final sets.
func (r *run) settle(ctx context.Context, rep *Report) (map[string]finalSet, error) {
	deadline := time.Now().Add(r.cfg.Settle)
	emptyRounds := 0
	var final map[string]finalSet
	for round := 0; ; round++ {
		if err := r.api.admin(ctx, http.MethodPost, "/admin/repair", nil, nil); err != nil {
			r.hist.fail("repair " + kindOf(err))
		} else {
			rep.Repairs++
		}
		var st statsInfo
		statsKnown := r.api.admin(ctx, http.MethodGet, "/admin/stats", nil, &st) == nil && st.Hints != nil
		if statsKnown {
			rep.HintsAfter = *st.Hints
		}
		cur, readErr := r.readAll(ctx)
		if readErr == nil {
			final = cur
		}
		missing := -1
		if readErr == nil {
			missing = r.missing(cur)
		}
		if statsKnown && st.Hints.Visible == 0 && st.Hints.InFlight == 0 {
			emptyRounds++
		} else {
			emptyRounds = 0
		}
		switch {
		case missing == 0 && (!r.cfg.CRDT || emptyRounds >= 1 || !statsKnown):
			// (A resurrected remove would come back with a hint: the data
			// type mode also waits for the hint queue to empty.)
			return final, nil
		case r.cfg.LWW && missing > 0 && (emptyRounds >= 2 || (!statsKnown && round >= 1)):
			// Losses are expected and nothing queued can still change the
			// sets. (With siblings a loss is a failure: the check waits the
			// whole settle time for it to come back, e.g. from a node the
			// server still suspects, rather than report it early.)
			return final, nil
		case time.Now().After(deadline):
			if final == nil {
				return nil, fmt.Errorf("setcheck: the final read with r=%d did not succeed within %v: %w", r.ring.N, r.cfg.Settle, readErr)
			}
			return final, nil
		}
		t := time.NewTimer(time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("setcheck: interrupted while settling: %w", ctx.Err())
		}
	}
}

func kindOf(err error) string {
	var se *client.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %s", se.Status, se.Body.Code)
	}
	return "network"
}

type finalSet struct {
	elems    map[int64]bool
	siblings int
}

// readAll reads every set with R=N.
func (r *run) readAll(ctx context.Context) (map[string]finalSet, error) {
	out := map[string]finalSet{}
	for _, k := range r.keys {
		read := r.api.readSet
		if r.cfg.CRDT {
			read = r.api.readTypedSet
		}
		set, _, sibs, kind, err := read(ctx, k, strconv.Itoa(r.ring.N))
		if err != nil {
			r.hist.fail("final " + kind)
			return nil, err
		}
		r.sawSiblings(sibs)
		out[k] = finalSet{elems: set, siblings: sibs}
	}
	return out, nil
}

// missing counts acknowledged elements absent from final.
func (r *run) missing(final map[string]finalSet) int {
	r.hist.mu.Lock()
	defer r.hist.mu.Unlock()
	n := 0
	for k, acked := range r.hist.acked {
		for e := range acked {
			if !final[k].elems[e] && !r.hist.removed(k, e) {
				n++
			}
		}
	}
	return n
}

func (r *run) summarize(rep *Report, final map[string]finalSet) {
	h := r.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	rep.RequestErrors = map[string]int{}
	for k, v := range h.errors {
		rep.RequestErrors[k] = v
		rep.RequestErrorsTotal += v
	}
	for _, k := range r.keys {
		s := SetReport{Key: k, Attempted: len(h.attempted[k]), Acknowledged: len(h.acked[k]),
			Present: len(final[k].elems), FinalSiblings: final[k].siblings}
		for _, e := range sortedElems(h.rmAcked[k]) {
			if final[k].elems[e] {
				s.Resurrected++
			}
		}
		s.Removed = len(h.rmAcked[k])
		for _, e := range sortedElems(h.acked[k]) {
			if !final[k].elems[e] && !h.removed(k, e) {
				s.Lost++
				if len(s.LostSample) < 20 {
					s.LostSample = append(s.LostSample, e)
				}
			}
		}
		for _, e := range sortedElems(final[k].elems) {
			switch {
			case !h.attempted[k][e]:
				s.Unexpected++
				if len(s.UnexpectedSample) < 20 {
					s.UnexpectedSample = append(s.UnexpectedSample, e)
				}
			case !h.acked[k][e]:
				s.Recovered++
			}
		}
		rep.Sets = append(rep.Sets, s)
		rep.Attempted += s.Attempted
		rep.Acknowledged += s.Acknowledged
		rep.Lost += s.Lost
		rep.Unexpected += s.Unexpected
		rep.Recovered += s.Recovered
		rep.Removed += s.Removed
		rep.Resurrected += s.Resurrected
	}
	if rep.Acknowledged > 0 {
		rep.LostPercent = 100 * float64(rep.Lost) / float64(rep.Acknowledged)
	}
	rep.MaxSiblings = int(r.maxSib.Load())
}

func sortedElems(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for e := range m {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}
