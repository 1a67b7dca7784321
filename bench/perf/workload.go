package perf

import (
	"maps"
	mrand "math/rand/v2"
	"slices"
)

// Operation kinds (histogram and JSON names).
const (
	kRawGet       = "raw_get"          // one GetObject
	kRawPut       = "raw_put"          // one conditional PutObject
	kRawFanGet    = "raw_fanout_get"   // N GetObject in parallel, wait for R
	kRawHedgedGet = "raw_hedged_get"   // R GetObject, the others after the hedge delay, wait for R
	kRawFanPut    = "raw_fanout_put"   // conditional PUT, then N-1 in parallel, wait for W-1
	kRawFanPut33  = "raw_fanout_put33" // the same, waiting for N-1
	kGet          = "get"              // Cartwheel get (R)
	kRMW          = "rmw"              // Cartwheel get, then put with its context (whole)
	kRMWPut       = "rmw_put"          // the put of a read-modify-write
	kUpdate       = "update"           // put with the context the client last saw for the key
	kBlindPut     = "blind_put"        // put without context, to a new key
	kPut33        = "put33"            // the put of a read-modify-write with W=N
)

// Replication parameters of the benchmarked cluster (the defaults, and the
// shape every raw pattern mirrors).
const (
	replN = 3
	replR = 2
	replW = 2
)

// probeKinds run in turn in the ProbeShare of every workload's slots.
var probeKinds = []string{kRawGet, kRawPut, kRawFanGet, kRawHedgedGet, kRawFanPut, kRawFanPut33, kGet, kRMW, kBlindPut, kPut33}

// countedKinds have their own request counters (rmw is get + rmw_put).
var countedKinds = []string{kRawGet, kRawPut, kRawFanGet, kRawHedgedGet, kRawFanPut, kRawFanPut33, kGet, kRMWPut, kUpdate, kBlindPut, kPut33}

type weighted struct {
	kind string
	w    float64
}

// workloadMixes are YCSB's core workloads A, B and F. An "update" carries the
// context the client last saw for the key (as a client with a context cache,
// like the CLI, does); F's read-modify-write carries a fresh get's context.
var workloadMixes = map[string][]weighted{
	"A": {{kGet, 0.5}, {kUpdate, 0.5}},
	"B": {{kGet, 0.95}, {kUpdate, 0.05}},
	"F": {{kGet, 0.5}, {kRMW, 0.5}},
}

// degradedMix runs during the healthy and one-node-down phases.
var degradedMix = []weighted{{kGet, 0.5}, {kRMW, 0.5}}

// pick draws a kind: a probe with probability probeShare, else from mix.
func pick(rng *mrand.Rand, mix []weighted, probeShare float64) (string, bool) {
	if probeShare > 0 && rng.Float64() < probeShare {
		return probeKinds[rng.IntN(len(probeKinds))], true
	}
	u := rng.Float64()
	for _, m := range mix {
		if u < m.w {
			return m.kind, false
		}
		u -= m.w
	}
	return mix[len(mix)-1].kind, false
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
	// CPUPerOpUs is the process's CPU time (user + system, getrusage) over
	// the workload divided by its operations (probes included). An
	// in-process endpoint's (kumo's) server side counts too.
	CPUPerOpUs float64 `json:"cpuPerOpUs"`
}

func workloadResult(p phaseResult, name string) WorkloadResult {
	w := WorkloadResult{Workload: name, ElapsedSec: p.elapsed.Seconds(), TargetOpsPerSec: p.rate,
		OpsPerSec: float64(p.ops) / p.elapsed.Seconds(), WorkloadOpsPerSec: float64(p.cwOps) / p.elapsed.Seconds(),
		MissedSlots: p.missed, Ops: map[string]Summary{}}
	own := map[string]bool{}
	for _, m := range workloadMixes[name] {
		own[m.kind] = true
		if m.kind == kRMW {
			own[kRMWPut] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.lat)) {
		if own[k] {
			w.Ops[k] = summarize(p.lat[k].Response)
			w.Errors += p.lat[k].Errors
		}
	}
	return w
}
