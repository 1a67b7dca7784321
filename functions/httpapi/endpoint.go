package httpapi

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/cartwheel/cartwheel/core/kv"
)

// EndpointPolicy says where a node added through the admin API may live.
// Every function sends signed requests to a node's endpoint, the health job
// probes it every minute, and a commit moves partitions' data there, so an
// admin caller must not be able to point it anywhere (SSRF, exfiltration).
// Allowed: no endpoint (the store's default), an https S3 endpoint of the
// partition of Region (s3.REGION.amazonaws.com, its dualstack, FIPS and S3
// Express zonal forms; amazonaws.com.cn in China), an endpoint on Allowed,
// and with AllowLoopback a loopback one (the local server and its emulators).
type EndpointPolicy struct {
	// Region is the stack's home region; its partition bounds the S3
	// endpoints and location regions allowed ("": the aws partition).
	Region string
	// Allowed are further endpoints, as scheme://host[:port], that the
	// operator allows (template parameter AllowedNodeEndpoints, serve
	// --allow-endpoint); compared without a trailing slash, case-insensitively.
	Allowed []string
	// AllowLoopback allows http(s) endpoints on loopback addresses.
	AllowLoopback bool
}

// errBadEndpoint is wrapped by every refusal of EndpointPolicy.Check.
var errBadEndpoint = errors.New("node location not allowed")

var (
	regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// s3Host is an S3 endpoint host without the partition suffix: the
	// global one, regional (dash or dot), dualstack, FIPS, and S3 Express's
	// control and zonal endpoints.
	s3Host = regexp.MustCompile(`^(s3|s3-external-1|(s3|s3-fips)(\.dualstack)?\.(?P<r>[a-z0-9-]+)|s3-(?P<r2>[a-z]{2}(-[a-z]+)+-[0-9]+)|s3express-control\.(?P<r3>[a-z0-9-]+)|s3express-[a-z0-9]+-az[0-9]+\.(?P<r4>[a-z0-9-]+))$`)
	// bucketName is an S3 bucket name (general purpose or directory bucket).
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// partition names the AWS partition of a region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso"), strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso"
	}
	return "aws"
}

// dnsSuffix is the S3 endpoints' domain in a partition ("" when unknown).
func dnsSuffix(part string) string {
	switch part {
	case "aws", "aws-us-gov":
		return ".amazonaws.com"
	case "aws-cn":
		return ".amazonaws.com.cn"
	}
	return ""
}

// Check returns nil if l may be a node's location, else an error wrapping
// errBadEndpoint that names the problem.
func (p EndpointPolicy) Check(l kv.Location) error {
	part := partition(p.Region)
	if !bucketName.MatchString(l.Bucket) || strings.Contains(l.Bucket, "..") {
		return fmt.Errorf("%w: bucket %q is not an S3 bucket name", errBadEndpoint, l.Bucket)
	}
	if l.Region != "" && (!regionName.MatchString(l.Region) || partition(l.Region) != part) {
		return fmt.Errorf("%w: region %q is not a region of this stack's partition (%s)", errBadEndpoint, l.Region, part)
	}
	if l.Endpoint == "" {
		return nil
	}
	for _, a := range p.Allowed {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(l.Endpoint, "/")) {
			return nil
		}
	}
	u, err := url.Parse(l.Endpoint)
	if err != nil || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%w: endpoint %q is not a base URL (scheme://host[:port])", errBadEndpoint, l.Endpoint)
	}
	host := strings.ToLower(u.Hostname())
	if p.AllowLoopback && (u.Scheme == "http" || u.Scheme == "https") {
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	suffix := dnsSuffix(part)
	name, ok := strings.CutSuffix(host, suffix)
	if u.Scheme != "https" || (u.Port() != "" && u.Port() != "443") || suffix == "" || !ok {
		return fmt.Errorf("%w: endpoint %q is neither an https S3 endpoint of this stack's partition (%s) nor allowed "+
			"(AllowedNodeEndpoints, serve --allow-endpoint)", errBadEndpoint, l.Endpoint, part)
	}
	m := s3Host.FindStringSubmatch(name)
	if m == nil {
		return fmt.Errorf("%w: endpoint %q is not an S3 endpoint", errBadEndpoint, l.Endpoint)
	}
	for i, g := range s3Host.SubexpNames() {
		if g != "" && m[i] != "" && (!regionName.MatchString(m[i]) || partition(m[i]) != part) {
			return fmt.Errorf("%w: endpoint %q is in region %q, not in this stack's partition (%s)", errBadEndpoint, l.Endpoint, m[i], part)
		}
	}
	return nil
}
