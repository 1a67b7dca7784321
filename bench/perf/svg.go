package perf

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// plotStyle is a kind's line: Cartwheel's operations solid, the raw pattern
// each is compared with dashed in the same colour.
var plotStyle = map[string]struct {
	color  string
	dashed bool
}{
	kRawGet:      {"#7f7f7f", true},
	kRawPut:      {"#8c564b", true},
	kRawFanGet:   {"#1f77b4", true},
	kGet:         {"#1f77b4", false},
	kRawFanPut:   {"#ff7f0e", true},
	kRMWPut:      {"#ff7f0e", false},
	kRawFanPut33: {"#2ca02c", true},
	kPut33:       {"#2ca02c", false},
	kUpdate:      {"#9467bd", false},
	kBlindPut:    {"#d62728", false},
}

// legendLabels are short names for the plot's legend.
var legendLabels = map[string]string{
	kRawGet:      "raw GET",
	kRawPut:      "raw PUT",
	kRawFanGet:   "raw fan-out get (3,2)",
	kGet:         "get (3,2)",
	kRawFanPut:   "raw fan-out put (3,2)",
	kRMWPut:      "read-modify-write put (3,2)",
	kRawFanPut33: "raw fan-out put (3,3)",
	kPut33:       "put (3,3)",
	kUpdate:      "update (cached context)",
	kBlindPut:    "blind put (new key)",
}

// cdfSVG draws the service-time distributions of kinds as CDFs: latency on a
// log axis, cumulative fraction on a "nines" axis (-log10(1-p): 50%, 90%,
// 99%, 99.9%), so the tail is as visible as the median. Plain SVG, no
// dependencies.
func cdfSVG(title string, hists map[string]*latencies, kinds []string) string {
	const (
		width, height = 900, 560
		left, right   = 70, 270
		top, bottom   = 40, 60
	)
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	type series struct {
		kind string
		pts  [][2]float64 // (ms, nines)
	}
	var all []series
	minMs, maxMs, maxY := math.Inf(1), 0.0, 0.5
	for _, k := range kinds {
		l := hists[k]
		if l == nil || l.Service.TotalCount() == 0 {
			continue
		}
		h := l.Service
		// No quantile finer than one sample.
		ymax := math.Min(4, math.Log10(float64(h.TotalCount())))
		s := series{kind: k}
		for y := 0.0; y <= ymax+1e-9; y += 0.02 {
			q := 100 * (1 - math.Pow(10, -y))
			ms := float64(h.ValueAtQuantile(q)) / 1000
			s.pts = append(s.pts, [2]float64{ms, y})
		}
		s.pts = append(s.pts, [2]float64{float64(h.Max()) / 1000, ymax})
		for _, p := range s.pts {
			minMs, maxMs = math.Min(minMs, p[0]), math.Max(maxMs, p[0])
		}
		maxY = math.Max(maxY, ymax)
		all = append(all, s)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	if len(all) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no data</text></svg>`+"\n", left, top+40)
		return b.String()
	}
	lo := math.Floor(math.Log10(math.Max(minMs, 0.001)))
	hi := math.Ceil(math.Log10(math.Max(maxMs, 0.002)))
	if hi <= lo {
		hi = lo + 1
	}
	ytop := math.Ceil(maxY)
	px := func(ms float64) float64 {
		return float64(left) + (math.Log10(math.Max(ms, 0.001))-lo)/(hi-lo)*pw
	}
	py := func(y float64) float64 { return float64(top) + ph - y/ytop*ph }
	// Grid and axes.
	fmt.Fprintf(&b, `<g stroke="#ddd" stroke-width="1">`+"\n")
	for d := lo; d <= hi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if math.Log10(v) > hi+1e-9 {
				continue
			}
			x := px(v)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f"/>`+"\n", x, top, x, py(0))
		}
	}
	yticks := []struct {
		y     float64
		label string
	}{{0, "0%"}, {math.Log10(2), "50%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}}
	for _, t := range yticks {
		if t.y <= ytop {
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", left, py(t.y), float64(left)+pw, py(t.y))
		}
	}
	fmt.Fprintf(&b, "</g>\n")
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	for d := lo; d <= hi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if math.Log10(v) > hi+1e-9 {
				continue
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(v), py(0)+16, trimFloat(v))
		}
	}
	for _, t := range yticks {
		if t.y <= ytop {
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(t.y)+4, t.label)
		}
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">latency, ms (log scale)</text>`+"\n", float64(left)+pw/2, height-18)
	fmt.Fprintf(&b, `<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle">cumulative fraction (scale: -log10(1-p))</text>`+"\n", float64(top)+ph/2)
	// Lines and legend.
	for i, s := range all {
		st := plotStyle[s.kind]
		dash := ""
		if st.dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		var pts []string
		for _, p := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", st.color, dash, strings.Join(pts, " "))
		ly := float64(top) + 14 + float64(i)*20
		lx := float64(width-right) + 14
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+28, ly, st.color, dash)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", lx+34, ly+4, html.EscapeString(legendLabels[s.kind]))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
