package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cartwheel/cartwheel/client"
	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/kv/kvmem"
	"github.com/cartwheel/cartwheel/core/membership"
	"github.com/cartwheel/cartwheel/functions/httpapi"
)

// server runs the real handler over HTTP on the in-memory ports.
func server(t *testing.T) (*client.Client, *coordinator.Coordinator) {
	t.Helper()
	members := kvmem.NewMembership()
	var nodes []kv.Node
	for i, z := range []string{"a", "b", "c", "a", "b"} {
		id := string(rune('1' + i))
		nodes = append(nodes, kv.Node{ID: "n" + id, Zone: z, Weight: 1, Location: kv.Location{Bucket: "b", Prefix: "n" + id + "/"}})
	}
	p := kv.DefaultParams()
	p.Q = 64
	c, err := membership.Bootstrap(p, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := members.Save(context.Background(), c, 0); err != nil {
		t.Fatal(err)
	}
	var n atomic.Uint64
	co, err := coordinator.New(coordinator.DefaultConfig(), coordinator.Deps{
		Store: kvmem.NewStore(), Hints: kvmem.NewHintQueue(50*time.Millisecond, 10), Members: members,
		Now: time.Now, Rand: func() uint64 { return n.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.New(httpapi.Deps{Coord: co, Members: members, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(&httpapi.Local{H: h})
	t.Cleanup(srv.Close)
	return client.New(srv.URL), co
}

func values(v client.Versions) []string {
	var out []string
	for _, s := range v.Siblings {
		out = append(out, string(s.Value))
	}
	sort.Strings(out)
	return out
}

// TestClientAgainstTheServer: the client speaks the server's format: gets,
// puts with the context a put returned, siblings, conditions, returnbody,
// errors as sentinels.
func TestClientAgainstTheServer(t *testing.T) {
	ctx := context.Background()
	c, co := server(t)
	if _, err := c.Get(ctx, "cart", client.Options{}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	a, err := c.Put(ctx, "cart", "", []byte("apple"), "text/plain", client.Options{IfNoneMatch: true})
	if err != nil || a.Context == "" {
		t.Fatalf("create: %+v %v", a, err)
	}
	if _, err := c.Put(ctx, "cart", "", []byte("x"), "text/plain", client.Options{IfNoneMatch: true}); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Fatalf("create again: %v", err)
	}
	co.Wait()
	if _, err := c.Put(ctx, "cart", "", []byte("fig"), "text/plain", client.Options{}); err != nil { // another client, blind
		t.Fatal(err)
	}
	co.Wait()
	b, err := c.Put(ctx, "cart", a.Context, []byte("apple,pear"), "text/plain", client.Options{ReturnBody: true, W: "all"})
	if err != nil || !slices.Equal(values(b), []string{"apple,pear", "fig"}) || b.ETag == "" {
		t.Fatalf("returnbody: %+v %v", b, err)
	}
	co.Wait()
	g, err := c.Get(ctx, "cart", client.Options{R: "all", PR: "quorum"})
	if err != nil || !slices.Equal(values(g), []string{"apple,pear", "fig"}) || g.Siblings[0].ContentType != "text/plain" || g.ETag != b.ETag {
		t.Fatalf("get: %+v %v", g, err)
	}
	if nm, err := c.Get(ctx, "cart", client.Options{ETag: g.ETag}); !errors.Is(err, client.ErrNotModified) || nm.ETag != g.ETag || nm.Context == "" || nm.Siblings != nil {
		t.Fatalf("unchanged get with the ETag: %+v %v", nm, err)
	}
	if _, err := c.Put(ctx, "cart", g.Context, []byte("merged"), "text/plain", client.Options{IfMatch: true}); err != nil {
		t.Fatalf("compare-and-set: %v", err)
	}
	co.Wait()
	if _, err := c.Delete(ctx, "cart", g.Context, client.Options{IfMatch: true}); !errors.Is(err, client.ErrPreconditionFailed) {
		t.Fatalf("stale compare-and-set delete: %v", err)
	}
	if v, err := c.Get(ctx, "cart", client.Options{ETag: g.ETag}); err != nil || !slices.Equal(values(v), []string{"merged"}) {
		t.Fatalf("changed get with the old ETag: %+v %v", v, err)
	}
	var e *client.Error
	if err := c.Call(ctx, "GET", "/admin/nope", nil, nil); !errors.As(err, &e) || e.Status != 404 || len(e.Raw) == 0 {
		t.Fatalf("admin call of an unknown route: %v", err)
	}
	if _, err := c.Get(ctx, "cart", client.Options{R: "9"}); !errors.As(err, &e) || e.Status != 400 || e.Body.Code != client.CodeBadRequest {
		t.Fatalf("bad r: %v", err)
	}
}
