// Package localstore is Cartwheel's durable embedded store for the local server
// (`make run`, `cartwheel serve` without --endpoint): it implements
// kv.ReplicaStore, kv.HintQueue and kv.Membership on one bbolt database file
// plus a directory of value files, all under one data directory.
//
// "Acknowledged" means on disk: every write (a replica object, a hint, a
// membership save) is fsynced before the call returns, so a kill -9 or a power
// cut right after an acknowledged put loses nothing. A commit that fails is
// fatal to the open DB (ErrFailed): bbolt may have written its new meta page
// before the failed fsync, so it may count as committed; every later write is
// refused until the directory is reopened. Concurrent writes share
// one bbolt transaction and one fsync (group commit), so durability costs one
// disk flush per batch, not per write.
//
// Small objects (up to InlineMax bytes) live inside the bbolt file. Larger
// ones live in their own file under blobs/, written and fsynced (with its
// directory) before the transaction that references it commits; the bbolt
// record holds the ETag, the actor and the file's id. bbolt maps its file into
// memory, so keeping large values out of it keeps the server's resident memory
// independent of how many bytes are stored (it grows only with the index: a
// few hundred bytes per object).
package localstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// InlineMax is the largest object kept inside the bbolt file; larger ones get
// a file of their own under blobs/.
const InlineMax = 1024

// Top-level bbolt buckets.
var (
	bktObjects  = []byte("objects")  // nested: one bucket per (endpoint, bucket)
	bktBlobRefs = []byte("blobrefs") // blob id -> empty: the blob files in use
	bktHints    = []byte("hints")    // message id (8-byte big endian) -> message
	bktDead     = []byte("dead")     // dead-lettered message id -> body
	bktMember   = []byte("membership")
)

// lockWait is how long Open waits for another process to release the
// database's file lock.
const lockWait = 2 * time.Second

// ErrLocked: another process (another cartwheel serve) has the data directory open.
var ErrLocked = errors.New("data directory in use by another process")

// DB is an open data directory. One process at a time may open it (bbolt
// holds an exclusive file lock). Close it when done.
type DB struct {
	dir  string
	bolt *bolt.DB
	ops  chan *op
	wg   sync.WaitGroup
	// mu guards closed and failed; update holds it shared while it hands
	// an op over.
	mu     sync.RWMutex
	closed bool
	failed error // the commit error that stopped writes (ErrFailed)
	// hintWake is closed and replaced whenever a hint becomes visible through
	// this process (enqueue, redrive), waking long-polling receivers.
	hintMu   sync.Mutex
	hintWake chan struct{}
	// dirsReady are the blob subdirectories known to exist durably.
	dirMu     sync.Mutex
	dirsReady map[string]bool
	// afterCommit, if set (tests), runs after each transaction commits and
	// may fail it as an fsync error after the meta page was written would.
	afterCommit func() error
}

// Open opens (creating if needed) the data directory dir: dir/cartwheel.db and
// dir/blobs/. Blob files left by a crash between writing a value file and
// committing the write that references it are removed.
func Open(dir string) (*DB, error) {
	if err := makeDirs(dir); err != nil {
		return nil, fmt.Errorf("localstore: open %s: %w", dir, err)
	}
	bdb, err := bolt.Open(filepath.Join(dir, "cartwheel.db"), 0o600, &bolt.Options{Timeout: lockWait, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterr.ErrTimeout) {
		return nil, fmt.Errorf("localstore: open %s: %w", dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("localstore: open %s: %w", dir, err)
	}
	if err := syncDir(dir); err != nil { // the database file's directory entry
		_ = bdb.Close()
		return nil, fmt.Errorf("localstore: open %s: %w", dir, err)
	}
	db := &DB{dir: dir, bolt: bdb, dirsReady: map[string]bool{}, ops: make(chan *op, 1024), hintWake: make(chan struct{})}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bktObjects, bktBlobRefs, bktHints, bktDead, bktMember} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.sweepBlobs()
	}
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("localstore: open %s: %w", dir, err)
	}
	db.wg.Add(1)
	go db.commitLoop()
	return db, nil
}

// Dir returns the data directory.
func (db *DB) Dir() string { return db.dir }

// Close waits for pending writes and closes the database.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.ops)
	db.mu.Unlock()
	db.wg.Wait()
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("localstore: close: %w", err)
	}
	return nil
}

// ErrClosed is returned by calls on a closed DB.
var ErrClosed = errors.New("localstore: closed")

// ErrFailed: a commit failed in a way that leaves it uncertain whether it
// took effect (an fsync error after the new meta page was written); the
// store refuses every later write until it is reopened.
var ErrFailed = errors.New("localstore: commit failed; reopen the data directory")

// op is one write waiting for the group commit. fn runs inside the shared
// transaction; it must make no change when it returns an error (check first,
// then write), and its error is the op's result. A bbolt failure of the
// transaction itself fails every op in it.
type op struct {
	fn   func(tx *bolt.Tx) error
	err  error
	done chan struct{}
}

// maxBatch bounds the ops of one transaction.
const maxBatch = 256

// update runs fn in a write transaction shared with the other writes pending
// at the time, and returns once that transaction is committed and fsynced.
func (db *DB) update(fn func(tx *bolt.Tx) error) error {
	o := &op{fn: fn, done: make(chan struct{})}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return ErrClosed
	}
	if db.failed != nil {
		db.mu.RUnlock()
		return db.failed
	}
	db.ops <- o
	db.mu.RUnlock()
	<-o.done
	return o.err
}

// commitLoop is the group commit: it takes every write waiting (at least one)
// and commits them in one transaction, so one fsync covers them all. An idle
// store commits a lone write at once, without waiting for company.
func (db *DB) commitLoop() {
	defer db.wg.Done()
	for first := range db.ops {
		batch := []*op{first}
	more:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-db.ops:
				if !ok {
					break more
				}
				batch = append(batch, o)
			default:
				break more
			}
		}
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for _, o := range batch {
				o.err = o.fn(tx)
			}
			return nil
		})
		if err == nil && db.afterCommit != nil {
			err = db.afterCommit()
		}
		if err != nil {
			// Committed or not, nobody can tell: bbolt writes the meta
			// page before its last fdatasync, and reads it back through
			// its memory map. Stop writing (as etcd does on an fsync
			// error) until a reopen reads the file as it is.
			err = fmt.Errorf("localstore: commit: %w: %w", ErrFailed, err)
			db.mu.Lock()
			db.failed = err
			db.mu.Unlock()
		}
		for _, o := range batch {
			if err != nil {
				o.err = err
			}
			close(o.done)
		}
	}
}

// newBlobID returns a fresh random blob id (hex).
func newBlobID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("localstore: crypto/rand: %v", err)) // never happens on Linux
	}
	return hex.EncodeToString(b[:])
}

// blobPath is where blob id lives: blobs/<first two hex digits>/<id>.
func (db *DB) blobPath(id string) string {
	return filepath.Join(db.dir, "blobs", id[:2], id)
}

// writeBlob stores data in a new blob file and makes it durable (the file and
// its directory entry) before returning its id.
func (db *DB) writeBlob(data []byte) (string, error) {
	id := newBlobID()
	dir, err := db.blobDir(id)
	if err != nil {
		return "", fmt.Errorf("blob dir: %w", err)
	}
	p := filepath.Join(dir, id)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("blob create: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(p)
		return "", fmt.Errorf("blob write: %w", err)
	}
	return id, nil
}

// removeBlob deletes a blob file no committed record references any more. A
// failure only leaves an orphan, which the next Open removes.
func (db *DB) removeBlob(id string) {
	if id != "" {
		_ = os.Remove(db.blobPath(id))
	}
}

// makeDirs creates dir/blobs and makes the directory entries durable: dir's
// own entry in its parent too (and every missing parent's), on first use.
func makeDirs(dir string) error {
	var created []string // the directories MkdirAll is about to create
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		created = append(created, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o750); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(dir, "blobs")); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	for _, p := range created {
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// blobDir returns the directory of blob id, creating it (with a durable
// directory entry) the first time this process uses it.
func (db *DB) blobDir(id string) (string, error) {
	dir := filepath.Join(db.dir, "blobs", id[:2])
	db.dirMu.Lock()
	defer db.dirMu.Unlock()
	if db.dirsReady[id[:2]] {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return "", err
	}
	db.dirsReady[id[:2]] = true
	return dir, nil
}

// syncDir fsyncs directory dir (its entries); a variable so tests can see
// which directories were made durable.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// sweepBlobs removes blob files no committed record references: the leftovers
// of a crash between writing a value file and committing (or after a commit
// that replaced it, before its file was removed). It runs in Open, before any
// write can be in flight.
func (db *DB) sweepBlobs() error {
	root := filepath.Join(db.dir, "blobs")
	subs, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return db.bolt.View(func(tx *bolt.Tx) error {
		refs := tx.Bucket(bktBlobRefs)
		for _, s := range subs {
			if !s.IsDir() {
				continue
			}
			files, err := os.ReadDir(filepath.Join(root, s.Name()))
			if err != nil {
				return fmt.Errorf("sweep: %w", err)
			}
			for _, f := range files {
				if refs.Get([]byte(f.Name())) == nil {
					if err := os.Remove(filepath.Join(root, s.Name(), f.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
						return fmt.Errorf("sweep: %w", err)
					}
				}
			}
		}
		return nil
	})
}
