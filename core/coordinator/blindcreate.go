// A put with an empty context (a blind put, or the put that follows a get
// that found nothing) usually creates its key. Its coordinating replica is
// first written create-only (If-None-Match), as if the key were absent, with
// no GET before: a new key costs one PUT there instead of a GET and a PUT.
// The guess is checked by the store, not trusted: where an object exists
// (a version, a tombstone, a delivered hinted replica's stub) the create
// loses its condition and commit reads, merges and writes as before, at the
// price of that one refused PUT. The dot is still minted by the replica's
// conditional write before the version goes anywhere else.

package coordinator

import (
	"github.com/cartwheel/cartwheel/core/replica"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// absentGuess is the state commit's first attempt assumes for a put with an
// empty context: no object.
func absentGuess(key string) *replica.State {
	return &replica.State{Obj: vclock.Object{Key: key}}
}
