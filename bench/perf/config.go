// Package perf is Cartwheel's benchmark (`cartwheel bench`, `make bench`).
//
// It measures Cartwheel's operations side by side with the raw S3 request
// patterns they are made of, in one run against the same endpoint(s), so that
// every headline figure is a ratio that holds on a noisy machine:
//
//   - raw single requests: one GetObject, one conditional PutObject;
//   - raw ideal patterns: N GetObject in parallel waiting for R (a quorum
//     read), and the minimal correct replicated write — a conditional PUT at
//     one replica, then the other N-1 in parallel waiting for W-1 (and for
//     N-1, the (N,N) write);
//   - Cartwheel, driven in-process through the coordinator that infra/wire
//     builds (no HTTP): get, read-modify-write put (the context of a get just
//     made), update (the context the client last saw for the key, as the CLI's
//     context cache does), blind put (no context, a new key), and (3,3) put.
//
// The operations run in YCSB-style workloads A (50% get, 50% update), B (95/5)
// and F (50% get, 50% read-modify-write) over zipfian keys with 1 KB values;
// in every workload a share of the slots (ProbeShare) runs the other kinds in
// turn, so every kind is measured under the same load. Each worker follows a
// fixed-rate schedule and latencies are recorded in HDR histograms both from
// the intended start (response time: a stall delays every operation scheduled
// behind it, so there is no coordinated omission) and from the actual start
// (service time). Backend requests are counted per operation by type through
// counting wrappers around the coordinator's ports (background work such as
// the writes finishing after the quorum is charged to the operation that
// started it).
//
// A last pair of phases takes one node down by fault injection and compares
// the degraded latency with the healthy one, counting failed writes.
package perf

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Config is the benchmark's configuration. Start from DefaultConfig.
type Config struct {
	// Endpoints lists the endpoint set-ups to run, in order: "kumo",
	// "moto", "moto-per-node", "lognormal" (Lognormal), or the http(s) URL
	// of a running endpoint.
	Endpoints []string
	// Concurrency is the number of workers (each issues one operation at a time).
	Concurrency int
	// Workloads lists the YCSB workloads to run: A, B and/or F.
	Workloads []string
	// PhaseDuration is the measured time of each workload.
	PhaseDuration time.Duration
	// CalibrateDuration is the closed-loop run that finds the capacity the
	// rate is a fraction of.
	CalibrateDuration time.Duration
	// DegradedDuration is the time of each of the healthy and one-node-down
	// phases (0 skips them).
	DegradedDuration time.Duration
	// Rate is the total target rate in operations per second; 0 means
	// RateFraction of the calibrated capacity.
	Rate float64
	// RateFraction is the share of the calibrated capacity to run at.
	RateFraction float64
	// Records is the number of keys loaded (and drawn from).
	Records int
	// ValueSize is the size of every value written, in bytes.
	ValueSize int
	// Theta is the zipfian constant of the key popularity (YCSB: 0.99).
	Theta float64
	// ProbeShare is the share of slots that run the other operation kinds in
	// turn (raw patterns, blind put, (3,3) put, ...).
	ProbeShare float64
	// Nodes is the number of storage nodes (>= 4, so that a node down leaves
	// a fallback); Zones are spread over them round-robin.
	Nodes int
	Zones []string
	// Seed makes key choices and operation mixes repeatable.
	Seed uint64
	// OutDir receives bench.json, bench.md and the latency plots.
	OutDir string
	// LambdaJSON is the Lambda measurements file written by the contract test
	// (functions/contract with CARTWHEEL_BENCH_OUT); missing means "n/a".
	LambdaJSON string
	// MotoServer is the moto_server program.
	MotoServer string
	// Command is the command line that ran the benchmark, for the record.
	Command string
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// Lognormal tunes the lognormal endpoint (its own clients, keys and
	// sample counts; the fields above about workloads do not apply to it).
	Lognormal LognormalConfig
}

// DefaultConfig returns the settings `make bench` uses: modest, because the
// machine it was written on has two cores shared with other work.
func DefaultConfig() Config {
	return Config{
		Endpoints:         []string{EndpointKumo, EndpointMoto, EndpointMotoPerNode, EndpointLognormal},
		Concurrency:       4,
		Workloads:         []string{"A", "B", "F"},
		PhaseDuration:     15 * time.Second,
		CalibrateDuration: 3 * time.Second,
		DegradedDuration:  8 * time.Second,
		RateFraction:      0.5, // half the closed-loop capacity: queues stay short
		Records:           1000,
		ValueSize:         1024,
		Theta:             0.99,
		ProbeShare:        0.5,
		Nodes:             4,
		Zones:             []string{"a", "b", "c"},
		Seed:              1,
		Lognormal:         DefaultLognormalConfig(),
		OutDir:            "bench/results",
		LambdaJSON:        "bench/results/lambda.json",
		MotoServer:        "moto_server",
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if len(c.Endpoints) == 0 {
		return fmt.Errorf("bench: no endpoints")
	}
	for _, e := range c.Endpoints {
		switch {
		case e == EndpointKumo, e == EndpointMoto, e == EndpointMotoPerNode:
		case e == EndpointLognormal:
			if err := c.Lognormal.validate(); err != nil {
				return err
			}
		case strings.HasPrefix(e, "http://"), strings.HasPrefix(e, "https://"):
		default:
			return fmt.Errorf("bench: unknown endpoint %q (want kumo, moto, moto-per-node, lognormal or a URL)", e)
		}
	}
	for _, w := range c.Workloads {
		if _, ok := workloadMixes[strings.ToUpper(w)]; !ok {
			return fmt.Errorf("bench: unknown workload %q (want A, B or F)", w)
		}
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > 256:
		return fmt.Errorf("bench: concurrency=%d must be in [1, 256]", c.Concurrency)
	case c.PhaseDuration <= 0:
		return fmt.Errorf("bench: phase duration must be > 0")
	case c.CalibrateDuration <= 0 && c.Rate <= 0:
		return fmt.Errorf("bench: give a rate or a calibration duration")
	case c.DegradedDuration < 0:
		return fmt.Errorf("bench: degraded duration must be >= 0")
	case c.Rate < 0:
		return fmt.Errorf("bench: rate must be >= 0")
	case c.Rate == 0 && !(c.RateFraction > 0 && c.RateFraction <= 1):
		return fmt.Errorf("bench: rate fraction=%v must be in (0, 1]", c.RateFraction)
	case c.Records < 1:
		return fmt.Errorf("bench: records=%d must be >= 1", c.Records)
	case c.ValueSize < 1 || c.ValueSize > 1<<20:
		return fmt.Errorf("bench: value size=%d must be in [1, 1 MiB]", c.ValueSize)
	case !(c.Theta >= 0 && c.Theta < 1):
		return fmt.Errorf("bench: theta=%v must be in [0, 1)", c.Theta)
	case !(c.ProbeShare >= 0 && c.ProbeShare <= 1):
		return fmt.Errorf("bench: probe share=%v must be in [0, 1]", c.ProbeShare)
	case c.Nodes < 4 || c.Nodes > 16:
		return fmt.Errorf("bench: nodes=%d must be in [4, 16] (N=3 and a fallback for a node down)", c.Nodes)
	case len(c.Zones) == 0:
		return fmt.Errorf("bench: at least one zone")
	case c.OutDir == "":
		return fmt.Errorf("bench: no output directory")
	}
	return nil
}
