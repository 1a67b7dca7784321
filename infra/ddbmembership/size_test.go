package ddbmembership

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/core/repair"
)

// TestRecordSize: at the largest Q (16384), with 200 nodes whose ids are 64
// characters of hex (the longest, least compressible ids), a pending ring
// change with every move transferred and write marks, and the cleanups of
// the previous commit, the stored item stays within DynamoDB's 400 KB.
func TestRecordSize(t *testing.T) {
	p := kv.DefaultParams()
	p.Q = kv.MaxQ
	id := func(i int) string {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		return hex.EncodeToString(h[:])
	}
	var nodes []kv.Node
	for i := 0; i < 200; i++ {
		nodes = append(nodes, kv.Node{ID: id(i), Zone: fmt.Sprint("zone-", i%3), Weight: 1,
			Location: kv.Location{Bucket: "cartwheel-nodes-bucket", Prefix: "nodes/" + id(i) + "/"}})
	}
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	grow := func(c kv.Cluster, i int) kv.Cluster {
		c, err := membership.AddNode(c, kv.Node{ID: id(i), Zone: "zone-1", Weight: 1, Location: kv.Location{Bucket: "b", Prefix: id(i) + "/"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c = grow(c, 200)
	if c, err = membership.CommitAt(c, time.Unix(1e9, 0)); err != nil {
		t.Fatal(err)
	}
	if c, err = membership.RemoveNode(c, id(7)); err != nil {
		t.Fatal(err)
	}
	c = grow(c, 201)
	plan, err := repair.PlanOf(c)
	if err != nil {
		t.Fatal(err)
	}
	rc := kv.RingChange{Seen: 1e12}
	for i, mv := range plan.Moves {
		rc.Done = append(rc.Done, mv.Partition)
		if i%10 == 0 {
			rc.Marks = append(rc.Marks, kv.WriteMark{P: mv.Partition, Epoch: c.Epoch})
		}
	}
	c.Change = &rc
	body, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	_, size, err := encodeItem(c.Epoch, body)
	if err != nil {
		t.Fatal(err)
	}
	cl := 0
	for _, x := range c.Cleanups {
		cl += len(x.Partitions)
	}
	t.Logf("Q=%d, %d nodes, %d moves, %d cleanups (%d partitions): %d bytes of JSON, %d stored", p.Q, len(c.Nodes), len(plan.Moves), len(c.Cleanups), cl, len(body), size)
	if size > MaxItemBytes-1024 {
		t.Fatalf("the record takes %d bytes, over DynamoDB's item limit", size)
	}
	item, _, err := encodeItem(c.Epoch, body)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := item[BodyAttr]; ok {
		t.Fatal("a large body was stored uncompressed")
	}
	raw, err := bodyOf(item)
	if err != nil || string(raw) != string(body) {
		t.Fatalf("round trip: %v", err)
	}
}
