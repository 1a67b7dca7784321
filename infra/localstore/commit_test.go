package localstore_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/localstore"
)

// A write waits for the group commit (and a large one for its value file's
// fsync) after its guard passed on entry; an operation suspended meanwhile (a
// freeze during that wait) must be refused when the write is committed, not
// only on entry. Put (inline and value-file sized) and Delete.
func TestGuardAtCommit(t *testing.T) {
	errFrozen := errors.New("operation suspended")
	for _, tc := range []struct {
		name string
		op   string
		size int
	}{
		{"put inline", "put", 10},
		{"put value file", "put", localstore.InlineMax + 1},
		{"delete", "delete", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := open(t, dir)
			s := db.Store()
			val := bytes.Repeat([]byte("v"), tc.size)
			etag := ""
			if tc.op == "delete" {
				var err error
				if etag, err = s.Put(ctx, loc, "k", val, "a", ""); err != nil {
					t.Fatal(err)
				}
			}
			var frozen atomic.Bool
			passed := make(chan struct{}, 4)
			gctx := kv.WithWriteGuard(ctx, func() error {
				if frozen.Load() {
					return errFrozen
				}
				passed <- struct{}{}
				return nil
			})
			release := db.HoldCommits()
			res := make(chan error, 1)
			go func() {
				if tc.op == "delete" {
					res <- s.Delete(gctx, loc, "k", etag)
					return
				}
				_, err := s.Put(gctx, loc, "k", val, "a", "")
				res <- err
			}()
			<-passed // the guard let it in; now it waits for the commit
			frozen.Store(true)
			release()
			if err := <-res; !errors.Is(err, errFrozen) {
				t.Fatalf("%s suspended while waiting for its commit = %v, want the guard's refusal", tc.op, err)
			}
			_, err := s.Get(ctx, loc, "k")
			if tc.op == "delete" && err != nil {
				t.Fatalf("a refused delete removed the object: %v", err)
			}
			if tc.op == "put" && !errors.Is(err, kv.ErrNotFound) {
				t.Fatalf("a refused put landed: %v", err)
			}
			if files := blobFiles(t, dir); len(files) != 0 {
				t.Fatalf("value files left by a refused write: %v", files)
			}
		})
	}
}

// A commit whose fsync failed after bbolt wrote its meta page is neither
// known to be committed nor known not to be: the running process (which
// reads the meta page through its memory map) and a restart may both see it
// committed. The store must not act on either guess: it keeps the new value
// file (the sweep at the next Open removes it if nothing references it) and
// refuses every later write until it is reopened, as etcd treats fsync
// errors as fatal. After the reopen the key reads back whole.
func TestUncertainCommitIsFatal(t *testing.T) {
	dir := t.TempDir()
	db, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := db.Store()
	big := func(c byte) []byte { return bytes.Repeat([]byte{c}, localstore.InlineMax+1) }
	etag, err := s.Put(ctx, loc, "k", big('1'), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	errSync := errors.New("fdatasync: input/output error")
	db.FailCommits(errSync)
	if _, err := s.Put(ctx, loc, "k", big('2'), "a", etag); !errors.Is(err, errSync) || !errors.Is(err, localstore.ErrFailed) {
		t.Fatalf("put whose commit failed = %v, want the sync error and ErrFailed", err)
	}
	if _, err := s.Put(ctx, loc, "other", []byte("v"), "a", ""); !errors.Is(err, localstore.ErrFailed) {
		t.Fatalf("write after an uncertain commit = %v, want ErrFailed until reopened", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	b, err := db.Store().Get(ctx, loc, "k")
	if err != nil {
		t.Fatalf("after the reopen, get k = %v: its record names a value file the failed put removed", err)
	}
	if !bytes.Equal(b.Data, big('2')) && !bytes.Equal(b.Data, big('1')) {
		t.Fatalf("after the reopen k holds %d bytes of %q", len(b.Data), b.Data[:1])
	}
	if got, want := len(blobFiles(t, dir)), 1; got != want {
		t.Fatalf("%d value files after the reopen, want %d", got, want)
	}
}

// Opening a data directory that does not exist yet makes its entry, and that
// of every parent it had to create, durable in the parent: otherwise a power
// cut could lose the whole directory, fsynced contents and all.
func TestNewDataDirIsDurableInItsParent(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "data")
	synced, restore := localstore.RecordDirSyncs()
	defer restore()
	open(t, dir)
	got := synced()
	for _, want := range []string{root, filepath.Join(root, "a"), filepath.Join(root, "a", "b"), dir} {
		if !slices.Contains(got, want) {
			t.Fatalf("directory %s not fsynced on first use (synced %v)", want, got)
		}
	}
}
