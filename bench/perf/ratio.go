package perf

import (
	"fmt"
	"math"
)

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

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ratios computes Ratios and ResponseRatios from the operations.
func (e *EndpointResult) ratios() {
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
}

// targets checks the goals against the ratios and request counts.
func (e *EndpointResult) targets() {
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
}
