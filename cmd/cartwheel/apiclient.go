// The CLI's API client: a client.Client whose transport signs requests, the
// per-key context cache, and the admin calls.

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	api "github.com/cartwheel/cartwheel/client"
)

// client talks to a Cartwheel HTTP API through a client.Client.
type client struct {
	api   *api.Client
	base  string
	cache string // context cache directory ("" disables)
	sign  string // when to sign requests with SigV4: auto, always, never
}

type globalOptions struct {
	url     string
	noCache bool
	timeout time.Duration
	sign    string
}

// client builds the API client of the global options: requests time out
// after --timeout and are signed as --sign (and $CARTWHEEL_JWT) say.
func (g *globalOptions) client() *client {
	c := &client{base: strings.TrimRight(g.url, "/"), sign: g.sign}
	hc := &http.Client{Timeout: g.timeout, Transport: signingTransport{base: http.DefaultTransport, mode: g.sign}}
	c.api = api.New(c.base).WithHTTPClient(hc)
	if !g.noCache {
		if dir, err := os.UserCacheDir(); err == nil {
			c.cache = filepath.Join(dir, "cartwheel", "contexts")
		}
	}
	return c
}

// ready checks what every request needs before it is sent: --url an http(s)
// URL with a host, and --sign a known mode (exit 2 otherwise).
func (c *client) ready() error {
	u, err := checkURL(c.base)
	if err != nil {
		return err
	}
	if _, err := needsSigning(c.sign, u); err != nil {
		return fail(exitUsage, "%v", err)
	}
	return nil
}

// do sends one raw request (client.Do), for the answers whose headers or raw
// body a command needs; only a request that got no answer is an error.
func (c *client) do(method, path string, query url.Values, body []byte, headers map[string]string) (*http.Response, []byte, error) {
	if err := c.ready(); err != nil {
		return nil, nil, err
	}
	resp, b, err := c.api.Do(context.Background(), method, path, query, body, headers)
	if err != nil {
		return nil, nil, cliError(err)
	}
	return resp, b, nil
}

// adminCall sends an admin request and prints the JSON answer indented.
func adminCall(cmd *cobra.Command, g *globalOptions, method, path string, body any) error {
	rb, err := adminJSON(g, method, path, body)
	if err != nil || len(rb) == 0 {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, rb, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(rb)
	}
	pretty.WriteByte('\n')
	_, err = cmd.OutOrStdout().Write(pretty.Bytes())
	return err
}

// adminJSON sends an admin request and returns the answer's body; an error
// status becomes an exit error.
func adminJSON(g *globalOptions, method, path string, body any) ([]byte, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, fail(exitUsage, "%v", err)
		}
	}
	resp, rb, err := g.client().do(method, path, nil, b, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, apiError(resp, rb)
	}
	return rb, nil
}

// The context cache: the context of the last get or put of each key (per
// API URL), so a put supersedes what the user saw.

func (c *client) cacheFile(key string) string {
	if c.cache == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(c.base + "\x00" + key))
	return filepath.Join(c.cache, hex.EncodeToString(sum[:16]))
}

func (c *client) savedContext(key string) string {
	f := c.cacheFile(key)
	if f == "" {
		return ""
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// forgetContext drops key's cached context.
func (c *client) forgetContext(key string) {
	if f := c.cacheFile(key); f != "" {
		_ = os.Remove(f)
	}
}

func (c *client) saveContext(key, ctx string) {
	f := c.cacheFile(key)
	if f == "" || ctx == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err == nil {
		_ = os.WriteFile(f, []byte(ctx+"\n"), 0o600)
	}
}
