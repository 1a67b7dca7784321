package s3store

import (
	"reflect"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

func TestPageAndListPrefix(t *testing.T) {
	items := []kv.Listed{{Name: "a"}, {Name: "b"}, {Name: "ba"}, {Name: "c"}}
	names := func(l []kv.Listed) []string {
		out := []string{}
		for _, x := range l {
			out = append(out, x.Name)
		}
		return out
	}
	cases := []struct {
		after string
		limit int
		want  []string
		more  bool
	}{
		{"", 2, []string{"a", "b"}, true},
		{"b", 2, []string{"ba", "c"}, false},
		{"az", 10, []string{"b", "ba", "c"}, false},
		{"c", 10, []string{}, false},
		{"", 4, []string{"a", "b", "ba", "c"}, false},
	}
	for _, c := range cases {
		got, more, err := page(items, c.after, c.limit)
		if err != nil || !reflect.DeepEqual(names(got), c.want) || more != c.more {
			t.Errorf("page(after %q, limit %d) = %v, %v, %v; want %v, %v", c.after, c.limit, names(got), more, err, c.want, c.more)
		}
	}
	for in, want := range map[string]string{"node/data/": "node/data/", "node/data/x1": "node/data/", "x": "", "": ""} {
		if got := listPrefix(in); got != want {
			t.Errorf("listPrefix(%q) = %q, want %q", in, got, want)
		}
	}
	if !IsDirectoryBucket("cart--use1-az4--x-s3") || IsDirectoryBucket("cartwheel-local") {
		t.Error("IsDirectoryBucket")
	}
}
