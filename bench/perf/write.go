package perf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

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
