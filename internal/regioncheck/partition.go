package regioncheck

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Links are the network paths from one coordinator to the regions' storage
// endpoints: an HTTP client (for the coordinator's AWS config) whose
// connections to a blocked host fail, as a network partition would. It
// keeps no idle connection, so a cut applies to the next request; requests
// already in flight finish.
type Links struct {
	mu      sync.Mutex
	blocked map[string]bool // host:port
	refused atomic.Int64
}

// Refused is how many connections the links refused.
func (l *Links) Refused() int64 { return l.refused.Load() }

// errPartitioned is what a request over a cut link fails with.
var errPartitioned = errors.New("regioncheck: network partition")

// Client is an HTTP client over the links: the SDK's buildable client (so
// the SDK can still add its CA bundle), dialling through the links.
func (l *Links) Client() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithTransportOptions(func(tr *http.Transport) { tr.DisableKeepAlives = true }).
		WithDialerOptions(func(d *net.Dialer) {
			d.Control = func(_, address string, _ syscall.RawConn) error {
				if l.isBlocked(address) {
					l.refused.Add(1)
					return fmt.Errorf("dial %s: %w", address, errPartitioned)
				}
				return nil
			}
		})
}

// set blocks exactly the hosts of urls.
func (l *Links) set(urls []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blocked = map[string]bool{}
	for _, u := range urls {
		if p, err := url.Parse(u); err == nil {
			l.blocked[p.Host] = true
		}
	}
}

func (l *Links) isBlocked(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blocked[host]
}

// Isolate partitions region r from the others: its coordinator reaches
// only r's storage, and the other coordinators reach every region's but
// r's. The home region's services (membership, hints) stay reachable from
// every coordinator: the model partitions the data path only.
func (c *Cluster) Isolate(r int) {
	for i, l := range c.Links {
		var cut []string
		for j, p := range c.Proxies {
			if (i == r) != (j == r) {
				cut = append(cut, p.URL())
			}
		}
		l.set(cut)
	}
}

// Rejoin ends every partition.
func (c *Cluster) Rejoin() {
	for _, l := range c.Links {
		l.set(nil)
	}
}
