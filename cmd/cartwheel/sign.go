package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
)

// signer signs requests for API Gateway's IAM authorization (SigV4,
// service execute-api) with the default AWS credential chain: environment,
// shared files, SSO, instance role.
type signer struct {
	creds  aws.CredentialsProvider
	region string
	v4     *v4.Signer
}

// needsSigning says when to sign: "auto" signs every request to an
// execute-api host (a deployed stack: its routes require IAM by default, and
// the admin API and the dashboard always), "always" signs every request,
// "never" none.
func needsSigning(mode string, u *url.URL) (bool, error) {
	switch mode {
	case "never":
		return false, nil
	case "always":
		return true, nil
	case "auto", "":
		return strings.Contains(u.Hostname(), ".execute-api."), nil
	}
	return false, fmt.Errorf("--sign=%q: want auto, always or never", mode)
}

// TokenEnv holds a JWT for a stack deployed with DataApiAuth=jwt: the data
// routes (/kv) are then sent with "Authorization: Bearer <token>" instead of
// a signature; the admin API and the dashboard are still signed (IAM).
const TokenEnv = "CARTWHEEL_JWT"

// adminPath reports whether p is one of the always-IAM routes.
func adminPath(p string) bool {
	return strings.HasPrefix(p, "/admin/") || p == "/ui" || strings.HasPrefix(p, "/ui/")
}

// authorize prepares req for the deployed API's authorizers: a bearer token
// (TokenEnv) on the data routes when one is set and signing is not "never",
// else a SigV4 signature where needsSigning says so.
func authorize(ctx context.Context, mode string, req *http.Request, body []byte) error {
	sign, err := needsSigning(mode, req.URL)
	if err != nil {
		return err
	}
	if tok := os.Getenv(TokenEnv); tok != "" && mode != "never" && !adminPath(req.URL.Path) {
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
	if !sign {
		return nil
	}
	s, err := newSigner(ctx, req.URL.Hostname())
	if err != nil {
		return err
	}
	return s.sign(ctx, req, body)
}

// regionOf takes the region from an execute-api host name
// (<id>.execute-api.<region>.amazonaws.com), else from the AWS config.
func regionOf(host, fallback string) string {
	parts := strings.Split(host, ".")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "execute-api" {
			return parts[i+1]
		}
	}
	return fallback
}

func newSigner(ctx context.Context, host string) (*signer, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials for signing: %w", err)
	}
	region := regionOf(host, cfg.Region)
	if region == "" {
		region = "us-east-1"
	}
	return &signer{creds: cfg.Credentials, region: region, v4: v4.NewSigner()}, nil
}

func (s *signer) sign(ctx context.Context, req *http.Request, body []byte) error {
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("AWS credentials for signing: %w", err)
	}
	sum := sha256.Sum256(body)
	return s.v4.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", s.region, time.Now())
}

// signError is a request that could not be signed (no credentials, say).
type signError struct{ err error }

func (e *signError) Error() string { return "signing: " + e.err.Error() }
func (e *signError) Unwrap() error { return e.err }

// signingTransport signs the requests needsSigning selects before sending them.
type signingTransport struct {
	base http.RoundTripper
	mode string
}

// RoundTrip implements http.RoundTripper.
func (t signingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if err := authorize(req.Context(), t.mode, req, body); err != nil {
		return nil, &signError{err: err}
	}
	return t.base.RoundTrip(req)
}
