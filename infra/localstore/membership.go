package localstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/cartwheel/cartwheel/core/kv"
)

var (
	keyCluster = []byte("cluster") // the cluster's JSON
	keyEpoch   = []byte("epoch")   // its epoch, 8 bytes big endian
)

// Membership is the kv.Membership of a DB: the cluster as JSON, saved
// conditionally on its epoch and fsynced before Save returns.
type Membership struct{ db *DB }

var _ kv.Membership = (*Membership)(nil)

// Membership returns the DB's membership store.
func (db *DB) Membership() *Membership { return &Membership{db: db} }

// Load implements kv.Membership.
func (m *Membership) Load(ctx context.Context) (kv.Cluster, error) {
	if err := ctx.Err(); err != nil {
		return kv.Cluster{}, fmt.Errorf("localstore membership load: %w", err)
	}
	var body []byte
	err := m.db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktMember).Get(keyCluster); v != nil {
			body = append([]byte{}, v...)
		}
		return nil
	})
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("localstore membership load: %w", err)
	}
	if body == nil {
		return kv.Cluster{}, fmt.Errorf("localstore membership load: %w", kv.ErrNotFound)
	}
	var c kv.Cluster
	if err := json.Unmarshal(body, &c); err != nil {
		return kv.Cluster{}, fmt.Errorf("localstore membership load: %w", err)
	}
	return c, nil
}

// Save implements kv.Membership. c.Epoch <= prevEpoch is an error that does
// not wrap ErrPrecondition (retrying cannot help).
func (m *Membership) Save(ctx context.Context, c kv.Cluster, prevEpoch uint64) error {
	if c.Epoch <= prevEpoch {
		return fmt.Errorf("localstore membership save: epoch %d must be greater than previous epoch %d", c.Epoch, prevEpoch)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localstore membership save: %w", err)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("localstore membership save epoch %d: %w", c.Epoch, err)
	}
	err = m.db.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMember)
		var stored uint64
		if v := b.Get(keyEpoch); len(v) == 8 {
			stored = binary.BigEndian.Uint64(v)
		}
		if stored != prevEpoch {
			if stored == c.Epoch && bytes.Equal(b.Get(keyCluster), body) {
				return nil // the same cluster is already stored (kv.Membership.Save)
			}
			return fmt.Errorf("stored epoch is %d, not %d: %w", stored, prevEpoch, kv.ErrPrecondition)
		}
		if err := b.Put(keyCluster, body); err != nil {
			return err
		}
		return b.Put(keyEpoch, binary.BigEndian.AppendUint64(nil, c.Epoch))
	})
	if err != nil {
		return fmt.Errorf("localstore membership save epoch %d: %w", c.Epoch, err)
	}
	return nil
}
