// Command setup creates Cartwheel's default local resources, idempotently: the
// replica bucket, the hint queue with its dead-letter queue, and the
// membership table. localstack/up runs it against the endpoint it started;
// it uses the same Ensure functions as the application.
//
//	go run ./localstack/setup -endpoint http://127.0.0.1:4566
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
	"github.com/cartwheel/cartwheel/infra/s3store"
	"github.com/cartwheel/cartwheel/infra/sqshints"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := awsconf.FromEnv()
	flag.StringVar(&cfg.Endpoint, "endpoint", cfg.Endpoint, "service endpoint (empty: real AWS)")
	flag.StringVar(&cfg.Region, "region", cfg.Region, "AWS region")
	bucket := flag.String("bucket", "cartwheel-local", "replica bucket")
	queue := flag.String("queue", "cartwheel-hints", "hint queue")
	dlq := flag.String("dlq", "cartwheel-hints-dlq", "hint dead-letter queue")
	table := flag.String("table", "cartwheel-membership", "membership table")
	maxReceives := flag.Int("max-receives", 5, "receives before a hint is dead-lettered")
	visibility := flag.Duration("visibility", 60*time.Second, "hint queue visibility timeout")
	timeout := flag.Duration("timeout", time.Minute, "overall deadline")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	awsCfg, err := awsconf.Load(ctx, cfg)
	if err != nil {
		return err
	}
	store, err := s3store.New(awsCfg, s3store.DefaultConfig())
	if err != nil {
		return err
	}
	if err := store.EnsureBucket(ctx, kv.Location{Bucket: *bucket}); err != nil {
		return err
	}
	q, d, err := sqshints.Ensure(ctx, awsconf.SQS(awsCfg, ""), *queue, *dlq, *maxReceives, *visibility)
	if err != nil {
		return err
	}
	if err := ddbmembership.EnsureTable(ctx, awsconf.DynamoDB(awsCfg, ""), *table); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "setup: bucket %s, queue %s (dlq %s), table %s ready on %s\n", *bucket, q, d, *table, cfg.Endpoint)
	return nil
}
