package perf

import (
	"runtime"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
)

// NoiseNote is printed with every result.
const NoiseNote = "Absolute latencies on a shared 2-core machine with local endpoints are noisy and are not " +
	"S3's; the ratios, measured side by side in one run, are what matter."

// Result is the whole benchmark result (bench/results/bench.json).
type Result struct {
	Tool       string            `json:"tool"`
	Command    string            `json:"command"`
	StartedAt  string            `json:"startedAt"`
	FinishedAt string            `json:"finishedAt"`
	Host       Host              `json:"host"`
	Note       string            `json:"note"`
	Config     ConfigRecord      `json:"config"`
	Prices     Prices            `json:"prices"`
	Headline   string            `json:"headlineEndpoint"`
	Endpoints  []*EndpointResult `json:"endpoints"`
	Skipped    []Skipped         `json:"skipped,omitempty"`
	Lambda     LambdaResult      `json:"lambda"`
	started    time.Time
}

// Host describes the machine.
type Host struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	NumCPU    int    `json:"numCPU"`
	GoVersion string `json:"goVersion"`
}

// ConfigRecord is the configuration as run.
type ConfigRecord struct {
	Endpoints         []string `json:"endpoints"`
	Concurrency       int      `json:"concurrency"`
	Workloads         []string `json:"workloads"`
	PhaseSeconds      float64  `json:"phaseSeconds"`
	CalibrateSeconds  float64  `json:"calibrateSeconds"`
	DegradedSeconds   float64  `json:"degradedSeconds"`
	Rate              float64  `json:"rate"`
	RateFraction      float64  `json:"rateFraction"`
	Records           int      `json:"records"`
	ValueSize         int      `json:"valueSize"`
	Theta             float64  `json:"zipfTheta"`
	ProbeShare        float64  `json:"probeShare"`
	Nodes             int      `json:"nodes"`
	Zones             []string `json:"zones"`
	Seed              uint64   `json:"seed"`
	Path              string   `json:"path"`
	LatencyDefinition string   `json:"latencyDefinition"`
}

// Skipped is an endpoint set-up that could not run.
type Skipped struct {
	Endpoint string `json:"endpoint"`
	Reason   string `json:"reason"`
}

// EndpointResult is everything measured against one endpoint set-up.
type EndpointResult struct {
	Endpoint            string  `json:"endpoint"`
	Description         string  `json:"description"`
	Nodes               int     `json:"nodes"`
	N                   int     `json:"n"`
	R                   int     `json:"r"`
	W                   int     `json:"w"`
	CalibratedOpsPerSec float64 `json:"calibratedOpsPerSec"`
	TargetOpsPerSec     float64 `json:"targetOpsPerSec"`
	HedgeDelayMs        float64 `json:"hedgeDelayMs"`
	// CPUPerOpUs is the process's CPU time (user + system, getrusage) over
	// the measured operations divided by their number: the workloads on an
	// SDK endpoint (an in-process endpoint's server side counts too), the
	// healthy phase on the lognormal one.
	CPUPerOpUs float64 `json:"cpuPerOpUs"`
	// Ops are the operation kinds pooled over the workloads.
	Ops map[string]OpResult `json:"ops"`
	// Ratios divide service-time percentiles (each operation's own cost);
	// ResponseRatios divide response times (from the intended start).
	Ratios         map[string]Ratio `json:"ratios"`
	ResponseRatios map[string]Ratio `json:"responseRatios"`
	Targets        []Target         `json:"targets"`
	Fees           []Fee            `json:"feesPerMillionOps"`
	Workloads      []WorkloadResult `json:"workloads"`
	Degraded       *DegradedResult  `json:"oneNodeDown,omitempty"`
	Hedged         HedgedResult     `json:"hedgedReads"`
	Errors         int64            `json:"errors"`
	// RawConflicts counts raw conditional writes that lost to a write of
	// the same worker still in flight and were retried (a benchmark artefact).
	RawConflicts int64                `json:"rawConflicts"`
	Coordinator  coordinator.Snapshot `json:"coordinatorStats"`
	Plot         string               `json:"plot"`
	// Lognormal is the lognormal endpoint's own record (its distributions,
	// CPU per operation and the slow-replica phase).
	Lognormal *LognormalResult `json:"lognormal,omitempty"`

	pooled map[string]*latencies
}

// OpResult is one operation kind's latencies and backend requests.
type OpResult struct {
	Response      Summary        `json:"response"`
	Service       Summary        `json:"service"`
	Errors        int64          `json:"errors"`
	ErrorSamples  []string       `json:"errorSamples,omitempty"` // the first distinct errors
	RequestsPerOp *RequestsPerOp `json:"requestsPerOp,omitempty"`
}

// RequestsPerOp is the mean number of backend requests of each type per operation.
type RequestsPerOp struct {
	Get             float64 `json:"GET"`
	Put             float64 `json:"PUT"`
	List            float64 `json:"LIST"`
	Delete          float64 `json:"DELETE"`
	SQS             float64 `json:"SQS"`
	Dynamo          float64 `json:"DynamoDB"`
	DynamoReadUnits float64 `json:"dynamoDBReadUnits"`
}

func perOp(c RequestCounts, ops int64) *RequestsPerOp {
	n := float64(ops)
	return &RequestsPerOp{Get: float64(c.Get) / n, Put: float64(c.Put) / n, List: float64(c.List) / n, Delete: float64(c.Delete) / n,
		SQS: float64(c.SQS) / n, Dynamo: float64(c.Dynamo) / n, DynamoReadUnits: float64(c.DynamoReadUnits) / n}
}

func addPerOp(a, b *RequestsPerOp) *RequestsPerOp {
	return &RequestsPerOp{Get: a.Get + b.Get, Put: a.Put + b.Put, List: a.List + b.List, Delete: a.Delete + b.Delete,
		SQS: a.SQS + b.SQS, Dynamo: a.Dynamo + b.Dynamo, DynamoReadUnits: a.DynamoReadUnits + b.DynamoReadUnits}
}

func newResult(cfg Config) *Result {
	now := time.Now()
	return &Result{
		Tool: "cartwheel bench", Command: cfg.Command, StartedAt: now.UTC().Format(time.RFC3339), started: now,
		Host: Host{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()},
		Note: NoiseNote,
		Config: ConfigRecord{
			Endpoints: cfg.Endpoints, Concurrency: cfg.Concurrency, Workloads: cfg.Workloads,
			PhaseSeconds: cfg.PhaseDuration.Seconds(), CalibrateSeconds: cfg.CalibrateDuration.Seconds(),
			DegradedSeconds: cfg.DegradedDuration.Seconds(), Rate: cfg.Rate, RateFraction: cfg.RateFraction,
			Records: cfg.Records, ValueSize: cfg.ValueSize, Theta: cfg.Theta, ProbeShare: cfg.ProbeShare,
			Nodes: cfg.Nodes, Zones: cfg.Zones, Seed: cfg.Seed,
			Path: "in-process: Cartwheel's coordinator (as infra/wire builds it) over the real S3/SQS/DynamoDB adapters; " +
				"no HTTP API in the path",
			LatencyDefinition: "service time = from the operation's actual start; response time = from its intended " +
				"start on the fixed-rate schedule (no coordinated omission). Ratios use service times.",
		},
		Prices: defaultPrices(cfg.ValueSize),
	}
}

func (r *Result) chooseHeadline() {
	for _, want := range []string{EndpointMotoPerNode, EndpointMoto} {
		for _, e := range r.Endpoints {
			if e.Endpoint == want {
				r.Headline = want
				return
			}
		}
	}
	r.Headline = r.Endpoints[0].Endpoint
}

// finish computes the ratios, targets, fees and hedging figures.
func (e *EndpointResult) finish(prices Prices) {
	e.ratios()
	e.targets()
	e.Fees = e.fees(prices)
	e.Hedged = e.hedgedReads()
	e.lognormalTargets()
}
