// Package storetest holds one conformance suite per kv port. Every
// implementation (the AWS adapters on each backend of awstest, the in-memory
// ones in core/kv/kvmem, and the durable embedded ones in infra/localstore)
// runs the same suite, so they cannot drift apart. Each subtest gets a fresh instance from the constructor it is given.
//
// The suites only rely on the contracts documented on the ports in core/kv,
// plus the adapter conventions stated here (ETags are S3's quoted hex MD5; List
// treats a limit outside [1, 1000] as 1000; Enqueue rejects incomplete hints).
package storetest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/core/kv"
)

// timeout bounds each subtest's calls; polling loops end well before it.
const timeout = 60 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every 20 ms until it holds or within passes, then
// fails the test with what. It is for approximate counters (SQS queue depths),
// not for ordering events.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, got := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v; last: %s", what, within, got)
		}
		<-tick.C
	}
}

// etagOf is S3's ETag of a single-part object.
func etagOf(data []byte) string {
	s := md5.Sum(data)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// ReplicaStore runs the kv.ReplicaStore conformance suite. newStore returns a
// store and an empty location of its own (a fresh bucket, or a fresh prefix
// ending in "/"); objects outside that location are not touched except under
// a sibling prefix (loc.Prefix without its trailing "/" plus "-sibling/").
func ReplicaStore(t *testing.T, newStore func(t *testing.T) (kv.ReplicaStore, kv.Location)) {
	replicaStore(t, newStore, true)
}

// ReplicaStoreWithoutRaces is ReplicaStore without the concurrent
// conditional-write races, for a backend known not to make them atomic
// (awstest.Backend.NonAtomicConditionalWrites): they would test the
// emulator, not the adapter.
func ReplicaStoreWithoutRaces(t *testing.T, newStore func(t *testing.T) (kv.ReplicaStore, kv.Location)) {
	replicaStore(t, newStore, false)
}

// replicaStore runs the suite; races adds the concurrent conditional-write
// cases (atomicity is the backend's, checked once per backend).
func replicaStore(t *testing.T, newStore func(t *testing.T) (kv.ReplicaStore, kv.Location), races bool) {
	t.Run("GetMissing", func(t *testing.T) {
		s, loc := newStore(t)
		_, err := s.Get(testCtx(t), loc, "data/missing")
		if !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get missing: got %v, want ErrNotFound", err)
		}
	})

	t.Run("CreateGet", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		data := []byte("hello replica")
		etag, err := s.Put(ctx, loc, "data/k1", data, "node-a:7", "")
		if err != nil {
			t.Fatalf("Put create: %v", err)
		}
		if etag != etagOf(data) {
			t.Fatalf("Put ETag = %s, want quoted hex MD5 %s", etag, etagOf(data))
		}
		mustGet(ctx, t, s, loc, "data/k1", data, etag, "node-a:7")
	})

	t.Run("CreateExistingFails", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		etag := mustPut(ctx, t, s, loc, "data/k", []byte("v1"), "a", "")
		_, err := s.Put(ctx, loc, "data/k", []byte("v2"), "b", "")
		if !errors.Is(err, kv.ErrPrecondition) {
			t.Fatalf("second create: got %v, want ErrPrecondition", err)
		}
		// Same bytes again must also lose: create-only means no object at all.
		_, err = s.Put(ctx, loc, "data/k", []byte("v1"), "a", "")
		if !errors.Is(err, kv.ErrPrecondition) {
			t.Fatalf("second create with identical bytes: got %v, want ErrPrecondition", err)
		}
		mustGet(ctx, t, s, loc, "data/k", []byte("v1"), etag, "a")
	})

	t.Run("IfMatch", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		e1 := mustPut(ctx, t, s, loc, "data/k", []byte("v1"), "a", "")
		e2 := mustPut(ctx, t, s, loc, "data/k", []byte("v2"), "b", e1)
		if e2 != etagOf([]byte("v2")) {
			t.Fatalf("If-Match put ETag = %s, want %s", e2, etagOf([]byte("v2")))
		}
		mustGet(ctx, t, s, loc, "data/k", []byte("v2"), e2, "b")
		_, err := s.Put(ctx, loc, "data/k", []byte("v3"), "c", e1) // stale
		if !errors.Is(err, kv.ErrPrecondition) {
			t.Fatalf("stale If-Match: got %v, want ErrPrecondition", err)
		}
		mustGet(ctx, t, s, loc, "data/k", []byte("v2"), e2, "b")
		// Rewriting identical bytes with a new actor: same ETag, new actor.
		e3 := mustPut(ctx, t, s, loc, "data/k", []byte("v2"), "d", e2)
		if e3 != e2 {
			t.Fatalf("identical bytes changed the ETag: %s -> %s", e2, e3)
		}
		mustGet(ctx, t, s, loc, "data/k", []byte("v2"), e2, "d")
	})

	t.Run("IfMatchMissingFails", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		_, err := s.Put(ctx, loc, "data/none", []byte("v"), "a", etagOf([]byte("v")))
		if !errors.Is(err, kv.ErrPrecondition) {
			t.Fatalf("If-Match on a missing object: got %v, want ErrPrecondition", err)
		}
		if _, err := s.Get(ctx, loc, "data/none"); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("after failed If-Match put: Get got %v, want ErrNotFound", err)
		}
	})

	t.Run("BodiesAndActors", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		binary := make([]byte, 256)
		for i := range binary {
			binary[i] = byte(i)
		}
		big := []byte(strings.Repeat("0123456789abcdef", 64<<10/16)) // 64 KiB
		for name, c := range map[string]struct {
			data  []byte
			actor string
		}{
			"data/empty":  {nil, "n1"},
			"data/binary": {binary, "Node_B-2.inc9"},
			"data/big":    {big, "n3"},
			"data/noact":  {[]byte("x"), ""},
		} {
			etag := mustPut(ctx, t, s, loc, name, c.data, c.actor, "")
			mustGet(ctx, t, s, loc, name, c.data, etag, c.actor)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		mustPut(ctx, t, s, loc, "data/k", []byte("v"), "a", "")
		if err := s.Delete(ctx, loc, "data/k", ""); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(ctx, loc, "data/k"); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get after Delete: got %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, loc, "data/k", ""); err != nil {
			t.Fatalf("Delete missing: %v, want nil", err)
		}
		if err := s.Delete(ctx, loc, "data/k", etagOf([]byte("v"))); err != nil {
			t.Fatalf("Delete missing with If-Match: %v, want nil", err)
		}
		// A deleted object can be created again.
		mustPut(ctx, t, s, loc, "data/k", []byte("v"), "a", "")
	})

	t.Run("DeleteIfMatch", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		e1 := mustPut(ctx, t, s, loc, "data/k", []byte("v1"), "a", "")
		e2 := mustPut(ctx, t, s, loc, "data/k", []byte("v2"), "a", e1)
		err := s.Delete(ctx, loc, "data/k", e1)
		if !errors.Is(err, kv.ErrPrecondition) {
			t.Fatalf("Delete with stale If-Match: got %v, want ErrPrecondition", err)
		}
		mustGet(ctx, t, s, loc, "data/k", []byte("v2"), e2, "a")
		if err := s.Delete(ctx, loc, "data/k", e2); err != nil {
			t.Fatalf("Delete with current If-Match: %v", err)
		}
		if _, err := s.Get(ctx, loc, "data/k"); !errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Get after conditional Delete: got %v, want ErrNotFound", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		names := []string{"data/b", "data/a", "data/d/e", "data/c", "data/bb", "meta/x", "datax"}
		etags := map[string]string{}
		for _, n := range names {
			etags[n] = mustPut(ctx, t, s, loc, n, []byte("body of "+n), "a", "")
		}
		if strings.HasSuffix(loc.Prefix, "/") {
			sib := loc
			sib.Prefix = strings.TrimSuffix(loc.Prefix, "/") + "-sibling/"
			mustPut(ctx, t, s, sib, "data/zz", []byte("sibling"), "a", "")
			t.Cleanup(func() { _ = s.Delete(context.Background(), sib, "data/zz", "") })
		}
		sorted := append([]string(nil), names...)
		sort.Strings(sorted)

		check := func(what string, got []kv.Listed, more bool, want []string, wantMore bool) {
			t.Helper()
			var gotNames []string
			for _, l := range got {
				gotNames = append(gotNames, l.Name)
				if l.ETag != etags[l.Name] {
					t.Errorf("%s: %s listed with ETag %s, put returned %s", what, l.Name, l.ETag, etags[l.Name])
				}
			}
			if !reflect.DeepEqual(gotNames, want) || more != wantMore {
				t.Fatalf("%s: got %q more=%v, want %q more=%v", what, gotNames, more, want, wantMore)
			}
		}
		got, more, err := s.List(ctx, loc, "data/", "", 100)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		check("prefix data/", got, more, []string{"data/a", "data/b", "data/bb", "data/c", "data/d/e"}, false)

		got, more, err = s.List(ctx, loc, "", "", 0)
		if err != nil {
			t.Fatalf("List all: %v", err)
		}
		check("whole location, limit 0", got, more, sorted, false)

		got, more, err = s.List(ctx, loc, "data/", "", 2)
		if err != nil {
			t.Fatalf("List page 1: %v", err)
		}
		check("page 1", got, more, []string{"data/a", "data/b"}, true)
		got, more, err = s.List(ctx, loc, "data/", "data/b", 2)
		if err != nil {
			t.Fatalf("List page 2: %v", err)
		}
		check("page 2", got, more, []string{"data/bb", "data/c"}, true)
		got, more, err = s.List(ctx, loc, "data/", "data/c", 2)
		if err != nil {
			t.Fatalf("List page 3: %v", err)
		}
		check("page 3", got, more, []string{"data/d/e"}, false)

		got, more, err = s.List(ctx, loc, "data/", "data/ba", 100)
		if err != nil {
			t.Fatalf("List startAfter between keys: %v", err)
		}
		check("startAfter data/ba", got, more, []string{"data/bb", "data/c", "data/d/e"}, false)

		got, more, err = s.List(ctx, loc, "data/", "data/zzz", 100)
		if err != nil {
			t.Fatalf("List startAfter past the end: %v", err)
		}
		check("startAfter past the end", got, more, nil, false)

		got, more, err = s.List(ctx, loc, "nothing/", "", 100)
		if err != nil {
			t.Fatalf("List empty prefix: %v", err)
		}
		check("no match", got, more, nil, false)

		// Paging one at a time visits every object once, in order.
		var all []string
		after := ""
		for i := 0; ; i++ {
			if i > len(names) {
				t.Fatalf("paging did not end after %d pages", i)
			}
			page, more, err := s.List(ctx, loc, "", after, 1)
			if err != nil {
				t.Fatalf("List paging: %v", err)
			}
			for _, l := range page {
				all = append(all, l.Name)
				after = l.Name
			}
			if !more {
				break
			}
		}
		if !reflect.DeepEqual(all, sorted) {
			t.Fatalf("paging by 1: got %q, want %q", all, sorted)
		}
	})

	if !races {
		return
	}
	t.Run("ConcurrentCreateOneWins", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		const n = 8
		wins := race(n, func(i int) error {
			_, err := s.Put(ctx, loc, "data/race", []byte(fmt.Sprintf("writer %d", i)), fmt.Sprint("w", i), "")
			return err
		}, t)
		if wins != 1 {
			t.Fatalf("%d of %d concurrent creates won, want exactly 1", wins, n)
		}
	})

	t.Run("ConcurrentIfMatchOneWins", func(t *testing.T) {
		s, loc := newStore(t)
		ctx := testCtx(t)
		base := mustPut(ctx, t, s, loc, "data/race", []byte("base"), "a", "")
		const n = 8
		wins := race(n, func(i int) error {
			_, err := s.Put(ctx, loc, "data/race", []byte(fmt.Sprintf("writer %d", i)), fmt.Sprint("w", i), base)
			return err
		}, t)
		if wins != 1 {
			t.Fatalf("%d of %d concurrent If-Match puts won, want exactly 1", wins, n)
		}
	})
}

// race runs f(0..n-1) concurrently and returns how many returned nil; every
// other result must wrap kv.ErrPrecondition.
func race(n int, f func(i int) error, t *testing.T) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, kv.ErrPrecondition):
			t.Errorf("writer %d: %v, want nil or ErrPrecondition", i, err)
		}
	}
	return wins
}

func mustPut(ctx context.Context, t *testing.T, s kv.ReplicaStore, loc kv.Location, name string, data []byte, actor, ifMatch string) string {
	t.Helper()
	etag, err := s.Put(ctx, loc, name, data, actor, ifMatch)
	if err != nil {
		t.Fatalf("Put %s (if-match %q): %v", name, ifMatch, err)
	}
	return etag
}

func mustGet(ctx context.Context, t *testing.T, s kv.ReplicaStore, loc kv.Location, name string, data []byte, etag, actor string) {
	t.Helper()
	b, err := s.Get(ctx, loc, name)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	if string(b.Data) != string(data) || b.ETag != etag || b.Actor != actor {
		t.Fatalf("Get %s = (%d bytes, etag %s, actor %q), want (%d bytes, etag %s, actor %q)",
			name, len(b.Data), b.ETag, b.Actor, len(data), etag, actor)
	}
}
