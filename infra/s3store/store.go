// Package s3store implements kv.ReplicaStore over Amazon S3 (or an
// S3-compatible local endpoint). A kv.Location names a bucket, a key prefix and
// optionally its own endpoint; the object key of a replica is Prefix + name.
//
// Writes are conditional (If-None-Match: * to create, If-Match: <etag> to
// replace), which makes each replica object the serialization point of its
// key. The writing actor travels as user metadata (x-amz-meta-actor), not in
// the body, so converged replicas hold identical bytes and ETags.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awsconf"
)

// MetaActor is the user-metadata key holding Blob.Actor (x-amz-meta-actor).
const MetaActor = "actor"

// MaxList is the most entries one List returns (S3's page size).
const MaxList = 1000

// Config configures a Store.
type Config struct {
	// Endpoint is the S3 endpoint used for Locations whose Endpoint is empty;
	// empty means the aws.Config's BaseEndpoint, or the real S3.
	Endpoint string
	// VerifyDelete makes a conditional Delete read the object's ETag (HEAD)
	// before the conditional DeleteObject, and fail with kv.ErrPrecondition on
	// a mismatch. It costs one request per conditional delete, and protects
	// against endpoints that ignore If-Match on DeleteObject (kumo), where a
	// plain conditional delete would silently delete a newer version. Turn it
	// off only where If-Match on DeleteObject is known to be enforced (S3,
	// moto, LocalStack).
	VerifyDelete bool
	// UnorderedList treats every bucket as S3 Express directory buckets are
	// treated (see directory.go): List reads the node's whole prefix with
	// continuation tokens and sorts it, instead of trusting ListObjectsV2's
	// order and StartAfter. Buckets named like directory buckets ("--x-s3")
	// get this whatever the setting; the flag lets tests run that path on
	// endpoints without directory buckets.
	UnorderedList bool
	// Workers is the most long-lived goroutines that make the store's S3
	// calls (0: each call runs on its caller's goroutine). A call through
	// the SDK needs a deep stack, which a fresh goroutine (the coordinator
	// starts one per replica request) grows by copying it several times per
	// call; a worker keeps its grown stack. A call never waits for a worker:
	// when all Workers are busy it runs on its caller's goroutine. A caller
	// whose context ends returns at once, while its request finishes (and may
	// still read the call's arguments) on the worker until the SDK sees the
	// cancellation.
	Workers int
	// WorkerIdle is how long a worker waits for a call before it exits.
	WorkerIdle time.Duration
}

// DefaultConfig returns the aws.Config's endpoint with VerifyDelete on.
func DefaultConfig() Config {
	return Config{
		VerifyDelete: true, // correct on every endpoint; one HEAD per conditional delete
		// Enough for a coordinator's fan-outs and their background writes at
		// a few dozen requests in flight; beyond that calls run in place.
		Workers:    64,
		WorkerIdle: 30 * time.Second, // a warm process keeps its workers; an idle one lets them go
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		return fmt.Errorf("s3store: endpoint %q must start with http:// or https://", c.Endpoint)
	}
	if c.Workers < 0 || c.Workers > 4096 {
		return fmt.Errorf("s3store: workers=%d must be in [0, 4096]", c.Workers)
	}
	if c.Workers > 0 && c.WorkerIdle <= 0 {
		return fmt.Errorf("s3store: worker idle=%s must be > 0 when workers=%d", c.WorkerIdle, c.Workers)
	}
	return nil
}

// Store is a kv.ReplicaStore over S3. It keeps one client per distinct
// (region, endpoint), created on first use, signing for the Location's region.
// It is safe for concurrent use.
type Store struct {
	aws    aws.Config
	cfg    Config
	mu     sync.Mutex
	client map[clientKey]*s3.Client
	snaps  map[snapKey]*snapshot // sorted listings of unordered buckets
	pool   *pool                 // nil without Config.Workers
}

// clientKey names one client: the region it signs for and its endpoint ("" is
// the aws.Config's region, and cfg.Endpoint).
type clientKey struct{ region, endpoint string }

var _ kv.ReplicaStore = (*Store)(nil)

// New returns a Store whose clients are built from awsCfg by awsconf.S3.
func New(awsCfg aws.Config, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{aws: awsCfg, cfg: cfg, client: make(map[clientKey]*s3.Client), snaps: make(map[snapKey]*snapshot),
		pool: newPool(cfg.Workers, cfg.WorkerIdle)}, nil
}

// Client returns the S3 client used for loc (created on first use): one per
// (region, endpoint), signing for loc.Region when set. For an S3 Express
// directory bucket the SDK itself opens and renews the CreateSession
// credentials of each bucket (the zonal endpoint comes from the bucket name).
func (s *Store) Client(loc kv.Location) *s3.Client {
	k := clientKey{region: loc.Region, endpoint: loc.Endpoint}
	if k.endpoint == "" {
		k.endpoint = s.cfg.Endpoint
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.client[k]
	if c == nil {
		cfg := s.aws
		if k.region != "" {
			cfg = cfg.Copy()
			cfg.Region = k.region
		}
		c = awsconf.S3(cfg, k.endpoint)
		s.client[k] = c
	}
	return c
}

// Clients returns the number of distinct S3 clients made so far.
func (s *Store) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.client)
}

func objectKey(loc kv.Location, name string) (string, error) {
	if loc.Bucket == "" {
		return "", fmt.Errorf("location for %q has no bucket", name)
	}
	key := loc.Prefix + name
	if key == "" {
		return "", errors.New("empty object key")
	}
	return key, nil
}

// Close stops the store's idle workers and waits for the busy ones; calls
// after it run on their callers' goroutines. A process that keeps its store
// to the end need not call it (idle workers exit after Config.WorkerIdle).
func (s *Store) Close() {
	s.pool.close()
}

// Get implements kv.ReplicaStore. A missing object is kv.ErrNotFound; a
// missing bucket is a plain error (a misconfigured node, not an absent key).
func (s *Store) Get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	// The results are locals, never named results: after a cancelled call
	// the worker still writes them while this returns.
	var blob kv.Blob
	var err error
	if cerr := s.pool.call(ctx, func() { blob, err = s.get(ctx, loc, name) }); cerr != nil {
		return kv.Blob{}, fmt.Errorf("s3 get %s: %w", name, cerr)
	}
	return blob, err
}

func (s *Store) get(ctx context.Context, loc kv.Location, name string) (kv.Blob, error) {
	key, err := objectKey(loc, name)
	if err != nil {
		return kv.Blob{}, fmt.Errorf("s3 get: %w", err)
	}
	out, err := s.Client(loc).GetObject(ctx, &s3.GetObjectInput{Bucket: &loc.Bucket, Key: &key})
	if err != nil {
		return kv.Blob{}, fmt.Errorf("s3 get %s/%s: %w", loc.Bucket, key, mapError(err, false))
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return kv.Blob{}, fmt.Errorf("s3 get %s/%s: read body: %w", loc.Bucket, key, err)
	}
	return kv.Blob{Data: data, ETag: aws.ToString(out.ETag), Actor: out.Metadata[MetaActor]}, nil
}

// Put implements kv.ReplicaStore. ifMatch == "" sends If-None-Match: *;
// otherwise If-Match: ifMatch. A lost condition (412 PreconditionFailed, 409
// ConditionalRequestConflict, or 404 NoSuchKey for If-Match on a missing
// object) is kv.ErrPrecondition. actor must be printable ASCII (an HTTP header
// value). The returned ETag is S3's, quotes included.
func (s *Store) Put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	var etag string
	var err error
	if cerr := s.pool.call(ctx, func() { etag, err = s.put(ctx, loc, name, data, actor, ifMatch) }); cerr != nil {
		return "", fmt.Errorf("s3 put %s: %w", name, cerr)
	}
	return etag, err
}

func (s *Store) put(ctx context.Context, loc kv.Location, name string, data []byte, actor, ifMatch string) (string, error) {
	key, err := objectKey(loc, name)
	if err != nil {
		return "", fmt.Errorf("s3 put: %w", err)
	}
	// The client runs the guard again before every attempt (awsconf.S3), so
	// a retry after a freeze is refused too.
	if err := kv.CheckWrite(ctx); err != nil {
		return "", fmt.Errorf("s3 put %s: %w", key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        &loc.Bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		Metadata:      map[string]string{MetaActor: actor},
	}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.Client(loc).PutObject(ctx, in)
	if err != nil {
		return "", fmt.Errorf("s3 put %s/%s: %w", loc.Bucket, key, mapError(err, ifMatch != ""))
	}
	return aws.ToString(out.ETag), nil
}

// Delete implements kv.ReplicaStore. Deleting a missing object is not an
// error.
//
// With ifMatch != "" and Config.VerifyDelete (the default) it first reads the
// object's ETag with HeadObject and returns kv.ErrPrecondition on a mismatch,
// then sends DeleteObject with If-Match. On endpoints that enforce If-Match on
// DeleteObject (S3, moto) the second check closes the race between the two
// requests; on endpoints that ignore it (kumo) a write landing between the
// HEAD and the DELETE can still be deleted, which is the best a client can do
// there. Without VerifyDelete only the conditional DeleteObject is sent.
func (s *Store) Delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	var err error
	if cerr := s.pool.call(ctx, func() { err = s.delete(ctx, loc, name, ifMatch) }); cerr != nil {
		return fmt.Errorf("s3 delete %s: %w", name, cerr)
	}
	return err
}

func (s *Store) delete(ctx context.Context, loc kv.Location, name, ifMatch string) error {
	key, err := objectKey(loc, name)
	if err != nil {
		return fmt.Errorf("s3 delete: %w", err)
	}
	// Checked here before the HEAD, and by the client before every attempt
	// of the DELETE (awsconf.S3).
	if err := kv.CheckWrite(ctx); err != nil {
		return fmt.Errorf("s3 delete %s: %w", key, err)
	}
	c := s.Client(loc)
	in := &s3.DeleteObjectInput{Bucket: &loc.Bucket, Key: &key}
	if ifMatch != "" {
		if s.cfg.VerifyDelete {
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &loc.Bucket, Key: &key})
			if err != nil {
				err = mapError(err, false)
				if errors.Is(err, kv.ErrNotFound) {
					return nil
				}
				return fmt.Errorf("s3 delete %s/%s: head: %w", loc.Bucket, key, err)
			}
			if cur := aws.ToString(head.ETag); strings.Trim(cur, `"`) != strings.Trim(ifMatch, `"`) {
				return fmt.Errorf("s3 delete %s/%s: etag %s is not %s: %w", loc.Bucket, key, cur, ifMatch, kv.ErrPrecondition)
			}
		}
		in.IfMatch = aws.String(ifMatch)
	}
	if _, err := c.DeleteObject(ctx, in); err != nil {
		err = mapError(err, false)
		if errors.Is(err, kv.ErrNotFound) {
			return nil // If-Match on a missing object: 404 NoSuchKey
		}
		return fmt.Errorf("s3 delete %s/%s: %w", loc.Bucket, key, err)
	}
	return nil
}

// List implements kv.ReplicaStore with one ListObjectsV2 request. Names are
// relative to loc.Prefix. A limit below 1 or above MaxList means MaxList.
// S3 may return fewer than limit entries with more == true.
func (s *Store) List(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	var listed []kv.Listed
	var more bool
	var err error
	if cerr := s.pool.call(ctx, func() { listed, more, err = s.list(ctx, loc, prefix, startAfter, limit) }); cerr != nil {
		return nil, false, fmt.Errorf("s3 list %s: %w", loc.Prefix+prefix, cerr)
	}
	return listed, more, err
}

func (s *Store) list(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	if loc.Bucket == "" {
		return nil, false, errors.New("s3 list: location has no bucket")
	}
	if limit < 1 || limit > MaxList {
		limit = MaxList
	}
	if s.cfg.UnorderedList || IsDirectoryBucket(loc.Bucket) {
		return s.listUnordered(ctx, loc, prefix, startAfter, limit)
	}
	in := &s3.ListObjectsV2Input{
		Bucket:  &loc.Bucket,
		Prefix:  aws.String(loc.Prefix + prefix),
		MaxKeys: aws.Int32(int32(limit)),
	}
	if startAfter != "" {
		in.StartAfter = aws.String(loc.Prefix + startAfter)
	}
	out, err := s.Client(loc).ListObjectsV2(ctx, in)
	if err != nil {
		return nil, false, fmt.Errorf("s3 list %s/%s: %w", loc.Bucket, loc.Prefix+prefix, mapError(err, false))
	}
	res := make([]kv.Listed, 0, len(out.Contents))
	for _, o := range out.Contents {
		res = append(res, kv.Listed{Name: strings.TrimPrefix(aws.ToString(o.Key), loc.Prefix), ETag: aws.ToString(o.ETag)})
	}
	return res, aws.ToBool(out.IsTruncated), nil
}

// EnsureBucket creates loc's bucket if it does not exist (on loc's endpoint).
// It succeeds if the bucket already exists and is accessible to the caller.
func (s *Store) EnsureBucket(ctx context.Context, loc kv.Location) error {
	return EnsureBucket(ctx, s.Client(loc), loc.Bucket)
}

// EnsureBucket creates bucket with client if it does not exist. Outside
// us-east-1 it passes the client's region as the location constraint. It
// succeeds if the bucket already exists and HeadBucket can reach it.
func EnsureBucket(ctx context.Context, client *s3.Client, bucket string) error {
	in := &s3.CreateBucketInput{Bucket: &bucket}
	if r := client.Options().Region; r != "" && r != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(r)}
	}
	_, err := client.CreateBucket(ctx, in)
	if err == nil {
		return nil
	}
	var owned *types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return nil
	}
	// BucketAlreadyExists (or anything else): usable if we can reach it.
	if _, herr := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); herr == nil {
		return nil
	}
	return fmt.Errorf("s3 create bucket %s: %w", bucket, err)
}

// mapError maps S3 errors to the kv sentinels: 412 PreconditionFailed and 409
// ConditionalRequestConflict to kv.ErrPrecondition; 404 NoSuchKey/NotFound to
// kv.ErrNotFound, or to kv.ErrPrecondition when conditional (If-Match on a
// missing object). Other errors are returned unchanged.
func mapError(err error, conditional bool) error {
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed,
		code == "ConditionalRequestConflict":
		return fmt.Errorf("%w: %w", kv.ErrPrecondition, err)
	case code == "NoSuchKey" || code == "NotFound" || (status == http.StatusNotFound && code != "NoSuchBucket"):
		if conditional {
			return fmt.Errorf("no object to match: %w: %w", kv.ErrPrecondition, err)
		}
		return fmt.Errorf("%w: %w", kv.ErrNotFound, err)
	}
	return err
}
