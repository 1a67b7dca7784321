package ringmodel

import (
	"context"
	"fmt"
	"strings"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// copies describes every copy of key stored anywhere (replicas and hinted
// replicas, with their siblings and dots), for the trace: set
// CARTWHEEL_MODEL_TRACE_KEY=<key> with CARTWHEEL_MODEL_TRACE=1.
func (h *history) copies(key string) string {
	var sb strings.Builder
	for _, loc := range sortedLocs(h.locs) {
		names, _ := h.list(loc)
		for _, n := range names {
			if n == kv.DataName(key) || strings.HasPrefix(n, kv.HintKeyPrefix(key)) {
				b, err := h.env.Store.Get(context.Background(), loc, n)
				if err != nil {
					continue
				}
				o, _ := vclock.Decode(b.Data, vclock.DecodeLimits())
				var vs []string
				for _, s := range o.Siblings {
					vs = append(vs, fmt.Sprintf("%s%v@%v", string(s.Value), s.Tombstone, s.Dot))
				}
				fmt.Fprintf(&sb, " %s:%s:%v", loc.Prefix, n[:7], vs)
			}
		}
	}
	return sb.String()
}
