package ring

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rewrite regenerates the expected outputs of testdata/*.txt:
//
//	go test ./core/ring -run TestScenarios -args -rewrite
var rewrite = flag.Bool("rewrite", false, "rewrite expected outputs in testdata/*.txt")

// TestScenarios runs the preference-list scenarios in testdata/*.txt.
//
// File format: cases separated by blank lines; lines starting with # outside
// expected output are comments. A case is directive lines, a line "----",
// then the expected output up to the next blank line or end of file.
// Directives:
//
//	q <Q>                           partition count (required)
//	node <id> [zone=<z>] [weight=<w>]   a node (zone defaults to the id, weight to 1)
//	owners <id> <id> ...            explicit owners (default: Claim(q, nodes, nil))
//	key <key> | partition <p>       the key, or the partition directly
//	n <N>                           replicas (default 3)
//	down <id> ...                   nodes that are down
//	show walk                       also print the walk on a first line
//
// Output: "walk: ..." (if asked), then one replica per line, "<id> primary"
// or "<id> fallback for <primary>", or "(empty)"; or "error: <message>".
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt scenario files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out, cases := runScenarioFile(t, file, string(data))
			if cases == 0 {
				t.Fatalf("%s: no cases", file)
			}
			if *rewrite && out != string(data) {
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %s", file)
			}
		})
	}
}

// runScenarioFile runs every case of one file, reporting mismatches (unless
// rewriting), and returns the file text with actual outputs substituted.
func runScenarioFile(t *testing.T, file, text string) (string, int) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var out strings.Builder
	cases := 0
	for i := 0; i < len(lines); {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			i++
			continue
		}
		// Directives up to the separator.
		start := i
		var input []string
		for ; i < len(lines) && lines[i] != "----"; i++ {
			out.WriteString(lines[i] + "\n")
			input = append(input, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: case without ---- separator", file, start+1)
		}
		out.WriteString("----\n")
		i++
		var expected []string
		for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			expected = append(expected, lines[i])
		}
		cases++
		got := runScenario(input)
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		if !*rewrite && !slices.Equal(got, expected) {
			t.Errorf("%s:%d:\n%s\n----\ngot:\n%s\nwant:\n%s", file, start+1,
				strings.Join(input, "\n"), strings.Join(got, "\n"), strings.Join(expected, "\n"))
		}
	}
	return out.String(), cases
}

// runScenario evaluates one case's directives and returns its output lines.
func runScenario(input []string) []string {
	var (
		q        int
		nodes    []Node
		owners   []string
		key      string
		part     = -1
		n        = 3
		down     = make(map[string]bool)
		showWalk bool
	)
	fail := func(format string, args ...any) []string {
		return []string{"bad directive: " + fmt.Sprintf(format, args...)}
	}
	for _, line := range input {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		var err error
		switch {
		case f[0] == "q" && len(f) == 2:
			q, err = strconv.Atoi(f[1])
		case f[0] == "node" && len(f) >= 2:
			node := Node{ID: f[1], Zone: f[1], Weight: 1}
			for _, opt := range f[2:] {
				name, val, _ := strings.Cut(opt, "=")
				switch name {
				case "zone":
					node.Zone = val
				case "weight":
					node.Weight, err = strconv.Atoi(val)
				default:
					return fail("%q", line)
				}
			}
			nodes = append(nodes, node)
		case f[0] == "owners":
			owners = f[1:]
		case f[0] == "key" && len(f) == 2:
			key = f[1]
		case f[0] == "partition" && len(f) == 2:
			part, err = strconv.Atoi(f[1])
		case f[0] == "n" && len(f) == 2:
			n, err = strconv.Atoi(f[1])
		case f[0] == "down":
			for _, id := range f[1:] {
				down[id] = true
			}
		case line == "show walk":
			showWalk = true
		default:
			return fail("%q", line)
		}
		if err != nil {
			return fail("%q: %v", line, err)
		}
	}
	if owners == nil {
		var err error
		if owners, err = Claim(q, nodes, nil); err != nil {
			return []string{"error: " + err.Error()}
		}
	}
	r, err := New(q, nodes, owners)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	if part < 0 {
		part = r.Partition(key)
	}
	var res []string
	if showWalk {
		res = append(res, fmt.Sprintf("walk from %d: %s", part, strings.Join(r.WalkPartition(part), " ")))
	}
	pl := r.PreferenceListOfPartition(part, n, func(id string) bool { return !down[id] })
	for _, rep := range pl {
		if rep.Primary {
			res = append(res, rep.Node+" primary")
		} else {
			res = append(res, rep.Node+" fallback for "+rep.StandsInFor)
		}
	}
	if len(pl) == 0 {
		res = append(res, "(empty)")
	}
	return res
}
