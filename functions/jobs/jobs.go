// Package jobs holds the handlers of Cartwheel's background Lambda functions:
// hinted handoff (SQS events), anti-entropy and health (EventBridge schedules).
// The local server calls the same handlers on its own timers.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/functions/httpapi"
	"github.com/cartwheel/cartwheel/infra/wire"
)

// Handoff delivers the hints of one SQS batch and reports the failed ones, so
// only those are retried (ReportBatchItemFailures). An undecodable (poison)
// message is reported failed too: after the queue's redrive limit SQS moves
// it to the dead-letter queue, where operators inspect and replay it.
func Handoff(ctx context.Context, coord *coordinator.Coordinator, log *slog.Logger, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		h, err := kv.DecodeHint([]byte(m.Body))
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
// pause apart, and saves the verdict of core/membership.HealthVerdict: a node
// is recorded Down only if both probes fail, and Active again only if both
// succeed, so a single lost request does not flap the ring. Down moves no
// partition (fallbacks stand in and hints queue up), so even a flapping
// verdict never moves data. Between runs, each coordinator also
// keeps its own suspicion (core/coordinator: after SuspectAfter consecutive
// failures a node is routed around for SuspectFor, doubling while it keeps
// failing); that is local to one coordinator and never written here. Nodes
// that are joining or leaving keep their state.
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
	second := map[string]bool{}
	for _, n := range c.Nodes {
		second[n.ID] = check(n)
	}
	v, err := membership.HealthVerdict(c, first, second)
	res := HealthResult{Checked: len(c.Nodes), Down: v.Down, Revived: v.Revived}
	if err != nil {
		return res, fmt.Errorf("health: %w", err)
	}
	if v.Changed() {
		if err := members.Save(ctx, v.Next, c.Epoch); err != nil {
			return res, fmt.Errorf("health: save: %w", err)
		}
	}
	return res, nil
}

// RepairResult is what one repair run did: ring-change transfers,
// anti-entropy, reaping and hint delivery, with its request counts.
type RepairResult struct {
	// Hints is what draining the hint queue did (Report.Handoff.Queue).
	Hints coordinator.DrainResult `json:"hints"`
	repair.Report
}

func result(rep repair.Report) RepairResult {
	return RepairResult{Hints: rep.Handoff.Queue, Report: rep}
}

// Repairer runs the repair job of one cluster. It keeps what one run hands to
// the next (the anti-entropy cursor, transfer progress, cleanups due after a
// commit) in memory, so the schedule and the admin API of one process share
// it (see RepairerFor). It implements httpapi.Jobs.
type Repairer struct {
	r     *repair.Repairer
	stats *coordinator.Stats // where runs are recorded; may be nil
}

// Repair runs transfers (and the commit of a ring change whose transfers are
// done), then anti-entropy, then hint delivery: POST /admin/repair and the
// scheduled job.
func (j *Repairer) Repair(ctx context.Context) (repair.Report, error) {
	res, err := j.Run(ctx)
	return res.Report, err
}

// Run is Repair with its typed result; the run is recorded in the
// coordinator's stats (RepairerOf gives the Repairer the stats to record in).
func (j *Repairer) Run(ctx context.Context) (RepairResult, error) {
	rep, err := j.r.Run(ctx)
	if j.stats != nil {
		j.stats.RecordRepair(int64(rep.AntiEntropy.Keys), int64(rep.AntiEntropy.Repaired), time.Now())
		j.stats.RecordReaped(int64(rep.AntiEntropy.Reaped))
	}
	return result(rep), err
}

// Plan returns the pending ring change and its transfer progress.
func (j *Repairer) Plan(ctx context.Context) (repair.Plan, error) { return j.r.Plan(ctx) }

// Commit finishes the transfers of the pending ring change and commits it.
func (j *Repairer) Commit(ctx context.Context) (repair.Report, error) { return j.r.Commit(ctx) }

// Reap compares every partition and reaps the deleted keys that may be.
func (j *Repairer) Reap(ctx context.Context) (repair.Report, error) {
	rep, err := j.r.Reap(ctx)
	if j.stats != nil {
		j.stats.RecordReaped(int64(rep.AntiEntropy.Reaped))
	}
	return rep, err
}

// RepairerOf returns app's repair job (built by infra/wire) as a Repairer
// whose runs are recorded in the coordinator's stats.
func RepairerOf(app *wire.App) *Repairer {
	return &Repairer{r: app.Repair, stats: app.Coord.Stats()}
}

// HealthOf runs app's health job with the probe settings of its configuration.
func HealthOf(ctx context.Context, app *wire.App) (HealthResult, error) {
	return Health(ctx, app.Members, app.Store, app.Config.Health.ProbeTimeout, app.Config.Health.Pause)
}

// HTTPDeps returns the HTTP API's dependencies on app, with r running its
// jobs (nil: none). The handler package itself knows nothing of wiring.
func HTTPDeps(app *wire.App, r *Repairer) httpapi.Deps {
	d := httpapi.Deps{
		Coord: app.Coord, Members: app.Members, Hints: app.Hints, Faults: app.Faults,
		HintWait: app.Config.Repair.HintWait, Log: app.Log, Limits: app.Config.Coordinator.Limits,
		NodeStats: app.NodeStats, Recent: app.Recent,
		Endpoints: httpapi.EndpointPolicy{Region: app.Config.AWS.Region, Allowed: app.AllowedEndpoints()},
	}
	if r != nil {
		d.Jobs = r
	}
	return d
}

// Boot is the start of every Lambda function's main: JSON logs on stdout, the
// application wired from the environment (infra/wire.Lambda, which bootstraps
// the cluster on first start) and the process's Repairer. On failure it logs
// and exits, so Lambda reports an init error.
func Boot() (*wire.App, *Repairer) {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	app, err := wire.Lambda(context.Background(), os.Getenv, log)
	if err == nil {
		return app, RepairerOf(app)
	}
	log.Error("startup failed", "err", err)
	os.Exit(1)
	return nil, nil
}
