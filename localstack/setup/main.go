// Command setup creates Cartwheel's default local resources, idempotently: the
// replica bucket, the hint queue with its dead-letter queue, and the
// membership table. localstack/up runs it against the endpoint it started;
// it calls infra/wire.Provision, as `cartwheel serve --endpoint` does, so the
// resources and the hint queue's settings are the application's.
//
//	go run ./localstack/setup -endpoint http://127.0.0.1:4566
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cartwheel/cartwheel/infra/awsconf"
	"github.com/cartwheel/cartwheel/infra/wire"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := wire.DefaultConfig()
	cfg.AWS = awsconf.FromEnv()
	flag.StringVar(&cfg.AWS.Endpoint, "endpoint", cfg.AWS.Endpoint, "service endpoint (empty: real AWS)")
	flag.StringVar(&cfg.AWS.Region, "region", cfg.AWS.Region, "AWS region")
	flag.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "replica bucket")
	flag.StringVar(&cfg.QueueName, "queue", cfg.QueueName, "hint queue")
	flag.StringVar(&cfg.DLQName, "dlq", cfg.DLQName, "hint dead-letter queue")
	flag.StringVar(&cfg.Table, "table", cfg.Table, "membership table")
	flag.IntVar(&cfg.HintQueue.MaxReceives, "max-receives", cfg.HintQueue.MaxReceives, "receives before a hint is dead-lettered")
	flag.DurationVar(&cfg.HintQueue.Visibility, "visibility", cfg.HintQueue.Visibility, "hint queue visibility timeout")
	timeout := flag.Duration("timeout", time.Minute, "overall deadline")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := cfg.AWS.Validate(); err != nil {
		return err
	}
	cfg, err := wire.Provision(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "setup: bucket %s, queue %s (dlq %s), table %s ready on %s\n", cfg.Bucket, cfg.QueueURL, cfg.DLQURL, cfg.Table, cfg.AWS.Endpoint)
	return nil
}
