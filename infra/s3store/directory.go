package s3store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cartwheel/cartwheel/core/kv"
)

// S3 Express One Zone directory buckets differ from general purpose buckets
// in ways that touch this adapter (Amazon S3 User Guide, "How is S3 Express
// One Zone different?", and the ListObjectsV2 API reference):
//   - ListObjectsV2 does not return keys in lexicographic order, StartAfter
//     is not supported, and a prefix must end in the delimiter "/".
//   - Requests go to a zonal endpoint with session credentials from
//     CreateSession; aws-sdk-go-v2 does both itself for bucket names ending
//     in "--x-s3" (the identity needs s3express:CreateSession on the bucket).
//   - Conditional writes: Cartwheel needs If-None-Match and If-Match on
//     PutObject (412 on a lost condition). The pages consulted for issue 17
//     did not settle If-Match on directory buckets, and no local endpoint
//     emulates them: check it against a real directory bucket (the
//     conformance suite, CARTWHEEL_TEST_ENDPOINT) before relying on it.
//   - ETags are random strings, not the MD5 of the body. Cartwheel's repair
//     compares listed ETags to find replicas that differ (core/repair); on a
//     directory bucket converged replicas list different ETags, so an
//     exchange finds every key different and reads it (correct, but one GET
//     per key instead of one LIST per 1,000). See README "Failure domains".
//
// kv.ReplicaStore.List promises lexical order and StartAfter, so for these
// buckets List reads the node's whole listing with continuation tokens,
// sorts it and serves pages from that sorted snapshot. A later List that
// continues forward (startAfter at or past the last name served) within
// SnapshotTTL reuses the snapshot, so a pass costs one full listing (about
// one request per 1,000 objects), as on a general purpose bucket; any other
// List (empty startAfter, a step back, an old snapshot) takes a new one.
// Objects written during a pass may be missing from it, as with any
// paginated listing; the next pass sees them.

// DirectorySuffix ends the name of every S3 Express directory bucket.
const DirectorySuffix = "--x-s3"

// IsDirectoryBucket reports whether bucket names an S3 Express directory
// bucket (name "<base>--<zone-id>--x-s3").
func IsDirectoryBucket(bucket string) bool { return strings.HasSuffix(bucket, DirectorySuffix) }

// snapKey names one sorted listing: a client, a bucket and a full key prefix.
type snapKey struct {
	client         clientKey
	bucket, prefix string
}

// SnapshotTTL is how long a sorted listing of an unordered bucket is reused.
const SnapshotTTL = 10 * time.Second

// snapshot is a sorted listing, names relative to the Location's prefix.
type snapshot struct {
	items  []kv.Listed
	taken  time.Time
	served string // the last name returned from it
}

// listPrefix returns the "/"-terminated part of p a directory bucket accepts.
func listPrefix(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i+1]
	}
	return ""
}

func (s *Store) listUnordered(ctx context.Context, loc kv.Location, prefix, startAfter string, limit int) ([]kv.Listed, bool, error) {
	k := snapKey{client: clientKey{region: loc.Region, endpoint: loc.Endpoint}, bucket: loc.Bucket, prefix: loc.Prefix + prefix}
	now := time.Now()
	s.mu.Lock()
	snap := s.snaps[k]
	s.mu.Unlock()
	if snap == nil || startAfter == "" || startAfter < snap.served || now.Sub(snap.taken) > SnapshotTTL {
		items, err := s.listAll(ctx, loc, prefix)
		if err != nil {
			return nil, false, err
		}
		snap = &snapshot{items: items, taken: now}
	}
	out, more, err := page(snap.items, startAfter, limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	if more && len(out) > 0 {
		snap.served = out[len(out)-1].Name
		s.snaps[k] = snap
	} else {
		delete(s.snaps, k) // the pass is over
	}
	return out, more, err
}

// page returns up to limit items after startAfter from sorted items, and
// whether more remain.
func page(items []kv.Listed, startAfter string, limit int) ([]kv.Listed, bool, error) {
	i, _ := slices.BinarySearchFunc(items, startAfter, func(l kv.Listed, t string) int {
		if l.Name <= t {
			return -1
		}
		return 1
	})
	end := min(len(items), i+limit)
	return slices.Clone(items[i:end]), end < len(items), nil
}

// listAll lists every object of loc whose name starts with prefix, sorted by
// name, following continuation tokens.
func (s *Store) listAll(ctx context.Context, loc kv.Location, prefix string) ([]kv.Listed, error) {
	full := loc.Prefix + prefix
	in := &s3.ListObjectsV2Input{Bucket: &loc.Bucket, Prefix: aws.String(listPrefix(full))}
	var out []kv.Listed
	for {
		res, err := s.Client(loc).ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("s3 list %s/%s: %w", loc.Bucket, full, mapError(err, false))
		}
		for _, o := range res.Contents {
			key := aws.ToString(o.Key)
			if strings.HasPrefix(key, full) {
				out = append(out, kv.Listed{Name: strings.TrimPrefix(key, loc.Prefix), ETag: aws.ToString(o.ETag)})
			}
		}
		if !aws.ToBool(res.IsTruncated) || res.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = res.NextContinuationToken
	}
	slices.SortFunc(out, func(a, b kv.Listed) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
