// Package awsconf is the one place that builds the aws.Config and the S3, SQS
// and DynamoDB clients Cartwheel uses, for the real AWS and for local
// endpoints (kumo, moto_server, LocalStack).
//
// Every client can carry its own endpoint, so different storage nodes can live
// behind different endpoints (one local server per node in benchmarks, or a
// bucket in another region). Retries use the SDK's standard retryer (3 attempts
// by default); callers bound each operation with their context's deadline.
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Local endpoints accept any credentials; these are the conventional ones.
const (
	// LocalAccessKey is the access key used for local endpoints when none is given.
	LocalAccessKey = "test"
	// LocalSecretKey is the secret key used for local endpoints when none is given.
	LocalSecretKey = "test"
)

// Config says where the AWS services are and how to authenticate.
type Config struct {
	// Region is the AWS region, e.g. "us-east-1". Required.
	Region string
	// Endpoint is the base URL of every service (e.g. "http://127.0.0.1:4566");
	// empty means the real AWS endpoints of Region. Individual clients can
	// override it (see S3, SQS, DynamoDB).
	Endpoint string
	// AccessKey and SecretKey are optional static credentials. Both or neither
	// must be set. When neither is set, a local Endpoint uses test/test and the
	// real AWS uses the SDK's default credential chain (environment, shared
	// files, the Lambda/ECS/EC2 role).
	AccessKey string
	SecretKey string
	// SessionToken goes with static temporary credentials; optional.
	SessionToken string
	// MaxAttempts is the number of attempts per request, retries included;
	// 0 keeps the SDK default (3, standard retry mode).
	MaxAttempts int
	// HTTPClient, if set, sends every request (tests use it to cut network
	// paths); nil keeps the SDK's.
	HTTPClient aws.HTTPClient
}

// DefaultConfig returns the real AWS in us-east-1 with the default credential
// chain and SDK retries. It does not read the environment; see FromEnv.
func DefaultConfig() Config {
	return Config{
		Region: "us-east-1", // the SDK has no default region; Cartwheel's templates deploy here
	}
}

// FromEnv returns DefaultConfig overridden by the environment: AWS_REGION (or
// AWS_DEFAULT_REGION) and AWS_ENDPOINT_URL. Credentials are left to the SDK's
// chain (which reads AWS_ACCESS_KEY_ID and friends itself), except that a
// local endpoint without AWS_ACCESS_KEY_ID gets test/test.
func FromEnv() Config {
	c := DefaultConfig()
	if r := os.Getenv("AWS_REGION"); r != "" {
		c.Region = r
	} else if r := os.Getenv("AWS_DEFAULT_REGION"); r != "" {
		c.Region = r
	}
	c.Endpoint = os.Getenv("AWS_ENDPOINT_URL")
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Region == "" {
		return errors.New("awsconf: region is required")
	}
	if c.Endpoint != "" {
		if err := validEndpoint(c.Endpoint); err != nil {
			return fmt.Errorf("awsconf: endpoint: %w", err)
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errors.New("awsconf: access key and secret key must be set together")
	}
	if c.SessionToken != "" && c.AccessKey == "" {
		return errors.New("awsconf: session token needs an access key and secret key")
	}
	if c.MaxAttempts < 0 {
		return fmt.Errorf("awsconf: max attempts %d must be >= 0", c.MaxAttempts)
	}
	return nil
}

// IsLocal reports whether endpoint is set and is not an AWS endpoint
// (*.amazonaws.com, *.amazonaws.com.cn, *.api.aws). Local endpoints get
// path-style S3 addressing and relaxed checksum handling.
func IsLocal(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return true
	}
	host := strings.ToLower(u.Hostname())
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn", ".api.aws"} {
		if strings.HasSuffix(host, suffix) {
			return false
		}
	}
	return true
}

func validEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", endpoint)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", endpoint)
	}
	return nil
}

// Load validates c and builds the aws.Config shared by all clients. Its
// BaseEndpoint is c.Endpoint (nil for the real AWS). The SDK's environment and
// shared files are still consulted for what c leaves unset (e.g. credentials).
func Load(ctx context.Context, c Config) (aws.Config, error) {
	if err := c.Validate(); err != nil {
		return aws.Config{}, err
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(c.Region)}
	switch {
	case c.AccessKey != "":
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.SessionToken)))
	case IsLocal(c.Endpoint):
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(LocalAccessKey, LocalSecretKey, "")))
	}
	if c.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(c.Endpoint))
	}
	if c.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(c.MaxAttempts))
	}
	if c.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("awsconf: load aws config: %w", err)
	}
	return cfg, nil
}

// effective returns the endpoint a client built from cfg with override will use.
func effective(cfg aws.Config, override string) string {
	if override != "" {
		return override
	}
	return aws.ToString(cfg.BaseEndpoint)
}

// S3 returns an S3 client for cfg. A non-empty endpoint overrides
// cfg.BaseEndpoint for this client only. For local endpoints it uses
// path-style addressing (virtual hosts like <bucket>.localhost do not
// resolve). Checksums are computed and validated only when an operation
// requires them: replica objects are small, S3 still checks Content-MD5 where
// mandatory, and local endpoints warn on every response otherwise. Every
// attempt of a mutating request first runs the context's write guard
// (kv.CheckWrite; see addWriteGuard), retries included.
func S3(cfg aws.Config, endpoint string) *s3.Client {
	ep := effective(cfg, endpoint)
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = IsLocal(ep)
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.APIOptions = append(slices.Clip(o.APIOptions), addWriteGuard) // never into a shared backing array
	})
}

// SQS returns an SQS client for cfg; a non-empty endpoint overrides
// cfg.BaseEndpoint for this client only.
func SQS(cfg aws.Config, endpoint string) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// DynamoDB returns a DynamoDB client for cfg; a non-empty endpoint overrides
// cfg.BaseEndpoint for this client only. For local endpoints it does not
// validate the CRC32 response checksum, which some of them omit or miscompute.
func DynamoDB(cfg aws.Config, endpoint string) *dynamodb.Client {
	ep := effective(cfg, endpoint)
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.DisableValidateResponseChecksum = IsLocal(ep)
	})
}
