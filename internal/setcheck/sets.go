// The set encoding: each key's value is a set of integers, one per line.

package setcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EncodeSet encodes a set as a JSON array of its elements in ascending order.
func EncodeSet(elems []int64) []byte {
	s := slices.Clone(elems)
	slices.Sort(s)
	s = slices.Compact(s)
	if s == nil {
		s = []int64{}
	}
	b, _ := json.Marshal(s)
	return b
}

// ParseSet decodes a set written as a JSON array of integers or as a list of
// integers, one a line. Empty input is the empty set.
func ParseSet(b []byte) ([]int64, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, nil
	}
	if t[0] == '[' {
		var out []int64
		if err := json.Unmarshal(t, &out); err != nil {
			return nil, fmt.Errorf("set: not a JSON array of integers: %w", err)
		}
		return out, nil
	}
	var out []int64
	for i, line := range strings.Split(string(t), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n, err := strconv.ParseInt(line, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("set: line %d: %q is not an integer", i+1, line)
		}
		out = append(out, n)
	}
	return out, nil
}
