package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/vclock"
)

// The query parameters each key-value method accepts. Any other parameter is
// rejected with 400 bad_request naming it: an option is honoured or refused,
// never silently ignored.
var kvParams = map[string][]string{
	http.MethodGet:    {client.ParamR, client.ParamPR, client.ParamSibling},
	http.MethodHead:   {client.ParamR, client.ParamPR, client.ParamSibling},
	http.MethodPut:    {client.ParamW, client.ParamPW, client.ParamR, client.ParamPR, client.ParamReturnBody, client.ParamTTL},
	http.MethodPost:   {client.ParamW, client.ParamPW, client.ParamR, client.ParamPR, client.ParamReturnBody, client.ParamTTL},
	http.MethodDelete: {client.ParamW, client.ParamPW, client.ParamR, client.ParamPR, client.ParamReturnBody},
}

// quorumValue parses a quorum size: 1..N as a number (checked against N by
// the coordinator), or one, quorum, all. Primary quorums (pr, pw) also take
// 0; r and w also take local (a majority of the key's replicas in the
// coordinator's region, counting only theirs).
func quorumValue(name, v string) (int, error) {
	primary := name == client.ParamPR || name == client.ParamPW
	switch v {
	case "one":
		return coordinator.QuorumOne, nil
	case "quorum":
		return coordinator.QuorumMajority, nil
	case "all":
		return coordinator.QuorumAll, nil
	case "local":
		if primary {
			return 0, fmt.Errorf("%s=local is not supported: local is a quorum of replies (r, w), not of primaries", name)
		}
		return coordinator.QuorumLocal, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || (n == 0 && !primary) || v != strconv.Itoa(n) {
		if primary {
			return 0, fmt.Errorf("%s=%q must be 0..N, one, quorum or all", name, v)
		}
		return 0, fmt.Errorf("%s=%q must be 1..N, one, quorum, all or local", name, v)
	}
	if n == 0 { // pr=0 / pw=0: no primary required, the default
		return 0, nil
	}
	return n, nil
}

// kvOptions parses a key-value request's query parameters and conditional
// headers into coordinator options; a bad one is a 400 response naming it.
func kvOptions(method string, req events.APIGatewayV2HTTPRequest) (coordinator.Options, *Response) {
	var o coordinator.Options
	bad := func(format string, a ...any) (coordinator.Options, *Response) {
		r := errorResponse(http.StatusBadRequest, client.CodeBadRequest, fmt.Sprintf(format, a...))
		return o, &r
	}
	allowed := kvParams[method]
	names := make([]string, 0, len(req.QueryStringParameters))
	for name := range req.QueryStringParameters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := req.QueryStringParameters[name]
		dst := map[string]*int{client.ParamR: &o.R, client.ParamW: &o.W, client.ParamPR: &o.PR, client.ParamPW: &o.PW}[name]
		switch {
		case !slices.Contains(allowed, name):
			return bad("unknown query parameter '%s' for %s (accepted: %s)", name, method, strings.Join(allowed, ", "))
		case name == SiblingParam: // read by largeGet
		case name == client.ParamTTL:
			ttl, err := ttlValue(v)
			if err != nil {
				return bad("%v", err)
			}
			o.TTL = ttl
		case name == client.ParamReturnBody:
			switch v {
			case "true":
				o.ReturnBody = true
			case "false":
			default:
				return bad("returnbody=%q must be true or false", v)
			}
		default:
			n, err := quorumValue(name, v)
			if err != nil {
				return bad("%v", err)
			}
			*dst = n
		}
	}
	if method == http.MethodGet || method == http.MethodHead {
		if header(req, "If-Match") != "" {
			return bad("If-Match is for PUT, POST and DELETE; for a conditional %s use If-None-Match with an ETag", method)
		}
		return o, nil
	}
	switch inm := header(req, "If-None-Match"); {
	case inm == "":
	case method == http.MethodDelete:
		return bad("If-None-Match is not supported on DELETE (If-None-Match: * is create-only, for PUT and POST)")
	case inm == "*":
		o.IfNoneMatch = true
	default:
		return bad("If-None-Match on %s takes only * (create-only)", method)
	}
	o.IfMatch = strings.Trim(header(req, "If-Match"), `"`)
	return o, nil
}

// versionsETag is a get's ETag: a hash of the dots of the live versions, so
// it changes whenever the set of versions changes, whichever replicas
// answered.
func versionsETag(sibs []vclock.Sibling) string {
	dots := make([]string, len(sibs))
	for i, s := range sibs {
		dots[i] = s.Dot.String()
	}
	sort.Strings(dots)
	sum := sha256.Sum256([]byte(strings.Join(dots, "\n")))
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// etagMatches reports whether an If-None-Match header names etag (or is *).
func etagMatches(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag || `"`+t+`"` == etag {
			return true
		}
	}
	return false
}
