package httpapi

import (
	"encoding/json"
	"testing"
)

// TestNodesReportReplicas: /admin/nodes gives each node's partition replicas.
// The test cluster has zones a, b, c, a and N=3, so every key has one replica
// per zone: the lone nodes of zones b and c hold all 64 partitions, the two
// zone-a nodes share 64, and the total is N*Q = 192.
func TestNodesReportReplicas(t *testing.T) {
	h := testHandler(t)
	r := do(t, h, event(t, "apigw-v2-request-iam.json", "GET", "/admin/nodes", nil, nil))
	var out struct {
		Nodes []struct {
			ID       string `json:"id"`
			Replicas *int   `json:"replicas"`
		} `json:"nodes"`
	}
	if r.StatusCode != 200 || json.Unmarshal([]byte(r.Body), &out) != nil {
		t.Fatalf("nodes: %+v", r)
	}
	got, total := map[string]int{}, 0
	for _, n := range out.Nodes {
		if n.Replicas == nil {
			t.Fatalf("node %s has no replicas field: %s", n.ID, r.Body)
		}
		got[n.ID] = *n.Replicas
		total += *n.Replicas
	}
	if got["n2"] != 64 || got["n3"] != 64 || got["n1"]+got["n4"] != 64 || total != 192 {
		t.Fatalf("replicas %v, want n2=n3=64, n1+n4=64", got)
	}
}
