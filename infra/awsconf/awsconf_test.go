package awsconf_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cartwheel/cartwheel/infra/awsconf"
)

func TestValidate(t *testing.T) {
	ok := awsconf.DefaultConfig()
	if err := ok.Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	for name, mod := range map[string]func(*awsconf.Config){
		"no region":       func(c *awsconf.Config) { c.Region = "" },
		"endpoint scheme": func(c *awsconf.Config) { c.Endpoint = "127.0.0.1:4566" },
		"endpoint host":   func(c *awsconf.Config) { c.Endpoint = "http://" },
		"half keys":       func(c *awsconf.Config) { c.AccessKey = "a" },
		"token alone":     func(c *awsconf.Config) { c.SessionToken = "t" },
		"attempts":        func(c *awsconf.Config) { c.MaxAttempts = -1 },
	} {
		c := awsconf.DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
		if _, err := awsconf.Load(context.Background(), c); err == nil {
			t.Errorf("%s: Load accepted %+v", name, c)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-3")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
	c := awsconf.FromEnv()
	if c.Region != "eu-west-3" || c.Endpoint != "http://127.0.0.1:4566" {
		t.Fatalf("FromEnv = %+v", c)
	}
	t.Setenv("AWS_REGION", "ap-south-1")
	if c := awsconf.FromEnv(); c.Region != "ap-south-1" {
		t.Fatalf("AWS_REGION not preferred: %+v", c)
	}
}

func TestIsLocal(t *testing.T) {
	for ep, want := range map[string]bool{
		"":                                   false,
		"https://s3.us-east-1.amazonaws.com": false,
		"https://sqs.cn-north-1.amazonaws.com.cn": false,
		"https://dynamodb.us-east-1.api.aws":      false,
		"http://127.0.0.1:4566":                   true,
		"http://localhost:4566":                   true,
		"http://%zz":                              true,
	} {
		if got := awsconf.IsLocal(ep); got != want {
			t.Errorf("IsLocal(%q) = %v, want %v", ep, got, want)
		}
	}
}

func TestLoadAndClients(t *testing.T) {
	ctx := context.Background()
	cfg, err := awsconf.Load(ctx, awsconf.Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:4566", MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || creds.AccessKeyID != "test" || creds.SecretAccessKey != "test" {
		t.Fatalf("local credentials = %+v, %v; want test/test", creds, err)
	}
	if aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:4566" || cfg.RetryMaxAttempts != 5 {
		t.Fatalf("BaseEndpoint %v, RetryMaxAttempts %d", aws.ToString(cfg.BaseEndpoint), cfg.RetryMaxAttempts)
	}

	s := awsconf.S3(cfg, "").Options()
	if !s.UsePathStyle || s.RequestChecksumCalculation != aws.RequestChecksumCalculationWhenRequired ||
		s.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Fatalf("local S3 options: path style %v, checksums %v/%v", s.UsePathStyle, s.RequestChecksumCalculation, s.ResponseChecksumValidation)
	}
	if o := awsconf.S3(cfg, "http://127.0.0.1:9999").Options(); aws.ToString(o.BaseEndpoint) != "http://127.0.0.1:9999" {
		t.Fatalf("S3 endpoint override = %v", aws.ToString(o.BaseEndpoint))
	}
	if o := awsconf.S3(cfg, "https://s3.us-east-1.amazonaws.com").Options(); o.UsePathStyle {
		t.Fatal("path style on AWS")
	}
	if o := awsconf.DynamoDB(cfg, "").Options(); !o.DisableValidateResponseChecksum {
		t.Fatal("DynamoDB response checksum validated on a local endpoint")
	}
	if o := awsconf.DynamoDB(cfg, "https://dynamodb.us-east-1.amazonaws.com").Options(); o.DisableValidateResponseChecksum ||
		aws.ToString(o.BaseEndpoint) != "https://dynamodb.us-east-1.amazonaws.com" {
		t.Fatal("DynamoDB on AWS: checksum validation off or endpoint not overridden")
	}
	if o := awsconf.SQS(cfg, "http://127.0.0.1:9998").Options(); aws.ToString(o.BaseEndpoint) != "http://127.0.0.1:9998" {
		t.Fatalf("SQS endpoint override = %v", aws.ToString(o.BaseEndpoint))
	}
	if o := awsconf.SQS(cfg, "").Options(); o.BaseEndpoint != nil && aws.ToString(o.BaseEndpoint) != "http://127.0.0.1:4566" {
		t.Fatalf("SQS default endpoint = %v", aws.ToString(o.BaseEndpoint))
	}

	static, err := awsconf.Load(ctx, awsconf.Config{Region: "eu-west-1", AccessKey: "AK", SecretKey: "SK", SessionToken: "TOK"})
	if err != nil {
		t.Fatal(err)
	}
	creds, err = static.Credentials.Retrieve(ctx)
	if err != nil || creds.AccessKeyID != "AK" || creds.SessionToken != "TOK" {
		t.Fatalf("static credentials = %+v, %v", creds, err)
	}
	if static.BaseEndpoint != nil || static.Region != "eu-west-1" {
		t.Fatalf("real AWS config: endpoint %v region %s", aws.ToString(static.BaseEndpoint), static.Region)
	}
}
