// Package jobs holds the handlers of Cartwheel's background Lambda functions:
// hinted handoff (SQS events), anti-entropy and health (EventBridge schedules).
// The local server calls the same handlers on its own timers.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/infra/sqshints"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// Handoff delivers the hints of one SQS batch and reports the failed ones, so
// only those are retried (ReportBatchItemFailures). An undecodable (poison)
// message is reported failed too: after the queue's redrive limit SQS moves
// it to the dead-letter queue, where operators inspect and replay it.
func Handoff(ctx context.Context, coord *coordinator.Coordinator, log *slog.Logger, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		h, err := sqshints.Decode(m.Body)
		if err == nil {
			err = coord.DeliverHint(ctx, h)
		}
		if err != nil {
			lvl := slog.LevelWarn
			if !errors.Is(err, coordinator.ErrNotReady) {
				lvl = slog.LevelError
			}
			log.Log(ctx, lvl, "hint not delivered", "messageId", m.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

// Drain delivers every queued hint now (the local server's poller and
// POST /admin/repair).
func Drain(ctx context.Context, coord *coordinator.Coordinator, wait time.Duration) (coordinator.DrainResult, error) {
	return coord.DrainHints(ctx, wait)
}

// Prober checks that a node's storage answers.
type Prober interface {
	List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error)
}

// HealthResult says what a health run saw and changed.
type HealthResult struct {
	Checked int      `json:"checked"`
	Down    []string `json:"down"`
	Revived []string `json:"revived"`
}

// Health probes every node's S3 location (one LIST of at most one key) twice,
// a second apart, and records a node Down only if both probes fail, and Active
// again only if both succeed: a single lost request does not flap the ring.
func Health(ctx context.Context, members kv.Membership, probe Prober, timeout time.Duration, pause time.Duration) (HealthResult, error) {
	c, err := members.Load(ctx)
	if err != nil {
		return HealthResult{}, fmt.Errorf("health: %w", err)
	}
	check := func(n kv.Node) bool {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, _, err := probe.List(pctx, n.Location, "health", "", 1)
		return err == nil
	}
	first := map[string]bool{}
	for _, n := range c.Nodes {
		first[n.ID] = check(n)
	}
	if pause > 0 {
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return HealthResult{}, ctx.Err()
		}
	}
	res := HealthResult{Checked: len(c.Nodes)}
	next := c
	changed := false
	for _, n := range c.Nodes {
		ok := check(n)
		switch {
		case !ok && !first[n.ID] && n.State == kv.StateActive:
			next, err = membership.SetState(next, n.ID, kv.StateDown)
			res.Down = append(res.Down, n.ID)
		case ok && first[n.ID] && n.State == kv.StateDown:
			next, err = membership.SetState(next, n.ID, kv.StateActive)
			res.Revived = append(res.Revived, n.ID)
		default:
			continue
		}
		if err != nil {
			return res, fmt.Errorf("health: %w", err)
		}
		changed = true
	}
	if changed {
		next.Epoch = c.Epoch + 1
		if err := members.Save(ctx, next, c.Epoch); err != nil {
			return res, fmt.Errorf("health: save: %w", err)
		}
	}
	return res, nil
}

// RepairResult is what one repair run did.
type RepairResult struct {
	Hints coordinator.DrainResult `json:"hints"`
}

// Repair drains the hint queue now. (Merkle anti-entropy joins it here.)
func Repair(ctx context.Context, app *wire.App, wait time.Duration) (RepairResult, error) {
	var res RepairResult
	var err error
	res.Hints, err = app.Coord.DrainHints(ctx, wait)
	return res, err
}
