package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
)

// TestNodeForget: a departed node whose bucket is gone keeps its clean-up
// through every repair run, and so blocks reaping in its partitions;
// `cartwheel plan` shows it, `node forget ID --yes` drops it from the
// record, and reaping is no longer blocked by it. The departed clean-up is
// written into the membership record as a commit leaves it (the server runs
// on the in-process kumo endpoint, so the test reads the same DynamoDB table).
func TestNodeForget(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ep := kumoEndpoint(t)
	var table string
	base := startServerWith(t, ep, func(o *serveOptions) { table = o.table })
	b := awstest.Backends(t)[0]
	members, err := ddbmembership.New(b.DynamoDB(t), table)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := members.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cleanups) != 0 {
		t.Fatalf("a fresh cluster has clean-ups: %+v", c.Cleanups)
	}
	// n9 left at a commit an hour ago; its bucket has since been deleted.
	ps := []int{1, 2, 5}
	gone := kv.Node{ID: "n9", Zone: "a", Weight: 1, Incarnation: 1,
		Location: kv.Location{Bucket: "cw-deleted-" + table, Prefix: "nodes/n9/"}}
	next := c
	next.Cleanups = []kv.Cleanup{{Node: gone, Partitions: ps, Committed: time.Now().Add(-time.Hour).UnixMilli(), Departed: true}}
	next.Retired = append(next.Retired, kv.Retired{ID: "n9", Incarnation: 1})
	next.Epoch = c.Epoch + 1
	if err := members.Save(ctx, next, c.Epoch); err != nil {
		t.Fatal(err)
	}
	cleaning := func() []bool {
		t.Helper()
		c, err := members.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []bool
		for _, p := range ps {
			ok, why := repair.ReapDecision(repair.ReapInput{Cleaning: c.CleaningPartition(p),
				ETags: []string{"e", "e", "e"}, Now: time.Now(), Grace: time.Hour})
			out = append(out, !ok && why == repair.ReapCleaning)
		}
		return out
	}
	// The repair job cannot list the bucket: the clean-up stays.
	if code, out, errs := cli(t, base, "", "repair", "--json"); code != 0 || !strings.Contains(out, "list n9") || !strings.Contains(out, "NoSuchBucket") {
		t.Fatalf("repair did not try the gone bucket: exit %d\n%s%s", code, out, errs)
	}
	if got := cleaning(); got[0] != true || got[1] != true || got[2] != true {
		t.Fatalf("reaping blocked by the clean-up after a repair: %v, want all true", got)
	}
	code, out, errs := cli(t, base, "", "plan")
	flat := strings.Join(strings.Fields(out), " ")
	if code != 0 || !strings.Contains(flat, "n9 departed 3") || !strings.Contains(flat, "s3://cw-deleted-") || !strings.Contains(out, "node forget ID --yes") {
		t.Fatalf("plan does not show the stuck clean-up: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ = cli(t, base, "", "plan", "--json"); code != 0 || !strings.Contains(out, `"departed": true`) {
		t.Fatalf("plan --json: exit %d\n%s", code, out)
	}
	// Refused without --yes, for a member, and for nothing to forget.
	if code, _, errs = cli(t, base, "", "node", "forget", "n9"); code != exitUsage || !strings.Contains(errs, "--yes") || !strings.Contains(errs, "lost") {
		t.Fatalf("forget without --yes: exit %d %s", code, errs)
	}
	if code, _, errs = cli(t, base, "", "node", "forget", "n1", "--yes"); code != exitRejected || !strings.Contains(errs, "still a member") {
		t.Fatalf("forget a member: exit %d %s", code, errs)
	}
	if got := cleaning(); !got[0] {
		t.Fatal("a refused forget dropped the clean-up")
	}
	if code, out, errs = cli(t, base, "", "node", "forget", "n9", "--yes"); code != 0 || !strings.Contains(out, "n9: 3 partitions") {
		t.Fatalf("forget: exit %d\n%s%s", code, out, errs)
	}
	after, err := members.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := after.Departed("n9"); ok || len(after.Cleanups) != 0 {
		t.Fatalf("the record still has clean-ups: %+v", after.Cleanups)
	}
	if got := cleaning(); got[0] || got[1] || got[2] {
		t.Fatalf("reaping still blocked by a clean-up: %v", got)
	}
	if code, out, errs = cli(t, base, "", "repair", "--json"); code != 0 || strings.Contains(out, "n9") {
		t.Fatalf("repair after forget still tries n9: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs = cli(t, base, "", "node", "forget", "n9", "--yes"); code != exitNotFound {
		t.Fatalf("forget again: exit %d %s", code, errs)
	}
	if code, out, _ = cli(t, base, "", "plan"); code != 0 || strings.Contains(out, "n9") {
		t.Fatalf("plan after forget: exit %d\n%s", code, out)
	}
	// --json prints the answer.
	next = after
	next.Cleanups = []kv.Cleanup{{Node: gone, Partitions: ps[:1], Departed: true}}
	next.Epoch = after.Epoch + 1
	if err := members.Save(ctx, next, after.Epoch); err != nil {
		t.Fatal(err)
	}
	code, out, _ = cli(t, base, "", "node", "forget", "n9", "--yes", "--json")
	var r struct {
		Node       string `json:"node"`
		Partitions int    `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Node != "n9" || r.Partitions != 1 {
		t.Fatalf("forget --json: exit %d %q %v", code, out, err)
	}
}

// writeCleanups: one row per clean-up, the hint to forget only when one is
// departed, nothing at all without clean-ups.
func TestWriteCleanups(t *testing.T) {
	now := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	var b strings.Builder
	_ = writeCleanups(&b, nil, now)
	if b.Len() != 0 {
		t.Fatalf("no clean-ups printed %q", b.String())
	}
	_ = writeCleanups(&b, []cleanupEntry{{Node: "n2", Partitions: []int{1, 2}, Committed: "2026-12-04T19:00:00Z",
		Location: kv.Location{Bucket: "b", Prefix: "nodes/n2/"}}}, now)
	if flat := strings.Join(strings.Fields(b.String()), " "); !strings.Contains(flat, "n2 member 2 2026-12-04T19:00:00Z (1h0m0s ago) s3://b/nodes/n2/") || strings.Contains(flat, "forget") {
		t.Fatalf("member clean-up:\n%s", b.String())
	}
	b.Reset()
	_ = writeCleanups(&b, []cleanupEntry{{Node: "n7", Departed: true, Partitions: []int{3}, Committed: "x",
		Location: kv.Location{Bucket: "b2", Prefix: "p/", Region: "eu-west-1"}}}, now)
	if flat := strings.Join(strings.Fields(b.String()), " "); !strings.Contains(flat, "n7 departed 1 x s3://b2/p/ (eu-west-1)") || !strings.Contains(flat, "node forget ID --yes") {
		t.Fatalf("departed clean-up:\n%s", b.String())
	}
}
