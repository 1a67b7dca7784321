package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
)

// defaultURL is the local server's address (make run).
const defaultURL = "http://127.0.0.1:8080"

// checkURL validates --url: an http or https URL with a host. A missing
// scheme ("localhost:8080") is a usage error with an example, not Go's URL
// parse error.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		example := defaultURL
		if raw != "" && !strings.Contains(raw, "://") {
			example = "http://" + raw
		}
		return nil, fail(exitUsage, "--url %q must be an http:// or https:// URL with a host, e.g. --url %s (or set CARTWHEEL_URL)", raw, example)
	}
	return u, nil
}

// connError says what a failed request tried and, when nothing listened
// there, how to start a server.
func connError(method, u string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fail(exitError, "%s %s: connection refused: no Cartwheel server is listening at %s. Start one with `make run` "+
			"(or `cartwheel serve`), or point --url (or CARTWHEEL_URL) at a running API", method, u, baseOf(u))
	}
	return fail(exitError, "%s %s: %v", method, u, err)
}

// baseOf is u's scheme and host.
func baseOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return fmt.Sprintf("%s://%s", p.Scheme, p.Host)
}
