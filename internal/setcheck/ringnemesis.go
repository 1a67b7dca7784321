package setcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/cartwheel/cartwheel/client"
	"net/http"
	"net/url"
	"time"
)

// RingChanges counts what the ring-change nemesis did.
type RingChanges struct {
	// Added and Removed count the nodes planned in and out; Commits the ring
	// changes committed while the clients wrote.
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Commits int `json:"commits"`
	// Errors counts admin requests of this nemesis that failed (409
	// "transfers pending" answers are waits, not errors).
	Errors int `json:"errors"`
	// SettlingWaits counts the commits refused because the plan was still
	// settling (the server's PlanSettle, before any transfer); SettleMs is
	// the longest wait one of them announced.
	SettlingWaits int   `json:"settlingWaits,omitempty"`
	SettleMs      int64 `json:"settleMs,omitempty"`
}

// noteSettling records a 409 transfers_pending answer that says the plan is
// still settling.
func (rc *RingChanges) noteSettling(body []byte) {
	var b struct {
		Transfers struct {
			Settling    bool  `json:"settling"`
			SettlesInMs int64 `json:"settlesInMs"`
		} `json:"transfers"`
	}
	if json.Unmarshal(body, &b) == nil && b.Transfers.Settling {
		rc.SettlingWaits++
		rc.SettleMs = max(rc.SettleMs, b.Transfers.SettlesInMs)
	}
}

// RingNode is the id of the node the ring-change nemesis adds and removes.
// Each cycle reuses it, so a node id comes back after it left (it must start
// from an empty location, and nothing it held may come back).
const RingNode = "check-ring"

// ringNemesis cycles through ring changes while the clients write: add
// RingNode, commit, remove it, commit, and again, until stop. Each commit
// (POST /admin/commit) transfers what remains and switches ownership; while
// transfers are pending (409) it retries after interval. The fault nemesis
// works on the other nodes meanwhile, so commits also happen with nodes down.
// A change left pending at stop is committed in the settle phase's repairs.
func (r *run) ringNemesis(ctx context.Context, rc *RingChanges, zone string, interval time.Duration, stop <-chan struct{}) {
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-stop:
			return false
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	commit := func() bool {
		for {
			err := r.api.admin(ctx, http.MethodPost, "/admin/commit", nil, nil)
			var se *client.Error
			switch {
			case err == nil:
				rc.Commits++
				return true
			case errors.As(err, &se) && se.Body.Code == client.CodeNoPlan:
				return true
			case errors.As(err, &se) && se.Body.Code == client.CodeTransfersPending:
				rc.noteSettling(se.Raw)
			default:
				rc.Errors++
			}
			if !wait(interval) {
				return false
			}
		}
	}
	for {
		body := map[string]any{"id": RingNode, "zone": zone, "weight": 1}
		if err := r.api.admin(ctx, http.MethodPost, "/admin/nodes", body, nil); err != nil {
			rc.Errors++
		} else {
			rc.Added++
		}
		if !wait(interval) || !commit() || !wait(interval) {
			return
		}
		if err := r.api.admin(ctx, http.MethodDelete, "/admin/nodes/"+url.PathEscape(RingNode), nil, nil); err != nil {
			rc.Errors++
		} else {
			rc.Removed++
		}
		if !wait(interval) || !commit() || !wait(interval) {
			return
		}
	}
}

// ringRestore removes the ring-change nemesis's node if it is a member and
// commits whatever ring change is pending, within limit.
func (r *run) ringRestore(ctx context.Context, limit time.Duration) error {
	err := r.api.admin(ctx, http.MethodDelete, "/admin/nodes/"+url.PathEscape(RingNode), nil, nil)
	var se *client.Error
	if err != nil && !(errors.As(err, &se) && se.Status == http.StatusNotFound) {
		return fmt.Errorf("setcheck: removing %s: %w", RingNode, err)
	}
	deadline := time.Now().Add(limit)
	for {
		err := r.api.admin(ctx, http.MethodPost, "/admin/commit", nil, nil)
		switch {
		case err == nil, errors.As(err, &se) && se.Body.Code == client.CodeNoPlan:
			return nil
		case errors.As(err, &se) && se.Body.Code == client.CodeTransfersPending && time.Now().Before(deadline):
		default:
			return fmt.Errorf("setcheck: committing the ring change: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
