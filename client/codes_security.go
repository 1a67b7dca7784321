package client

// Error codes of the local server's and the dashboard proxy's request checks,
// and of admin bodies (see the README's security section).
const (
	// CodeForbidden: a request the local server or the dashboard proxy
	// refuses before serving it (403): a Host that is not this server's, a
	// cross-site request, a missing or wrong dashboard token, or a path the
	// dashboard proxy does not forward.
	CodeForbidden = "forbidden"
	// CodeUnsupportedMediaType: an admin body that is not application/json (415).
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeBadEndpoint: a node location whose endpoint is not allowed (400).
	CodeBadEndpoint = "bad_endpoint"
)
