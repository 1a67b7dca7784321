package localstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/cartwheel/cartwheel/core/kv"
)

// listMax is the most objects one List returns, as on S3.
const listMax = 1000

// Store is the kv.ReplicaStore of a DB. Every (endpoint, bucket) of a
// location is its own namespace; object keys are Prefix+name, as on S3. A Put
// or Delete returns once it is fsynced.
type Store struct{ db *DB }

var _ kv.ReplicaStore = (*Store)(nil)

// Store returns the DB's replica store.
func (db *DB) Store() *Store { return &Store{db: db} }

// bucketName names the nested bbolt bucket of loc's (endpoint, bucket).
func bucketName(loc kv.Location) []byte {
	return []byte(loc.Endpoint + "\x00" + loc.Bucket)
}

// check validates the request as the S3 adapter would reject it.
func check(ctx context.Context, op string, loc kv.Location, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localstore %s %s%s: %w", op, loc.Prefix, name, err)
	}
	if loc.Bucket == "" {
		return fmt.Errorf("localstore %s %s%s: empty bucket", op, loc.Prefix, name)
	}
	if op != "list" && loc.Prefix+name == "" {
		return fmt.Errorf("localstore %s: empty object key", op)
	}
	if len(loc.Prefix)+len(name) > bolt.MaxKeySize {
		return fmt.Errorf("localstore %s: object key of %d bytes is too long", op, len(loc.Prefix)+len(name))
	}
	if op == "put" || op == "delete" {
		// A write held up across a suspension must not leave (see
		// kv.CheckWrite); Put and Delete check again inside the commit.
		if err := kv.CheckWrite(ctx); err != nil {
			return fmt.Errorf("localstore %s %s%s: %w", op, loc.Prefix, name, err)
		}
	}
	return nil
}

// sameETag compares entity tags ignoring the surrounding quotes, as S3 does.
func sameETag(a, b string) bool { return strings.Trim(a, `"`) == strings.Trim(b, `"`) }

// lookup returns the record at key in loc's bucket, if any.
func lookup(tx *bolt.Tx, loc kv.Location, key []byte) (record, bool, error) {
	b := tx.Bucket(bktObjects).Bucket(bucketName(loc))
	if b == nil {
		return record{}, false, nil
	}
	v := b.Get(key)
	if v == nil {
		return record{}, false, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return record{}, false, fmt.Errorf("%s: %w", key, err)
	}
	return r, true, nil
}

// Get implements kv.ReplicaStore.
func (s *Store) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	if err := check(ctx, "get", loc, name); err != nil {
		return kv.Blob{}, err
	}
	key := []byte(loc.Prefix + name)
	// A concurrent overwrite may remove the blob file of the record just
	// read, but only after the newer record is committed: read again.
	for attempt := 0; ; attempt++ {
		var r record
		var found bool
		err := s.db.bolt.View(func(tx *bolt.Tx) error {
			var err error
			r, found, err = lookup(tx, loc, key)
			return err
		})
		if err != nil {
			return kv.Blob{}, fmt.Errorf("localstore get %s: %w", key, err)
		}
		if !found {
			return kv.Blob{}, fmt.Errorf("localstore get %s: %w", key, kv.ErrNotFound)
		}
		data := r.inline
		if r.blob != "" {
			data, err = os.ReadFile(s.db.blobPath(r.blob))
			if errors.Is(err, os.ErrNotExist) && attempt < 100 {
				continue
			}
			if err != nil {
				return kv.Blob{}, fmt.Errorf("localstore get %s: %w", key, err)
			}
			if len(data) != r.size {
				return kv.Blob{}, fmt.Errorf("localstore get %s: blob %s holds %d bytes, want %d", key, r.blob, len(data), r.size)
			}
		}
		if data == nil {
			data = []byte{}
		}
		return kv.Blob{Data: data, ETag: r.etag(), Actor: r.actor}, nil
	}
}

// Put implements kv.ReplicaStore: create-only when ifMatch == "", else
// compare-and-swap on the ETag (a missing object fails the condition). It
// returns once the write is fsynced. The returned ETag is ETag(data).
func (s *Store) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	if err := check(ctx, "put", loc, name); err != nil {
		return "", err
	}
	key := []byte(loc.Prefix + name)
	r := record{md5: md5.Sum(data), actor: actor}
	if len(data) > InlineMax {
		id, err := s.db.writeBlob(data)
		if err != nil {
			return "", fmt.Errorf("localstore put %s: %w", key, err)
		}
		r.blob, r.size = id, len(data)
	} else {
		r.inline = data
	}
	enc := r.encode()
	var old string // the blob the write replaced
	err := s.db.update(func(tx *bolt.Tx) error {
		old = ""
		// Again at the commit: the wait for it (and for the value file's
		// fsync) may have spanned a suspension.
		if err := kv.CheckWrite(ctx); err != nil {
			return err
		}
		cur, exists, err := lookup(tx, loc, key)
		switch {
		case err != nil:
			return err
		case ifMatch == "" && exists:
			return fmt.Errorf("object exists: %w", kv.ErrPrecondition)
		case ifMatch != "" && !exists:
			return fmt.Errorf("no object to match %s: %w", ifMatch, kv.ErrPrecondition)
		case ifMatch != "" && !sameETag(cur.etag(), ifMatch):
			return fmt.Errorf("etag %s is not %s: %w", cur.etag(), ifMatch, kv.ErrPrecondition)
		}
		b, err := tx.Bucket(bktObjects).CreateBucketIfNotExists(bucketName(loc))
		if err != nil {
			return err
		}
		// The new blob's reference first: a failure after it leaves a leaked
		// reference, never a referenced file that Open would sweep away.
		if r.blob != "" {
			if err := tx.Bucket(bktBlobRefs).Put([]byte(r.blob), nil); err != nil {
				return err
			}
		}
		if err := b.Put(key, enc); err != nil {
			return err
		}
		if exists && cur.blob != "" {
			old = cur.blob
			return tx.Bucket(bktBlobRefs).Delete([]byte(cur.blob))
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrFailed) {
			s.db.removeBlob(r.blob)
		}
		// After an uncertain commit the record may reference the new
		// value file: it stays, and the next Open's sweep removes it if
		// nothing does.
		return "", fmt.Errorf("localstore put %s: %w", key, err)
	}
	s.db.removeBlob(old)
	return r.etag(), nil
}

// Delete implements kv.ReplicaStore; the If-Match check is enforced. It
// returns once the delete is fsynced.
func (s *Store) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	if err := check(ctx, "delete", loc, name); err != nil {
		return err
	}
	key := []byte(loc.Prefix + name)
	var old string
	err := s.db.update(func(tx *bolt.Tx) error {
		old = ""
		if err := kv.CheckWrite(ctx); err != nil { // again at the commit
			return err
		}
		cur, exists, err := lookup(tx, loc, key)
		switch {
		case err != nil:
			return err
		case !exists:
			return nil
		case ifMatch != "" && !sameETag(cur.etag(), ifMatch):
			return fmt.Errorf("etag %s is not %s: %w", cur.etag(), ifMatch, kv.ErrPrecondition)
		}
		if err := tx.Bucket(bktObjects).Bucket(bucketName(loc)).Delete(key); err != nil {
			return err
		}
		if cur.blob != "" {
			old = cur.blob
			return tx.Bucket(bktBlobRefs).Delete([]byte(cur.blob))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("localstore delete %s: %w", key, err)
	}
	s.db.removeBlob(old)
	return nil
}

// List implements kv.ReplicaStore. A limit below 1 or above 1000 means 1000,
// as on S3.
func (s *Store) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	if err := check(ctx, "list", loc, prefix); err != nil {
		return nil, false, err
	}
	if limit < 1 || limit > listMax {
		limit = listMax
	}
	full := []byte(loc.Prefix + prefix)
	var after []byte
	if startAfter != "" {
		after = []byte(loc.Prefix + startAfter)
	}
	var out []kv.Listed
	more := false
	err := s.db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktObjects).Bucket(bucketName(loc))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		seek := full
		if bytes.Compare(after, full) > 0 {
			seek = after
		}
		for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, full); k, v = c.Next() {
			if after != nil && bytes.Compare(k, after) <= 0 {
				continue
			}
			if len(out) == limit {
				more = true
				return nil
			}
			r, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			out = append(out, kv.Listed{Name: string(k[len(loc.Prefix):]), ETag: r.etag()})
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("localstore list %s: %w", full, err)
	}
	return out, more, nil
}
