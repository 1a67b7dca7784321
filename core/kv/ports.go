// Package kv holds Cartwheel's vocabulary shared by the coordinator, the repair
// jobs and the infra adapters: nodes and their storage locations, the cluster
// description kept in membership, hints, limits, typed errors, and the ports
// (interfaces) through which the pure core does its I/O.
//
// The ports are defined here, where they are used; infra/ packages satisfy them
// over S3, SQS and DynamoDB, and infra/storetest runs one conformance suite
// against every implementation (including the in-memory ones in kvmem).
package kv

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by the ports. Adapters wrap them with context; callers
// test with errors.Is.
var (
	// ErrNotFound: the object, item or queue does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPrecondition: a conditional write or delete lost (S3 412 or 409,
	// DynamoDB ConditionalCheckFailed). The caller re-reads and retries.
	ErrPrecondition = errors.New("precondition failed")
)

// Location is where one storage node keeps its replicas: an S3 bucket and key
// prefix, optionally in its own region and on its own endpoint (a bucket in
// another region, an S3 Express directory bucket in one AZ, or one local
// server per node in benchmarks).
type Location struct {
	// Region is the AWS region of the bucket, which requests are signed for;
	// empty means the store's default (the stack's home region).
	Region string `json:"region,omitempty"`
	// Endpoint is the S3 endpoint URL; empty means the store's default endpoint.
	Endpoint string `json:"endpoint,omitempty"`
	// Bucket is the S3 bucket name.
	Bucket string `json:"bucket"`
	// Prefix is prepended to every object name of this node; it should end in "/".
	Prefix string `json:"prefix"`
}

// Blob is one stored replica object as read from a ReplicaStore.
type Blob struct {
	// Data is the object body (a canonical vclock encoding).
	Data []byte
	// ETag is the store's entity tag, used for conditional writes. For S3 it is
	// the quoted hex MD5 of Data.
	ETag string
	// Actor is the object's minting identity, kept in object metadata (not in
	// Data, so replicas that converge hold identical bytes).
	Actor string
}

// Listed is one entry of a ReplicaStore listing.
type Listed struct {
	// Name is the object name relative to the location (e.g. "data/<hex>").
	Name string
	// ETag is the object's entity tag (the MD5 of its canonical bytes on S3).
	ETag string
}

// ReplicaStore reads and writes replica objects at node locations. All methods
// must be safe for concurrent use. Put and Delete call CheckWrite(ctx) right
// before every attempt of their request leaves the process (each SDK retry,
// the DELETE after a HEAD, the commit a write waited for) and fail with its
// error, so that background work suspended by a Lambda freeze never writes.
type ReplicaStore interface {
	// Get returns the object at loc/name, or an error wrapping ErrNotFound.
	Get(ctx context.Context, loc Location, name string) (Blob, error)
	// Put writes data at loc/name with actor as metadata, conditionally: with
	// ifMatch == "" only if no object exists (If-None-Match: *), otherwise only if
	// the current ETag equals ifMatch. A lost condition returns an error wrapping
	// ErrPrecondition. It returns the new ETag.
	Put(ctx context.Context, loc Location, name string, data []byte, actor, ifMatch string) (string, error)
	// Delete removes loc/name. With ifMatch != "" it deletes only if the ETag
	// matches (stores that cannot enforce this on delete re-check with a Get
	// first). Deleting a missing object is not an error.
	Delete(ctx context.Context, loc Location, name, ifMatch string) error
	// List returns up to limit objects whose names start with prefix and sort
	// after startAfter, in lexical order, and whether more remain.
	List(ctx context.Context, loc Location, prefix, startAfter string, limit int) ([]Listed, bool, error)
}

// Hint asks that the replica of Key stored on Fallback on behalf of Intended be
// delivered to Intended, then removed from Fallback. Hints are idempotent:
// delivering one twice, or after a newer one, changes nothing.
type Hint struct {
	// Key is the user key.
	Key string `json:"key"`
	// Intended is the id of the primary node the replica belongs to.
	Intended string `json:"intended"`
	// Fallback is the id of the node holding the hinted replica.
	Fallback string `json:"fallback"`
	// Created is when the hint was first enqueued (Unix milliseconds).
	Created int64 `json:"created"`
	// Primary marks a hand-off of background work (a replica write or repair
	// left unfinished when a Lambda invocation's post-response budget ended,
	// or suspended): the source is Fallback's own replica of Key (a primary's
	// data object, read as it is at delivery), merged into Intended's, and it
	// is not removed after delivery.
	Primary bool `json:"primary,omitempty"`
}

// ReceivedHint is a hint taken from the queue with the handle to acknowledge it.
type ReceivedHint struct {
	Hint Hint
	// Receipt acknowledges (deletes) the message; opaque.
	Receipt string
	// Receives is how many times the message has been received (1 the first time).
	Receives int
	// Err is set when the message body could not be decoded (a poison message);
	// Hint is then zero. Such messages are left for the redrive to the dead-letter queue.
	Err error
}

// QueueStats counts the messages in the hint queue and its dead-letter queue.
type QueueStats struct {
	Visible  int `json:"visible"`
	InFlight int `json:"inFlight"`
	Dead     int `json:"dead"`
}

// HintQueue carries hints from coordinators to the handoff job (SQS standard
// queue: at-least-once, unordered). All methods must be safe for concurrent use.
type HintQueue interface {
	// Enqueue sends one hint.
	Enqueue(ctx context.Context, h Hint) error
	// Receive takes up to max hints, waiting up to wait for the first one.
	Receive(ctx context.Context, max int, wait time.Duration) ([]ReceivedHint, error)
	// Ack deletes received messages by receipt.
	Ack(ctx context.Context, receipts ...string) error
	// Stats reports approximate queue depths.
	Stats(ctx context.Context) (QueueStats, error)
}

// Membership stores the cluster description. All methods must be safe for
// concurrent use.
type Membership interface {
	// Load returns the current cluster, or an error wrapping ErrNotFound if
	// none was ever saved.
	Load(ctx context.Context) (Cluster, error)
	// Save stores c if the stored epoch is still prevEpoch (0: nothing stored
	// yet); c.Epoch must be greater than prevEpoch. A lost race returns an error
	// wrapping ErrPrecondition, unless exactly c is already stored: saving is
	// idempotent, so a retried save whose first attempt landed succeeds.
	Save(ctx context.Context, c Cluster, prevEpoch uint64) error
}
