package wire

import (
	"context"
	"errors"
	"fmt"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/sqshints"
)

// Provision creates the bucket, table and queues if missing (for local
// endpoints; in AWS the SAM template creates them) and returns c with the
// queue URLs filled in.
func Provision(ctx context.Context, c Config) (Config, error) {
	awsCfg, err := awsconf.Load(ctx, c.AWS)
	if err != nil {
		return c, fmt.Errorf("wire: provision: %w", err)
	}
	if err := s3store.EnsureBucket(ctx, awsconf.S3(awsCfg, c.AWS.Endpoint), c.Bucket); err != nil {
		return c, fmt.Errorf("wire: provision: %w", err)
	}
	if err := ddbmembership.EnsureTable(ctx, awsconf.DynamoDB(awsCfg, c.AWS.Endpoint), c.Table); err != nil {
		return c, fmt.Errorf("wire: provision: %w", err)
	}
	if c.QueueURL == "" {
		q, d, err := sqshints.Ensure(ctx, awsconf.SQS(awsCfg, c.AWS.Endpoint), c.QueueName, c.DLQName, c.HintQueue.MaxReceives, c.HintQueue.Visibility)
		if err != nil {
			return c, fmt.Errorf("wire: provision: %w", err)
		}
		c.QueueURL, c.DLQURL = q, d
	}
	return c, nil
}

// NodeLocation is where Bootstrap puts node id: the shared bucket, "nodes/<id>/".
func NodeLocation(bucket, id string) kv.Location {
	return kv.Location{Bucket: bucket, Prefix: "nodes/" + id + "/"}
}

// Bootstrap saves the initial cluster (Config.Nodes nodes "n1".."nN" over
// Config.Zones) unless membership already holds one. Safe to call from many
// processes at once: exactly one save wins, the rest load it.
func (a *App) Bootstrap(ctx context.Context) (kv.Cluster, error) {
	c, err := a.Members.Load(ctx)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return kv.Cluster{}, fmt.Errorf("wire: bootstrap: %w", err)
	}
	var nodes []kv.Node
	for i := 1; i <= a.Config.Nodes; i++ {
		id := fmt.Sprintf("n%d", i)
		zone := a.Config.Zones[(i-1)%len(a.Config.Zones)]
		bucket := a.Config.Bucket
		if b := a.Config.ZoneBuckets[zone]; b != "" {
			bucket = b
		}
		nodes = append(nodes, kv.Node{ID: id, Zone: zone, Weight: 1, Location: NodeLocation(bucket, id)})
	}
	c, err = membership.Bootstrap(a.Config.Params, nodes)
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("wire: bootstrap: %w", err)
	}
	if err := a.Members.Save(ctx, c, 0); err != nil {
		if errors.Is(err, kv.ErrPrecondition) {
			return a.Members.Load(ctx)
		}
		return kv.Cluster{}, fmt.Errorf("wire: bootstrap: %w", err)
	}
	a.Log.Info("bootstrapped cluster", "nodes", len(nodes), "zones", len(a.Config.Zones), "n", c.Params.N, "r", c.Params.R, "w", c.Params.W, "q", c.Params.Q)
	return c, nil
}
