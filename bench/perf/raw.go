package perf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cartwheel/cartwheel/core/kv"
)

// The raw patterns: the same S3 requests Cartwheel makes, through the same SDK
// clients (s3store's, one per endpoint), with no Cartwheel logic in between.
// They are the baselines Cartwheel's operations are divided by.

// replica is where one replica of a key lives: the S3 client of its node's
// endpoint, the bucket and the node's key prefix; or, on the lognormal
// endpoint, the store the coordinator uses (with its drawn latencies) and
// the node's location.
type replica struct {
	client *s3.Client
	bucket string
	prefix string

	store kv.ReplicaStore // non-nil: raw requests go through this store at loc
	plain kv.ReplicaStore // the same store without latencies (ETag look-ups)
	loc   kv.Location
}

// rawReadName is the object raw reads fetch: the key's own replica object,
// the very bytes Cartwheel's get reads. Each worker writes its own raw
// objects (rawWriteName), so its conditional writes never race another
// worker's and Cartwheel's data is left alone.
func rawReadName(key string) string { return kv.DataName(key) }

func rawWriteName(worker int, key string) string { return fmt.Sprintf("raw/w%d/%s", worker, key) }

// getObject reads one object whole.
func getObject(ctx context.Context, r replica, name string) error {
	if r.store != nil {
		_, err := r.store.Get(ctx, r.loc, name)
		return err
	}
	key := r.prefix + name
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.bucket, Key: &key})
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, out.Body)
	out.Body.Close()
	return err
}

// putObject writes data with the same headers Cartwheel sends: the body, its
// length, an actor metadata entry, and If-Match or If-None-Match when given.
func putObject(ctx context.Context, r replica, name string, data []byte, ifMatch string, create bool) (string, error) {
	if r.store != nil {
		return storePut(ctx, r, name, data, ifMatch, create)
	}
	key := r.prefix + name
	in := &s3.PutObjectInput{
		Bucket:        &r.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		Metadata:      map[string]string{"actor": "raw-baseline"},
	}
	switch {
	case ifMatch != "":
		in.IfMatch = aws.String(ifMatch)
	case create:
		in.IfNoneMatch = aws.String("*")
	}
	out, err := r.client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// storePut is putObject on a kv.ReplicaStore, whose writes are always
// conditional: an unconditional write takes the current ETag from the store
// without latencies (no request is charged) and retries a lost condition.
func storePut(ctx context.Context, r replica, name string, data []byte, ifMatch string, create bool) (string, error) {
	if ifMatch != "" || create {
		return r.store.Put(ctx, r.loc, name, data, "raw-baseline", ifMatch)
	}
	for {
		cur := ""
		if b, err := r.plain.Get(ctx, r.loc, name); err == nil {
			cur = b.ETag
		} else if !errors.Is(err, kv.ErrNotFound) {
			return "", err
		}
		etag, err := r.store.Put(ctx, r.loc, name, data, "raw-baseline", cur)
		if err == nil || !errors.Is(err, kv.ErrPrecondition) || ctx.Err() != nil {
			return etag, err
		}
	}
}

func isPrecondition(err error) bool {
	if errors.Is(err, kv.ErrPrecondition) || errors.Is(err, kv.ErrNotFound) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey":
			return true
		}
	}
	return false
}

// rawWriter keeps, for one worker, the ETag of each object it wrote, so each
// raw write is conditional (If-Match) like Cartwheel's, without a GET first.
type rawWriter struct {
	mu        sync.Mutex
	objs      map[string]*rawObj
	conflicts int64 // conditional writes that lost (a write of ours still in flight); retried unconditionally
}

type rawObj struct {
	etag    string
	pending int // writes in flight
}

func newRawWriter() *rawWriter { return &rawWriter{objs: map[string]*rawObj{}} }

// put writes name at r: create-only the first time, If-Match the ETag of the
// last write otherwise, unconditionally while an earlier write of the same
// object is still in flight (its ETag is not known yet). It returns the number
// of PUT requests sent (2 after a lost condition).
func (w *rawWriter) put(ctx context.Context, r replica, idx int, name string, data []byte) (int, error) {
	id := fmt.Sprintf("%d/%s", idx, name)
	w.mu.Lock()
	o := w.objs[id]
	create, ifMatch := false, ""
	switch {
	case o == nil:
		o = &rawObj{}
		w.objs[id] = o
		create = true
	case o.pending == 0 && o.etag != "":
		ifMatch = o.etag
	}
	o.pending++
	w.mu.Unlock()

	sent := 1
	etag, err := putObject(ctx, r, name, data, ifMatch, create)
	if err != nil && isPrecondition(err) {
		w.mu.Lock()
		w.conflicts++
		w.mu.Unlock()
		sent++
		etag, err = putObject(ctx, r, name, data, "", false)
	}
	w.mu.Lock()
	o.pending--
	if err == nil {
		o.etag = etag
	}
	w.mu.Unlock()
	return sent, err
}

// fanGet sends one GET to each replica and returns once need succeeded (the
// others finish in the background, tracked by bg, as the coordinator lets its
// stragglers finish). It returns the number of GETs sent.
func fanGet(ctx context.Context, bg *sync.WaitGroup, reps []replica, name string, need int) (int, error) {
	ch := make(chan error, len(reps))
	bctx := context.WithoutCancel(ctx)
	for _, r := range reps {
		bg.Add(1)
		go func() {
			defer bg.Done()
			ch <- getObject(bctx, r, name)
		}()
	}
	return len(reps), waitFor(ch, len(reps), need)
}

// hedgedGet sends GETs to the first need replicas and, if they have not all
// answered after delay (or one failed), one to each of the others; it returns
// once need succeeded, with the number of GETs sent.
func hedgedGet(ctx context.Context, bg *sync.WaitGroup, reps []replica, name string, need int, delay time.Duration) (int, error) {
	ch := make(chan error, len(reps))
	bctx := context.WithoutCancel(ctx)
	launch := func(r replica) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			ch <- getObject(bctx, r, name)
		}()
	}
	for _, r := range reps[:need] {
		launch(r)
	}
	sent, ok, failed := need, 0, 0
	timer := time.NewTimer(delay)
	defer timer.Stop()
	hedge := func() {
		for _, r := range reps[sent:] {
			launch(r)
		}
		sent = len(reps)
	}
	var last error
	for ok < need {
		select {
		case err := <-ch:
			if err != nil {
				failed++
				last = err
				if sent < len(reps) {
					hedge()
				}
				if failed > sent-need && sent == len(reps) {
					return sent, last
				}
				continue
			}
			ok++
		case <-timer.C:
			if sent < len(reps) {
				hedge()
			}
		}
	}
	return sent, nil
}

// fanPut is the minimal correct replicated write: a conditional PUT at the
// first replica, then PUTs to the others in parallel, returning once need-1
// of those succeeded (the rest finish in the background). It returns the
// number of PUTs sent.
func fanPut(ctx context.Context, bg *sync.WaitGroup, w *rawWriter, reps []replica, name string, data []byte, need int) (int, error) {
	sent, err := w.put(ctx, reps[0], 0, name, data)
	if err != nil {
		return sent, err
	}
	type reply struct {
		n   int
		err error
	}
	ch := make(chan reply, len(reps))
	bctx := context.WithoutCancel(ctx)
	for i, r := range reps[1:] {
		bg.Add(1)
		go func() {
			defer bg.Done()
			n, err := w.put(bctx, r, i+1, name, data)
			ch <- reply{n, err}
		}()
	}
	// The PUT counts of the background writes are not known yet; each is one
	// PUT unless its condition lost (counted in rawWriter.conflicts).
	errs := make(chan error, len(reps))
	go func() {
		for range reps[1:] {
			errs <- (<-ch).err
		}
	}()
	return sent + len(reps) - 1, waitFor(errs, len(reps)-1, need-1)
}

// waitFor reads up to total results from ch until need succeeded; it fails
// once need can no longer be reached.
func waitFor(ch <-chan error, total, need int) error {
	ok, failed := 0, 0
	var last error
	for ok < need {
		err := <-ch
		if err != nil {
			failed++
			last = err
			if failed > total-need {
				return last
			}
			continue
		}
		ok++
	}
	return nil
}
