package kvmem

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Membership is an in-memory kv.Membership. It stores the cluster as JSON, so
// what Load returns never aliases what Save was given.
type Membership struct {
	mu    sync.Mutex
	body  []byte // nil: nothing saved
	epoch uint64
	down  bool
}

var _ kv.Membership = (*Membership)(nil)

// NewMembership returns a membership with nothing saved.
func NewMembership() *Membership { return &Membership{} }

// SetDown makes every call fail with an error wrapping ErrDown (down == true),
// or lifts that.
func (m *Membership) SetDown(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
}

func (m *Membership) check(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kvmem membership %s: %w", op, err)
	}
	if m.down {
		return fmt.Errorf("kvmem membership %s: %w", op, ErrDown)
	}
	return nil
}

// Load implements kv.Membership.
func (m *Membership) Load(ctx context.Context) (kv.Cluster, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx, "load"); err != nil {
		return kv.Cluster{}, err
	}
	if m.body == nil {
		return kv.Cluster{}, fmt.Errorf("kvmem membership load: %w", kv.ErrNotFound)
	}
	var c kv.Cluster
	if err := json.Unmarshal(m.body, &c); err != nil {
		return kv.Cluster{}, fmt.Errorf("kvmem membership load: %w", err)
	}
	return c, nil
}

// Save implements kv.Membership. c.Epoch <= prevEpoch is an error that does
// not wrap ErrPrecondition (retrying cannot help).
func (m *Membership) Save(ctx context.Context, c kv.Cluster, prevEpoch uint64) error {
	if c.Epoch <= prevEpoch {
		return fmt.Errorf("kvmem membership save: epoch %d must be greater than previous epoch %d", c.Epoch, prevEpoch)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("kvmem membership save epoch %d: %w", c.Epoch, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx, "save"); err != nil {
		return err
	}
	if m.epoch != prevEpoch {
		if m.epoch == c.Epoch && bytes.Equal(m.body, body) {
			return nil // the same cluster is already stored (kv.Membership.Save)
		}
		return fmt.Errorf("kvmem membership save epoch %d: stored epoch is %d, not %d: %w", c.Epoch, m.epoch, prevEpoch, kv.ErrPrecondition)
	}
	m.body, m.epoch = body, c.Epoch
	return nil
}
