package localstore

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// HoldCommits makes the group commit wait until release is called (a write
// transaction whose op blocks, as a slow fsync would); it returns once the
// commit loop is inside that transaction.
func (db *DB) HoldCommits() (release func()) {
	entered, rel := make(chan struct{}), make(chan struct{})
	go func() {
		_ = db.update(func(*bolt.Tx) error {
			close(entered)
			<-rel
			return nil
		})
	}()
	<-entered
	return func() { close(rel) }
}

// FailCommits makes every later commit report err after it reached the file:
// an fdatasync that failed after bbolt wrote the new meta page.
func (db *DB) FailCommits(err error) {
	db.afterCommit = func() error { return err }
}

// RecordDirSyncs records every directory fsynced until restore is called.
func RecordDirSyncs() (synced func() []string, restore func()) {
	var mu sync.Mutex
	var dirs []string
	orig := syncDir
	syncDir = func(dir string) error {
		mu.Lock()
		dirs = append(dirs, dir)
		mu.Unlock()
		return orig(dir)
	}
	return func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), dirs...)
		}, func() {
			syncDir = orig
		}
}
