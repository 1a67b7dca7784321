package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
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

// Ratio is one operation's percentiles divided by another's.
type Ratio struct {
	Name        string  `json:"name"`
	Numerator   string  `json:"numerator"`
	Denominator string  `json:"denominator"`
	P50         float64 `json:"p50"`
	P99         float64 `json:"p99"`
	P999        float64 `json:"p999"`
	// Samples is the smaller of the two operations' sample counts.
	Samples int64 `json:"samples"`
}

// ratioDefs are the ratios the issue names, then the baselines' own.
var ratioDefs = []struct{ key, name, num, den string }{
	{"get_vs_raw_fanout_get", "get / raw fan-out get", kGet, kRawFanGet},
	{"rmw_put_vs_raw_fanout_put", "read-modify-write put / raw fan-out put", kRMWPut, kRawFanPut},
	{"blind_put_vs_raw_fanout_put", "blind put / raw fan-out put", kBlindPut, kRawFanPut},
	{"put33_vs_put32", "(3,3) put / (3,2) put", kPut33, kRMWPut},
	{"get_vs_raw_get", "get / raw single GET", kGet, kRawGet},
	{"rmw_put_vs_raw_put", "read-modify-write put / raw single PUT", kRMWPut, kRawPut},
	{"blind_put_vs_raw_put", "blind put / raw single PUT", kBlindPut, kRawPut},
	{"put33_vs_raw_put", "(3,3) put / raw single PUT", kPut33, kRawPut},
	{"put33_vs_raw_fanout_put33", "(3,3) put / raw fan-out (3,3) put", kPut33, kRawFanPut33},
	{"update_vs_raw_fanout_put", "update (cached context) / raw fan-out put", kUpdate, kRawFanPut},
	{"raw_fanout_get_vs_raw_get", "raw fan-out get / raw single GET", kRawFanGet, kRawGet},
	{"raw_fanout_put_vs_raw_put", "raw fan-out put / raw single PUT", kRawFanPut, kRawPut},
	{"raw_fanout_put33_vs_raw_fanout_put", "raw fan-out (3,3) put / raw fan-out (3,2) put", kRawFanPut33, kRawFanPut},
}

// Target is one of the goals, checked (never asserted).
type Target struct {
	Goal  string  `json:"goal"`
	Value float64 `json:"value"`
	Limit string  `json:"limit"`
	Met   bool    `json:"met"`
}

// Prices are request prices in US dollars per million requests (us-east-1).
type Prices struct {
	S3StandardPut  float64 `json:"s3StandardPutListPerMillion"`
	S3StandardGet  float64 `json:"s3StandardGetPerMillion"`
	S3ExpressPut   float64 `json:"s3ExpressPutListPerMillion"`
	S3ExpressGet   float64 `json:"s3ExpressGetPerMillion"`
	SQS            float64 `json:"sqsPerMillion"`
	DynamoRead     float64 `json:"dynamoDBReadUnitPerMillion"`
	DynamoWrite    float64 `json:"dynamoDBWriteUnitPerMillion"`
	DynamoWriteWRU int     `json:"dynamoDBWriteUnitsPerPut"`
	Source         string  `json:"source"`
}

func defaultPrices(valueSize int) Prices {
	return Prices{
		S3StandardPut: 5.0, S3StandardGet: 0.4, S3ExpressPut: 1.13, S3ExpressGet: 0.03,
		SQS: 0.40, DynamoRead: 0.125, DynamoWrite: 0.625,
		// One write unit per KB of item: the value plus about 100 bytes of key
		// and attribute names.
		DynamoWriteWRU: (valueSize + 100 + 1023) / 1024,
		Source: "us-east-1 request prices: S3 Standard PUT/LIST $0.005 and GET $0.0004 per 1,000; S3 Express One Zone " +
			"PUT/LIST $0.00113 and GET $0.00003 per 1,000; SQS $0.40 per million; DynamoDB on-demand $0.625 per million " +
			"write units (from ../shared/notes/design.md) and $0.125 per million read units (AWS price list since " +
			"November 2024; a strongly consistent read of up to 4 KB is one unit). DELETE is free. Lambda, API Gateway " +
			"and storage are not included.",
	}
}

// Fee is the request cost of one million operations of a kind.
type Fee struct {
	Op                 string  `json:"op"`
	S3Standard         float64 `json:"s3Standard"`
	S3Express          float64 `json:"s3Express"`
	SQS                float64 `json:"sqs"`
	DynamoMembership   float64 `json:"dynamoDBMembership"`
	TotalStandard      float64 `json:"totalS3Standard"`
	TotalExpress       float64 `json:"totalS3Express"`
	DynamoEquivalent   float64 `json:"dynamoDBOnDemandEquivalent"`
	DynamoEquivalentIs string  `json:"dynamoDBEquivalentIs"`
}

// WorkloadResult is one YCSB workload's Cartwheel operations (response times).
type WorkloadResult struct {
	Workload          string             `json:"workload"`
	ElapsedSec        float64            `json:"elapsedSec"`
	TargetOpsPerSec   float64            `json:"targetOpsPerSec"`
	OpsPerSec         float64            `json:"opsPerSec"`
	WorkloadOpsPerSec float64            `json:"workloadOpsPerSec"`
	MissedSlots       int64              `json:"missedSlots"`
	Errors            int64              `json:"errors"`
	Ops               map[string]Summary `json:"ops"`
}

// DegradedResult compares one node down with all healthy (service times).
type DegradedResult struct {
	Node             string         `json:"node"`
	HealthyGet       Summary        `json:"healthyGet"`
	DegradedGet      Summary        `json:"degradedGet"`
	HealthyPut       Summary        `json:"healthyPut"`
	DegradedPut      Summary        `json:"degradedPut"`
	GetP50Ratio      float64        `json:"degradedGetP50_vs_healthyGetP50"`
	PutP50Ratio      float64        `json:"degradedPutP50_vs_healthyPutP50"`
	GetP99Ratio      float64        `json:"degradedGetP99_vs_healthyGetP99"`
	PutP99Ratio      float64        `json:"degradedPutP99_vs_healthyPutP99"`
	FailedWrites     int64          `json:"failedWrites"`
	FailedReads      int64          `json:"failedReads"`
	GetRequestsPerOp *RequestsPerOp `json:"degradedGetRequestsPerOp,omitempty"`
	PutRequestsPerOp *RequestsPerOp `json:"degradedPutRequestsPerOp,omitempty"`
	HintsQueued      int64          `json:"hintsQueued"`
	HintsDelivered   int64          `json:"hintsDeliveredAfterHealing"`
	DrainError       string         `json:"drainError,omitempty"`
}

// HedgedResult reports hedged reads.
type HedgedResult struct {
	Coordinator        string  `json:"coordinator"`
	RawFanoutP999Ms    float64 `json:"rawFanoutGetP999Ms"`
	RawHedgedP999Ms    float64 `json:"rawHedgedGetP999Ms"`
	RawFanoutP50Ms     float64 `json:"rawFanoutGetP50Ms"`
	RawHedgedP50Ms     float64 `json:"rawHedgedGetP50Ms"`
	FanoutGetsPerOp    float64 `json:"rawFanoutGetsPerOp"`
	HedgedGetsPerOp    float64 `json:"rawHedgedGetsPerOp"`
	HedgeDelayMs       float64 `json:"hedgeDelayMs"`
	P999HedgedVsFanout float64 `json:"p999_hedged_vs_fanout"`
}

// LambdaResult is the Lambda binaries' sizes and cold starts, from the
// contract test's measurements file.
type LambdaResult struct {
	Available  bool             `json:"available"`
	Source     string           `json:"source"`
	Note       string           `json:"note,omitempty"`
	MeasuredAt string           `json:"measuredAt,omitempty"`
	Endpoint   string           `json:"endpoint,omitempty"`
	Functions  []LambdaFunction `json:"functions,omitempty"`
}

// LambdaFunction is one function's measurements.
type LambdaFunction struct {
	Function       string  `json:"function"`
	BootstrapBytes int64   `json:"bootstrapBytes"`
	ColdStartMs    float64 `json:"coldStartMs"`
	InitMs         float64 `json:"initMs"`
	WarmMs         float64 `json:"warmMs"`
}

func readLambda(path string) LambdaResult {
	out := LambdaResult{Source: path}
	if path == "" {
		out.Note = "n/a: no measurements file configured"
		return out
	}
	data, err := os.ReadFile(path)
	if err != nil {
		out.Note = "n/a: " + path + " not found (run the contract test with CARTWHEEL_BENCH_OUT, as make bench does when the emulator is installed)"
		return out
	}
	var f struct {
		MeasuredAt string           `json:"measuredAt"`
		Endpoint   string           `json:"endpoint"`
		Functions  []LambdaFunction `json:"functions"`
	}
	if err := json.Unmarshal(data, &f); err != nil || len(f.Functions) == 0 {
		out.Note = fmt.Sprintf("n/a: %s is not a measurements file (%v)", path, err)
		return out
	}
	out.Available, out.MeasuredAt, out.Endpoint, out.Functions = true, f.MeasuredAt, f.Endpoint, f.Functions
	return out
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

// finish computes the ratios, targets, fees and hedging figures.
func (e *EndpointResult) finish(prices Prices) {
	e.Ratios, e.ResponseRatios = map[string]Ratio{}, map[string]Ratio{}
	for _, d := range ratioDefs {
		n, okn := e.Ops[d.num]
		m, okm := e.Ops[d.den]
		if !okn || !okm || n.Service.Count == 0 || m.Service.Count == 0 {
			continue
		}
		samples := min(n.Service.Count, m.Service.Count)
		e.Ratios[d.key] = Ratio{Name: d.name, Numerator: d.num, Denominator: d.den, Samples: samples,
			P50: ratio(n.Service.P50, m.Service.P50), P99: ratio(n.Service.P99, m.Service.P99), P999: ratio(n.Service.P999, m.Service.P999)}
		e.ResponseRatios[d.key] = Ratio{Name: d.name, Numerator: d.num, Denominator: d.den, Samples: samples,
			P50: ratio(n.Response.P50, m.Response.P50), P99: ratio(n.Response.P99, m.Response.P99), P999: ratio(n.Response.P999, m.Response.P999)}
	}
	e.Targets = nil
	addRatio := func(key, goal string, limit float64) {
		if r, ok := e.Ratios[key]; ok {
			e.Targets = append(e.Targets, Target{Goal: goal, Value: r.P50, Limit: fmt.Sprintf("<= %.2f", limit), Met: r.P50 <= limit})
		}
	}
	addRatio("get_vs_raw_fanout_get", "get p50 / raw fan-out get p50", 1.15)
	addRatio("rmw_put_vs_raw_fanout_put", "read-modify-write put p50 / raw fan-out put p50", 1.15)
	addRatio("blind_put_vs_raw_fanout_put", "blind put p50 / raw fan-out put p50", 1.6)
	for _, k := range []string{kRMWPut, kUpdate, kBlindPut} {
		if op, ok := e.Ops[k]; ok && op.RequestsPerOp != nil {
			e.Targets = append(e.Targets, Target{Goal: "PUT requests per " + k, Value: op.RequestsPerOp.Put,
				Limit: fmt.Sprintf("= N (%d)", e.N), Met: math.Abs(op.RequestsPerOp.Put-float64(e.N)) < 0.005})
		}
	}
	if op, ok := e.Ops[kRMWPut]; ok && op.RequestsPerOp != nil {
		e.Targets = append(e.Targets, Target{Goal: "GET requests per read-modify-write put", Value: op.RequestsPerOp.Get,
			Limit: "= 0", Met: op.RequestsPerOp.Get < 0.005})
	}
	e.Fees = e.fees(prices)
	e.Hedged = HedgedResult{
		Coordinator: "off by default (CARTWHEEL_HEDGE_QUANTILE; the lognormal endpoint's --hedge-quantile): the coordinator then reads all N " +
			"replicas at once and waits for R; the raw pattern below shows what hedging gives on this endpoint",
		HedgeDelayMs: e.HedgeDelayMs,
	}
	if f, ok := e.Ops[kRawFanGet]; ok {
		e.Hedged.RawFanoutP999Ms, e.Hedged.RawFanoutP50Ms = f.Service.P999, f.Service.P50
		if f.RequestsPerOp != nil {
			e.Hedged.FanoutGetsPerOp = f.RequestsPerOp.Get
		}
	}
	if h, ok := e.Ops[kRawHedgedGet]; ok {
		e.Hedged.RawHedgedP999Ms, e.Hedged.RawHedgedP50Ms = h.Service.P999, h.Service.P50
		if h.RequestsPerOp != nil {
			e.Hedged.HedgedGetsPerOp = h.RequestsPerOp.Get
		}
	}
	e.Hedged.P999HedgedVsFanout = ratio(e.Hedged.RawHedgedP999Ms, e.Hedged.RawFanoutP999Ms)
	e.lognormalTargets()
}

func (e *EndpointResult) fees(p Prices) []Fee {
	var out []Fee
	add := func(label string, r *RequestsPerOp, ddbEq float64, eqIs string) {
		if r == nil {
			return
		}
		std := r.Get*p.S3StandardGet + (r.Put+r.List)*p.S3StandardPut
		exp := r.Get*p.S3ExpressGet + (r.Put+r.List)*p.S3ExpressPut
		sqs := r.SQS * p.SQS
		ddb := r.DynamoReadUnits * p.DynamoRead
		out = append(out, Fee{Op: label, S3Standard: std, S3Express: exp, SQS: sqs, DynamoMembership: ddb,
			TotalStandard: std + sqs + ddb, TotalExpress: exp + sqs + ddb, DynamoEquivalent: ddbEq, DynamoEquivalentIs: eqIs})
	}
	wru := float64(p.DynamoWriteWRU)
	put := wru * p.DynamoWrite
	putIs := fmt.Sprintf("PutItem of the value: %d write unit(s)", p.DynamoWriteWRU)
	get := func(k string) *RequestsPerOp { return e.Ops[k].RequestsPerOp }
	add(kGet, get(kGet), p.DynamoRead, "strongly consistent GetItem: 1 read unit")
	add(kRMW+" (get + put)", e.Ops[kRMW].RequestsPerOp, p.DynamoRead+put, "GetItem + conditional PutItem")
	add(kRMWPut, get(kRMWPut), put, putIs)
	add(kUpdate, get(kUpdate), put, putIs)
	add(kBlindPut, get(kBlindPut), put, putIs)
	if g, p3 := get(kGet), get(kPut33); g != nil && p3 != nil {
		add(kPut33+" (get + (3,3) put)", addPerOp(g, p3), p.DynamoRead+put, "GetItem + conditional PutItem")
	}
	return out
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

// plotName is the CDF plot file of an endpoint.
func plotName(endpoint string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(endpoint))
	return "latency-cdf-" + clean + ".svg"
}

// write saves bench.json, bench.md and one CDF plot per endpoint.
func (r *Result) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r.FinishedAt = time.Now().UTC().Format(time.RFC3339)
	for _, e := range r.Endpoints {
		e.Plot = plotName(e.Endpoint)
		svg := cdfSVG(fmt.Sprintf("Latency CDF (service time), %s: %s", e.Endpoint, e.Description), e.pooled, plotKinds)
		if err := os.WriteFile(filepath.Join(dir, e.Plot), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	r.markdown(&md)
	return os.WriteFile(filepath.Join(dir, "bench.md"), []byte(md.String()), 0o644)
}

// opOrder is the display order of the operation kinds.
var opOrder = []string{kRawGet, kRawFanGet, kRawHedgedGet, kRawPut, kRawFanPut, kRawFanPut33, kGet, kRMWPut, kRMW, kUpdate, kBlindPut, kPut33}

var plotKinds = []string{kRawGet, kRawFanGet, kRawPut, kRawFanPut, kRawFanPut33, kGet, kRMWPut, kUpdate, kBlindPut, kPut33}

var opLabels = map[string]string{
	kRawGet:       "raw GET",
	kRawFanGet:    "raw fan-out get (3 GET, wait 2)",
	kRawHedgedGet: "raw hedged get (2 GET, +1 after delay)",
	kRawPut:       "raw PUT (conditional)",
	kRawFanPut:    "raw fan-out put (PUT, then 2, wait 1)",
	kRawFanPut33:  "raw fan-out put (PUT, then 2, wait 2)",
	kGet:          "Cartwheel get (R=2)",
	kRMWPut:       "Cartwheel read-modify-write put (W=2)",
	kRMW:          "Cartwheel get + put, whole",
	kUpdate:       "Cartwheel update (cached context)",
	kBlindPut:     "Cartwheel blind put (new key)",
	kPut33:        "Cartwheel (3,3) put",
}

func f2(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}

func reqCols(r *RequestsPerOp) string {
	if r == nil {
		return "\t\t\t\t"
	}
	return fmt.Sprintf("%.2f\t%.2f\t%.2f\t%.3f\t%.4f", r.Get, r.Put, r.List, r.SQS, r.Dynamo)
}

// printSummary prints the human summary.
func (r *Result) printSummary(out io.Writer) {
	fmt.Fprintf(out, "\nCartwheel bench, %s (%s/%s, %d CPUs, %s), took %s\n", r.StartedAt, r.Host.GOOS, r.Host.GOARCH, r.Host.NumCPU, r.Host.GoVersion,
		time.Since(r.started).Round(time.Second))
	fmt.Fprintf(out, "NOTE: %s\n", NoiseNote)
	fmt.Fprintf(out, "Path: %s.\n", r.Config.Path)
	for _, s := range r.Skipped {
		fmt.Fprintf(out, "SKIPPED %s: %s\n", s.Endpoint, s.Reason)
	}
	for _, e := range r.Endpoints {
		headline := ""
		if e.Endpoint == r.Headline {
			headline = " [headline]"
		}
		fmt.Fprintf(out, "\n=== %s%s: %s; %d nodes, N=%d R=%d W=%d; %d workers at %.0f ops/s (closed-loop capacity %.0f)\n",
			e.Endpoint, headline, e.Description, e.Nodes, e.N, e.R, e.W, r.Config.Concurrency, e.TargetOpsPerSec, e.CalibratedOpsPerSec)
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation (service time, ms)\tp50\tp99\tp99.9\tcount\terrors\tGET/op\tPUT/op\tLIST/op\tSQS/op\tDDB/op\t")
		for _, k := range opOrder {
			op, ok := e.Ops[k]
			if !ok {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t\n", opLabels[k], f2(op.Service.P50), f2(op.Service.P99), f2(op.Service.P999),
				op.Service.Count, op.Errors, reqCols(op.RequestsPerOp))
		}
		tw.Flush()
		fmt.Fprintln(out, "(a p99 needs about 100 samples and a p99.9 about 1000 to mean much; with fewer they approach the maximum)")
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ratio (service time)\tp50\tp99\tp99.9\tsamples\t")
		for _, d := range ratioDefs {
			if x, ok := e.Ratios[d.key]; ok {
				fmt.Fprintf(tw, "%s [%s]\t%.2f\t%.2f\t%.2f\t%d\t\n", d.name, d.key, x.P50, x.P99, x.P999, x.Samples)
			}
		}
		tw.Flush()
		fmt.Fprintln(out, "\ndesign targets (informational, never asserted):")
		for _, t := range e.Targets {
			met := "met"
			if !t.Met {
				met = "NOT met"
			}
			fmt.Fprintf(out, "  %-52s %6.2f  (%s)  %s\n", t.Goal, t.Value, t.Limit, met)
		}
		fmt.Fprintln(out, "\nrequest fees per million operations, USD (S3 Standard | S3 Express One Zone | DynamoDB on-demand doing the same):")
		tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "operation\tS3 Standard\tS3 Express\tDynamoDB\t")
		for _, f := range e.Fees {
			fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t\n", f.Op, f.TotalStandard, f.TotalExpress, f.DynamoEquivalent)
		}
		tw.Flush()
		fmt.Fprintln(out, "\nworkloads (Cartwheel operations, response time from the intended start, ms):")
		for _, w := range e.Workloads {
			var parts []string
			keys := make([]string, 0, len(w.Ops))
			for k := range w.Ops {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s := w.Ops[k]
				parts = append(parts, fmt.Sprintf("%s p50 %.2f p99 %.2f", k, s.P50, s.P99))
			}
			fmt.Fprintf(out, "  %s: %.0f ops/s (%.0f workload ops/s, target %.0f), %d errors, %d missed slots; %s\n",
				w.Workload, w.OpsPerSec, w.WorkloadOpsPerSec, w.TargetOpsPerSec, w.Errors, w.MissedSlots, strings.Join(parts, "; "))
		}
		if d := e.Degraded; d != nil {
			fmt.Fprintf(out, "\none node down (%s): get p50 %.2f -> %.2f ms (%.2fx), put p50 %.2f -> %.2f ms (%.2fx); failed writes %d, failed reads %d; %d hints queued, %d delivered after healing\n",
				d.Node, d.HealthyGet.P50, d.DegradedGet.P50, d.GetP50Ratio, d.HealthyPut.P50, d.DegradedPut.P50, d.PutP50Ratio,
				d.FailedWrites, d.FailedReads, d.HintsQueued, d.HintsDelivered)
		}
		e.writeLognormal(out, false)
		h := e.Hedged
		fmt.Fprintf(out, "hedged reads: %s. Raw: fan-out p99.9 %.2f ms with %.2f GET/op; hedged (delay %.2f ms = raw GET p95) p99.9 %.2f ms with %.2f GET/op\n",
			h.Coordinator, h.RawFanoutP999Ms, h.FanoutGetsPerOp, h.HedgeDelayMs, h.RawHedgedP999Ms, h.HedgedGetsPerOp)
		fmt.Fprintf(out, "plot: %s\n", e.Plot)
	}
	fmt.Fprintln(out, "\nLambda binaries (under the Runtime Interface Emulator, against kumo):")
	if !r.Lambda.Available {
		fmt.Fprintf(out, "  %s\n", r.Lambda.Note)
	} else {
		fmt.Fprintf(out, "  measured %s (%s)\n", r.Lambda.MeasuredAt, r.Lambda.Source)
		for _, f := range r.Lambda.Functions {
			fmt.Fprintf(out, "  %-12s bootstrap %.1f MB, cold start %.0f ms (init %.0f ms), warm %.2f ms\n",
				f.Function, float64(f.BootstrapBytes)/1e6, f.ColdStartMs, f.InitMs, f.WarmMs)
		}
	}
}

// markdown writes bench.md: the headline tables for the README.
func (r *Result) markdown(w io.Writer) {
	fmt.Fprintf(w, "# Cartwheel benchmark results\n\n")
	fmt.Fprintf(w, "Made by `%s` on %s (%s/%s, %d CPUs, %s).\n\n", r.Command, r.StartedAt, r.Host.GOOS, r.Host.GOARCH, r.Host.NumCPU, r.Host.GoVersion)
	fmt.Fprintf(w, "> %s\n\n", NoiseNote)
	fmt.Fprintf(w, "Path: %s. Latencies: %s\n\n", r.Config.Path, r.Config.LatencyDefinition)
	fmt.Fprintf(w, "Workloads %s, %d workers, %d records, %d-byte values, zipfian theta %.2f, %d nodes, N=3 R=2 W=2.\n\n",
		strings.Join(r.Config.Workloads, "/"), r.Config.Concurrency, r.Config.Records, r.Config.ValueSize, r.Config.Theta, r.Config.Nodes)
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "**Skipped %s**: %s\n\n", s.Endpoint, s.Reason)
	}
	// The ratios of every endpoint side by side.
	fmt.Fprintf(w, "## Ratios (service time, p50 / p99 / p99.9, and the smaller sample count)\n\n| ratio |")
	for _, e := range r.Endpoints {
		fmt.Fprintf(w, " %s |", e.Endpoint)
	}
	fmt.Fprintf(w, "\n|---|")
	for range r.Endpoints {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for _, d := range ratioDefs {
		fmt.Fprintf(w, "| %s (`%s`) |", d.name, d.key)
		for _, e := range r.Endpoints {
			if x, ok := e.Ratios[d.key]; ok {
				fmt.Fprintf(w, " %.2f / %.2f / %.2f (n=%d) |", x.P50, x.P99, x.P999, x.Samples)
			} else {
				fmt.Fprintf(w, " n/a |")
			}
		}
		fmt.Fprintln(w)
	}
	for _, e := range r.Endpoints {
		fmt.Fprintf(w, "\n## %s: %s\n\n", e.Endpoint, e.Description)
		fmt.Fprintf(w, "%d workers at %.0f ops/s (closed-loop capacity %.0f ops/s). Plot: [%s](%s).\n\n", r.Config.Concurrency, e.TargetOpsPerSec, e.CalibratedOpsPerSec, e.Plot, e.Plot)
		fmt.Fprintf(w, "| operation | p50 ms | p99 ms | p99.9 ms | count | errors | GET/op | PUT/op | LIST/op | SQS/op | DynamoDB/op |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, k := range opOrder {
			op, ok := e.Ops[k]
			if !ok {
				continue
			}
			q := op.RequestsPerOp
			reqs := "| | | | |"
			if q != nil {
				reqs = fmt.Sprintf("%.2f | %.2f | %.2f | %.3f | %.4f |", q.Get, q.Put, q.List, q.SQS, q.Dynamo)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %s\n", opLabels[k], f2(op.Service.P50), f2(op.Service.P99), f2(op.Service.P999), op.Service.Count, op.Errors, reqs)
		}
		fmt.Fprintf(w, "\nA p99 needs about 100 samples and a p99.9 about 1000 to mean much (see the counts); with fewer they approach the maximum.\n")
		fmt.Fprintf(w, "\nTargets (informational):\n\n")
		for _, t := range e.Targets {
			met := "met"
			if !t.Met {
				met = "**not met**"
			}
			fmt.Fprintf(w, "- %s: %.2f (%s) %s\n", t.Goal, t.Value, t.Limit, met)
		}
		fmt.Fprintf(w, "\nRequest fees per million operations (USD):\n\n| operation | S3 Standard | S3 Express One Zone | DynamoDB on-demand (same op) |\n|---|---|---|---|\n")
		for _, f := range e.Fees {
			fmt.Fprintf(w, "| %s | %.3f | %.3f | %.3f (%s) |\n", f.Op, f.TotalStandard, f.TotalExpress, f.DynamoEquivalent, f.DynamoEquivalentIs)
		}
		fmt.Fprintf(w, "\nWorkloads (response time from the intended start):\n\n| workload | ops/s | workload ops/s | errors | missed slots | Cartwheel operations p50 / p99 ms |\n|---|---|---|---|---|---|\n")
		for _, wl := range e.Workloads {
			keys := make([]string, 0, len(wl.Ops))
			for k := range wl.Ops {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s %.2f / %.2f", k, wl.Ops[k].P50, wl.Ops[k].P99))
			}
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %d | %d | %s |\n", wl.Workload, wl.OpsPerSec, wl.WorkloadOpsPerSec, wl.Errors, wl.MissedSlots, strings.Join(parts, "; "))
		}
		if d := e.Degraded; d != nil {
			fmt.Fprintf(w, "\nOne node down (%s): get p50 %.2f -> %.2f ms (**%.2fx**), read-modify-write put p50 %.2f -> %.2f ms (**%.2fx**); "+
				"failed writes: **%d**; failed reads: %d; hints queued %d, delivered after healing %d.\n",
				d.Node, d.HealthyGet.P50, d.DegradedGet.P50, d.GetP50Ratio, d.HealthyPut.P50, d.DegradedPut.P50, d.PutP50Ratio,
				d.FailedWrites, d.FailedReads, d.HintsQueued, d.HintsDelivered)
		}
		e.writeLognormal(w, true)
		h := e.Hedged
		fmt.Fprintf(w, "\nHedged reads: %s. Raw fan-out get p99.9 %.2f ms at %.2f GET/op; raw hedged get (delay %.2f ms) p99.9 %.2f ms at %.2f GET/op.\n",
			h.Coordinator, h.RawFanoutP999Ms, h.FanoutGetsPerOp, h.HedgeDelayMs, h.RawHedgedP999Ms, h.HedgedGetsPerOp)
	}
	fmt.Fprintf(w, "\n## Lambda binaries\n\n")
	if !r.Lambda.Available {
		fmt.Fprintf(w, "%s\n", r.Lambda.Note)
		return
	}
	fmt.Fprintf(w, "Measured %s under the Runtime Interface Emulator against %s.\n\n| function | bootstrap | cold start | init | warm |\n|---|---|---|---|---|\n", r.Lambda.MeasuredAt, r.Lambda.Endpoint)
	for _, f := range r.Lambda.Functions {
		fmt.Fprintf(w, "| %s | %.1f MB | %.0f ms | %.0f ms | %.2f ms |\n", f.Function, float64(f.BootstrapBytes)/1e6, f.ColdStartMs, f.InitMs, f.WarmMs)
	}
}
