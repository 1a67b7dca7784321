package quorum

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rewrite regenerates the expected outputs of testdata/*.txt:
//
//	go test ./core/quorum/ -run TestDataDriven -rewrite
var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt")

// A scenario file is a sequence of cases. Each case is:
//
//	# optional comment lines
//	[write|read] need=N candidates=C
//	ok NODE [VALUE]   (VALUE, an integer, is required for read cases)
//	fail NODE
//	add K
//	----
//	one vote per input line (the header line included)
//	a summary line: acks/failures for write, result/stale for read
//
// and cases are separated by blank lines. The read cases merge integer values
// with max and compare them with ==.
type scenario struct {
	comments []string // comment and blank lines before the case
	input    []string
	output   []string
	line     int // line number of the first input line
}

func parseScenarios(path, text string) ([]scenario, []string, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var cases []scenario
	var pending []string
	for i := 0; i < len(lines); {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pending = append(pending, l)
			i++
			continue
		}
		sc := scenario{comments: pending, line: i + 1}
		pending = nil
		for ; i < len(lines) && lines[i] != "----"; i++ {
			if strings.TrimSpace(lines[i]) == "" {
				return nil, nil, fmt.Errorf("%s:%d: blank line before ----", path, i+1)
			}
			sc.input = append(sc.input, lines[i])
		}
		if i == len(lines) {
			return nil, nil, fmt.Errorf("%s:%d: case has no ---- separator", path, sc.line)
		}
		i++ // skip ----
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			sc.output = append(sc.output, lines[i])
		}
		cases = append(cases, sc)
	}
	return cases, pending, nil
}

// runScenario executes the input lines and returns the output lines.
func runScenario(input []string) ([]string, error) {
	head := strings.Fields(input[0])
	kind := "write"
	if len(head) > 0 && (head[0] == "write" || head[0] == "read") {
		kind, head = head[0], head[1:]
	}
	need, cands := -1, -1
	for _, kv := range head {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			return nil, fmt.Errorf("bad header argument %q", kv)
		}
		switch k {
		case "need":
			need = n
		case "candidates":
			cands = n
		default:
			return nil, fmt.Errorf("unknown header argument %q", k)
		}
	}
	if need < 0 || cands < 0 {
		return nil, fmt.Errorf("header %q needs need= and candidates=", input[0])
	}
	w := NewWrite(need, cands)
	r := NewRead(need, cands, func(a, b int) int { return max(a, b) }, func(a, b int) bool { return a == b })
	out := []string{w.Vote().String()}
	for _, l := range input[1:] {
		f := strings.Fields(l)
		var v Vote
		switch {
		case len(f) == 2 && f[0] == "add":
			k, err := strconv.Atoi(f[1])
			if err != nil {
				return nil, fmt.Errorf("bad add %q: %w", l, err)
			}
			w.AddCandidates(k)
			r.AddCandidates(k)
			v = w.Vote()
			if kind == "read" {
				v = r.Vote()
			}
		case len(f) == 2 && f[0] == "fail":
			v = w.Record(f[1], false)
			if kind == "read" {
				v = r.Fail(f[1])
			}
		case len(f) == 2 && f[0] == "ok" && kind == "write":
			v = w.Record(f[1], true)
		case len(f) == 3 && f[0] == "ok" && kind == "read":
			val, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, fmt.Errorf("bad value in %q: %w", l, err)
			}
			v = r.Record(f[1], val)
		default:
			return nil, fmt.Errorf("cannot parse %s line %q", kind, l)
		}
		out = append(out, v.String())
	}
	if kind == "write" {
		out = append(out, fmt.Sprintf("acks=%v failures=%v", w.Acks(), w.Failures()))
	} else {
		res, ok := r.Result()
		out = append(out, fmt.Sprintf("result=%d ok=%v stale=%v failures=%v", res, ok, r.Stale(), r.Failures()))
	}
	return out, nil
}

func TestDataDriven(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no testdata/*.txt files")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cases, trailer, err := parseScenarios(path, string(raw))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, sc := range cases {
				got, err := runScenario(sc.input)
				if err != nil {
					t.Fatalf("%s:%d: %v", path, sc.line, err)
				}
				if !*rewrite && strings.Join(got, "\n") != strings.Join(sc.output, "\n") {
					t.Errorf("%s:%d:\n%s\n----\ngot:\n%s\nwant:\n%s", path, sc.line,
						strings.Join(sc.input, "\n"), strings.Join(got, "\n"), strings.Join(sc.output, "\n"))
				}
				for _, l := range sc.comments {
					b.WriteString(l + "\n")
				}
				b.WriteString(strings.Join(sc.input, "\n") + "\n----\n" + strings.Join(got, "\n") + "\n")
			}
			for _, l := range trailer {
				b.WriteString(l + "\n")
			}
			if *rewrite {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestParseScenariosErrors(t *testing.T) {
	for _, text := range []string{
		"need=1 candidates=1\nok a\n",   // no ----
		"need=1 candidates=1\n\nok a\n", // blank line inside the input
	} {
		if _, _, err := parseScenarios("x", text); err == nil {
			t.Errorf("parseScenarios(%q) succeeded", text)
		}
	}
	for _, in := range [][]string{
		{"need=1"},
		{"need=x candidates=1"},
		{"need=1 candidates=1 foo=2"},
		{"need=1 candidates=1", "add x"},
		{"need=1 candidates=1", "ok a 3"},
		{"read need=1 candidates=1", "ok a"},
		{"read need=1 candidates=1", "ok a x"},
		{"need=1 candidates=1", "frob a"},
	} {
		if _, err := runScenario(in); err == nil {
			t.Errorf("runScenario(%q) succeeded", in)
		}
	}
}
