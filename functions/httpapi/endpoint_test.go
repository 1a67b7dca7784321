package httpapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/cartwheel/cartwheel/core/kv"
)

// addNodeAt asks h to plan node id at endpoint (bucket b) and returns the status.
func addNodeAt(t *testing.T, h *Handler, id, endpoint, bucket, region string) (int, string) {
	t.Helper()
	loc, _ := json.Marshal(map[string]string{"endpoint": endpoint, "bucket": bucket, "prefix": "nodes/" + id + "/", "region": region})
	r, out := admin(t, h, "POST", "/admin/nodes", fmt.Sprintf(`{"id":%q,"zone":"a","location":%s}`, id, loc))
	code, _ := out["error"].(string)
	return r.StatusCode, code
}

// TestAddNodeRefusesForeignEndpoints (issue 29, finding 3): a node's
// location is where every function sends signed requests and, after a
// commit, its partitions' data. Its endpoint must be an S3 endpoint of the
// stack's partition, or one the operator allowed; anything else, a bad
// bucket name or a region of another partition is 400 bad_endpoint, and the
// membership is unchanged.
func TestAddNodeRefusesForeignEndpoints(t *testing.T) {
	h := testHandler(t) // deployed defaults: no allow-list, no loopback
	bad := []struct{ endpoint, bucket, region string }{
		{"https://attacker.example", "b", ""},
		{"http://attacker.example:9000", "b", ""},
		{"http://127.0.0.1:4566", "b", ""},
		{"http://169.254.169.254", "b", ""},
		{"http://s3.us-east-1.amazonaws.com", "b", ""}, // not TLS
		{"https://s3.us-east-1.amazonaws.com.attacker.example", "b", ""},
		{"https://attacker.example/s3.us-east-1.amazonaws.com", "b", ""},
		{"https://user@s3.us-east-1.amazonaws.com", "b", ""},
		{"https://s3.us-east-1.amazonaws.com:8443", "b", ""},
		{"https://evil.s3.us-east-1.amazonaws.com", "b", ""},      // a bucket's virtual host
		{"https://s3.cn-north-1.amazonaws.com.cn", "b", ""},       // another partition
		{"https://s3.us-gov-west-1.amazonaws.com", "b", ""},       // another partition
		{"https://lambda.us-east-1.amazonaws.com", "b", ""},       // not S3
		{"https://s3.us-east-1.amazonaws.com", "B_AD", ""},        // not a bucket name
		{"https://s3.us-east-1.amazonaws.com", "b", "cn-north-1"}, // a region of another partition
		{"", "bucket-of-someone", "not a region"},
	}
	for i, c := range bad {
		id := fmt.Sprintf("x%d", i)
		if status, code := addNodeAt(t, h, id, c.endpoint, c.bucket+"-bucket", c.region); status != 400 || code != "bad_endpoint" {
			t.Errorf("endpoint %q bucket %q region %q: %d %s, want 400 bad_endpoint", c.endpoint, c.bucket+"-bucket", c.region, status, code)
		}
	}
	if _, out := admin(t, h, "GET", "/admin/nodes", ""); len(out["nodes"].([]any)) != 4 {
		t.Fatalf("a refused location changed the membership: %v", out["nodes"])
	}
	for i, ep := range []string{"", "https://s3.eu-west-1.amazonaws.com", "https://s3.amazonaws.com",
		"https://s3.dualstack.us-west-2.amazonaws.com", "https://s3express-use1-az4.us-east-1.amazonaws.com",
		"https://s3-fips.us-east-2.amazonaws.com"} {
		if status, code := addNodeAt(t, h, fmt.Sprintf("ok%d", i), ep, "node-bucket", "eu-west-1"); status != 200 {
			t.Errorf("endpoint %q: %d %s, want 200", ep, status, code)
		}
		admin(t, h, "DELETE", "/admin/plan", "")
	}
	// The operator's allow-list, and loopback for the local server.
	h.d.Endpoints = EndpointPolicy{Allowed: []string{"https://minio.internal:9000"}, AllowLoopback: true}
	for i, ep := range []string{"https://minio.internal:9000", "http://127.0.0.1:4566", "http://localhost:5000"} {
		if status, code := addNodeAt(t, h, fmt.Sprintf("al%d", i), ep, "node-bucket", ""); status != 200 {
			t.Errorf("allowed endpoint %q: %d %s, want 200", ep, status, code)
		}
		admin(t, h, "DELETE", "/admin/plan", "")
	}
	if status, _ := addNodeAt(t, h, "al9", "http://minio.internal:9000", "node-bucket", ""); status != 400 {
		t.Errorf("the allow-list's host with another scheme: %d, want 400", status)
	}
}

// TestEndpointPolicyAcceptsOnlyS3OfItsPartition: whatever the URL, one the
// default policy accepts is https to the default port of a host ending in
// the partition's suffix whose first label is an S3 service name, with no
// user, path, query or fragment.
func TestEndpointPolicyAcceptsOnlyS3OfItsPartition(t *testing.T) {
	labels := []string{"s3", "s3-fips", "dualstack", "s3express-use1-az4", "us-east-1", "eu-west-1", "cn-north-1",
		"us-gov-west-1", "amazonaws", "com", "cn", "evil", "lambda", "s3-us-west-2", "", "127", "0", "1", "localhost"}
	rapid.Check(t, func(t *rapid.T) {
		region := rapid.SampledFrom([]string{"", "us-east-1", "cn-north-1", "us-gov-west-1"}).Draw(t, "region")
		scheme := rapid.SampledFrom([]string{"https", "http", "ftp", ""}).Draw(t, "scheme")
		host := strings.Join(rapid.SliceOfN(rapid.SampledFrom(labels), 1, 6).Draw(t, "labels"), ".")
		port := rapid.SampledFrom([]string{"", ":443", ":80", ":9000"}).Draw(t, "port")
		tail := rapid.SampledFrom([]string{"", "/", "/x", "?a=b", "#f"}).Draw(t, "tail")
		user := rapid.SampledFrom([]string{"", "u@", "u:p@"}).Draw(t, "user")
		raw := scheme + "://" + user + host + port + tail
		err := EndpointPolicy{Region: region}.Check(loc(raw))
		if err != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			t.Fatalf("region %q accepted %q, which does not parse: %v", region, raw, perr)
		}
		suffix := ".amazonaws.com"
		if strings.HasPrefix(region, "cn-") {
			suffix = ".amazonaws.com.cn"
		}
		first, _, _ := strings.Cut(u.Hostname(), ".")
		if u.Scheme != "https" || u.User != nil || (u.Port() != "" && u.Port() != "443") ||
			strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" ||
			!strings.HasSuffix(u.Hostname(), suffix) || !strings.HasPrefix(first, "s3") {
			t.Fatalf("region %q accepted %q", region, raw)
		}
		inGov := strings.Contains(u.Hostname(), "us-gov-")
		if inGov != strings.HasPrefix(region, "us-gov-") {
			t.Fatalf("region %q accepted %q of another partition", region, raw)
		}
	})
}

func loc(endpoint string) kv.Location {
	return kv.Location{Endpoint: endpoint, Bucket: "node-bucket", Prefix: "nodes/x/"}
}
