package perf

import (
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: 1 µs to 2 minutes, 3 significant digits.
const (
	histMin    = 1
	histMax    = int64(2 * time.Minute / time.Microsecond)
	histDigits = 3
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, histDigits) }

// recordUS records d in microseconds, clamped to the histogram's range.
func recordUS(h *hdr.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	_ = h.RecordValue(us) // cannot fail within range
}

// latencies is one operation kind's two histograms: Response runs from the
// intended (scheduled) start, so a stall delays every operation scheduled
// behind it and is counted (no coordinated omission); Service runs from the
// actual start and is the operation's own cost.
type latencies struct {
	Response *hdr.Histogram
	Service  *hdr.Histogram
	Errors   int64
	// ErrorSamples are the first distinct error messages (at most
	// maxErrorSamples), so a run that counts failures also says what they were.
	ErrorSamples []string
}

// maxErrorSamples bounds latencies.ErrorSamples.
const maxErrorSamples = 5

// sampleError keeps msg if it is new and there is room.
func (l *latencies) sampleError(msg string) {
	if len(l.ErrorSamples) < maxErrorSamples && !slices.Contains(l.ErrorSamples, msg) {
		l.ErrorSamples = append(l.ErrorSamples, msg)
	}
}

func newLatencies() *latencies {
	return &latencies{Response: newHist(), Service: newHist()}
}

func (l *latencies) merge(o *latencies) {
	l.Response.Merge(o.Response)
	l.Service.Merge(o.Service)
	l.Errors += o.Errors
	for _, m := range o.ErrorSamples {
		l.sampleError(m)
	}
}

// Summary is a histogram's percentiles in milliseconds.
type Summary struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	P999  float64 `json:"p999Ms"`
	Max   float64 `json:"maxMs"`
	Mean  float64 `json:"meanMs"`
}

func summarize(h *hdr.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Summary{
		Count: h.TotalCount(),
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
		Mean:  h.Mean() / 1000,
	}
}
