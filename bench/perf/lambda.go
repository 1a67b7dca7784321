package perf

import (
	"encoding/json"
	"fmt"
	"os"
)

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
