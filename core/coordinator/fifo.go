// A bounded table of keys, oldest out first (the seen cache, the dot minter).

package coordinator

// fifoKeys bounds a per-key table: it remembers the order keys were first
// added and drops the oldest once the table is full. Not safe for
// concurrent use: its owner's lock guards it with the table.
type fifoKeys struct {
	max   int
	order []string // keys in the order first added
}

// admit makes room for a new key in m (dropping the oldest keys) and
// records it as the newest; the caller then adds it to m.
func admit[V any](f *fifoKeys, m map[string]V, key string) {
	for len(m) >= f.max && len(f.order) > 0 {
		delete(m, f.order[0])
		f.order = f.order[1:]
	}
	f.order = append(f.order, key)
}
