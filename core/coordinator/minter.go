// A one-round put's dots (oneround.go) are minted by the coordinator process
// itself, not by a replica's conditional write: for each key it writes, the
// process draws a random actor and counts that key's dots under it in
// memory. No other process (and no other key) mints with that actor, and
// this one never mints a counter twice under it, so a dot is unique without
// any replica deciding it, and racing puts get different dots. A key whose
// counter the process forgets (the table is bounded) gets a new actor. Actors
// are 64 random bits: two processes draw the same one for a key with
// probability about k*k/2^65 for k actors ever drawn for that key.

package coordinator

import (
	"strconv"
	"sync"

	"github.com/cartwheel/cartwheel/core/vclock"
)

// minterKeys bounds the per-key counters a process keeps.
const minterKeys = 16384

// CoordinatorActorPrefix starts every actor a coordinator mints with
// (replica actors start with a node id, which cannot contain '~').
const CoordinatorActorPrefix = "~"

// dotMinter mints one-round dots. Safe for concurrent use.
type dotMinter struct {
	mu    sync.Mutex
	rand  func() uint64
	keys  map[string]vclock.Dot // a key's actor and last counter
	order fifoKeys              // the key first minted is forgotten first
}

func newDotMinter(rand func() uint64, max int) *dotMinter {
	return &dotMinter{rand: rand, keys: map[string]vclock.Dot{}, order: fifoKeys{max: max}}
}

// next mints key's next dot. ctx is the writer's context: a counter it
// already covers (which only this process could have minted) is skipped.
func (m *dotMinter) next(key string, ctx vclock.Clock) vclock.Dot {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.keys[key]
	if !ok {
		admit(&m.order, m.keys, key)
		d.Actor = vclock.Actor(CoordinatorActorPrefix + strconv.FormatUint(m.rand(), 36))
	}
	d.Counter = max(d.Counter, ctx.Top(d.Actor)) + 1
	m.keys[key] = d
	return d
}
