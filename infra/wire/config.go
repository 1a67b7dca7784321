package wire

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cartwheel/cartwheel/core/coordinator"
	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/core/repair"
	"github.com/cartwheel/cartwheel/infra/awsconf"
)

// Config is everything an entry point needs. Start from DefaultConfig or FromEnv.
type Config struct {
	// AWS says where the services are (real AWS, or a local endpoint).
	AWS awsconf.Config
	// Bucket holds every storage node created by Bootstrap, each under
	// "nodes/<id>/".
	Bucket string
	// Table is the DynamoDB membership table.
	Table string
	// QueueURL and DLQURL are the hint queue and its dead-letter queue. When
	// empty, Provision creates QueueName and DLQName and fills them in.
	QueueURL, DLQURL   string
	QueueName, DLQName string
	// Params are the replication parameters for a new cluster.
	Params kv.Params
	// Nodes and Zones shape the cluster Bootstrap creates: Nodes storage nodes
	// spread round-robin over Zones.
	Nodes int
	Zones []string
	// ZoneBuckets, when set, gives each zone its own bucket (an S3 Express
	// One Zone directory bucket in that AZ, zone = AZ id): Bootstrap puts a
	// node of zone z under "nodes/<id>/" in ZoneBuckets[z] instead of Bucket.
	// Every zone of Zones must have one. From CARTWHEEL_ZONE_BUCKETS
	// ("use1-az4=b1--use1-az4--x-s3,use1-az5=...").
	ZoneBuckets map[string]string
	// Faults enables run-time fault injection (admin API). Off in production.
	Faults bool
	// AllowedEndpoints are node endpoints (scheme://host[:port]) the admin
	// API accepts besides the S3 endpoints of the stack's partition and the
	// configured AWS endpoint. From CARTWHEEL_ALLOWED_ENDPOINTS (comma-separated).
	AllowedEndpoints []string
	// Coordinator tunes the coordinator.
	Coordinator coordinator.Config
	// Extension registers the API function's internal Lambda extension, which
	// keeps the execution environment from being frozen until the request's
	// background work is done (functions/lambdaext). Off only to measure or
	// demonstrate what it prevents.
	Extension bool
	// PostResponseBudget bounds how long the extension waits after a response
	// for its background work; what is left then goes to hinted handoff. The
	// environment stays billed meanwhile, and the function's timeout must
	// cover the handler plus this budget (template.yaml).
	PostResponseBudget time.Duration
	// Repair configures the repair job every entry point runs (transfers,
	// anti-entropy, hint delivery, reaping).
	Repair repair.Config
	// Health configures the health job's storage probes.
	Health HealthConfig
	// HintQueue is the hint queue's delivery settings, the same for the
	// local SQS queue Provision creates (localstack/setup included) and the
	// embedded store's queue (BuildLocal). The deployed queue's are
	// template.yaml's (HintMaxReceives, VisibilityTimeout).
	HintQueue HintQueueConfig
	// Wrap, if set, wraps the ports the coordinator and the repair job use
	// (above fault injection), e.g. to count their requests (make bench).
	Wrap func(Ports) Ports
}

// HealthConfig are the health job's settings.
type HealthConfig struct {
	// ProbeTimeout bounds one probe of a node's storage (one LIST).
	ProbeTimeout time.Duration
	// Pause separates the two probes a verdict needs, so one lost request
	// does not flap the ring.
	Pause time.Duration
}

// HintQueueConfig are a hint queue's delivery settings.
type HintQueueConfig struct {
	// Visibility is how long a received hint stays hidden before it comes
	// back unless delivered (whole seconds for SQS, Provision checks).
	Visibility time.Duration
	// MaxReceives is how many receives a hint gets before it moves to the
	// dead-letter queue.
	MaxReceives int
}

// DefaultConfig returns a local-development configuration: six nodes in
// three zones, N=3 R=2 W=2, resource names as created by localstack/up.
func DefaultConfig() Config {
	return Config{
		AWS:         awsconf.DefaultConfig(),
		Bucket:      "cartwheel-local",
		Table:       "cartwheel-membership",
		QueueName:   "cartwheel-hints",
		DLQName:     "cartwheel-hints-dlq",
		Params:      kv.DefaultParams(),
		Nodes:       6,
		Zones:       []string{"a", "b", "c"},
		Coordinator: coordinator.DefaultConfig(),
		Extension:   true,
		// One replica timeout: a straggler write gets the time it would
		// have had inside the request. Writes rarely need more than 100 ms.
		PostResponseBudget: 3 * time.Second,
		Repair:             repair.DefaultConfig(),
		Health: HealthConfig{
			ProbeTimeout: 3 * time.Second, // an S3 LIST answers in tens of ms; a dead node costs this
			Pause:        time.Second,     // two probes a second apart make a verdict
		},
		HintQueue: HintQueueConfig{
			Visibility:  30 * time.Second, // a hint the handoff could not deliver comes back after this
			MaxReceives: 20,               // then it is dead-lettered for an operator to redrive
		},
	}
}

// envValue sets *dst to getenv(name) parsed by parse, when the variable is
// set; a value that does not parse adds an error saying what was wanted.
func envValue[T any](getenv func(string) string, errs *[]error, name string, dst *T, parse func(string) (T, error), want string) {
	v := getenv(name)
	if v == "" {
		return
	}
	x, err := parse(v)
	if err != nil {
		*errs = append(*errs, fmt.Errorf("%s=%q: not %s", name, v, want))
		return
	}
	*dst = x
}

// FromEnv returns DefaultConfig overridden by the environment variables the
// SAM template sets: CARTWHEEL_BUCKET, CARTWHEEL_TABLE, CARTWHEEL_QUEUE_URL,
// CARTWHEEL_DLQ_URL, CARTWHEEL_N, CARTWHEEL_R, CARTWHEEL_W, CARTWHEEL_Q,
// CARTWHEEL_NODES, CARTWHEEL_ZONES (comma-separated), CARTWHEEL_FAULTS
// (true/false), CARTWHEEL_ALLOWED_ENDPOINTS, CARTWHEEL_LWW (true/false), CARTWHEEL_EXTENSION (true/false),
// CARTWHEEL_POST_RESPONSE_BUDGET, CARTWHEEL_SUSPEND_BOUND and
// CARTWHEEL_DEFAULT_TTL (Go durations), CARTWHEEL_HEDGE_QUANTILE (hedged
// reads: the delay as a quantile of observed read latency; 0 or unset: off),
// plus AWS_REGION and AWS_ENDPOINT_URL.
func FromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	c.AWS = awsconf.FromEnv()
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	var errs []error
	num := func(name string, dst *int) { envValue(getenv, &errs, name, dst, strconv.Atoi, "an integer") }
	flag := func(name string, dst *bool) { envValue(getenv, &errs, name, dst, strconv.ParseBool, "true/false") }
	str("CARTWHEEL_BUCKET", &c.Bucket)
	str("CARTWHEEL_TABLE", &c.Table)
	str("CARTWHEEL_QUEUE_URL", &c.QueueURL)
	str("CARTWHEEL_DLQ_URL", &c.DLQURL)
	num("CARTWHEEL_N", &c.Params.N)
	num("CARTWHEEL_R", &c.Params.R)
	num("CARTWHEEL_W", &c.Params.W)
	num("CARTWHEEL_Q", &c.Params.Q)
	num("CARTWHEEL_NODES", &c.Nodes)
	flag("CARTWHEEL_FAULTS", &c.Faults)
	flag("CARTWHEEL_LWW", &c.Params.LWW)
	flag("CARTWHEEL_ONE_ROUND_PUT", &c.Coordinator.OneRoundPut)
	flag("CARTWHEEL_EXTENSION", &c.Extension)
	dur := func(name string, dst *time.Duration) {
		envValue(getenv, &errs, name, dst, time.ParseDuration, "a duration (e.g. 3s)")
	}
	dur("CARTWHEEL_POST_RESPONSE_BUDGET", &c.PostResponseBudget)
	dur("CARTWHEEL_SUSPEND_BOUND", &c.Coordinator.SuspendBound)
	dur("CARTWHEEL_DEFAULT_TTL", &c.Coordinator.DefaultTTL)
	dur("CARTWHEEL_HEDGE_DELAY", &c.Coordinator.HedgeDelay)
	envValue(getenv, &errs, "CARTWHEEL_HEDGE_QUANTILE", &c.Coordinator.HedgeQuantile, func(v string) (float64, error) {
		q, err := strconv.ParseFloat(v, 64)
		if err == nil && !(q >= 0 && q < 1) {
			err = fmt.Errorf("out of range")
		}
		return q, err
	}, "a quantile in [0, 1) (0: no hedged reads or writes)")
	if v := getenv("CARTWHEEL_ZONES"); v != "" {
		c.Zones = nil
		for _, z := range strings.Split(v, ",") {
			if z = strings.TrimSpace(z); z != "" {
				c.Zones = append(c.Zones, z)
			}
		}
	}
	for _, e := range strings.Split(getenv("CARTWHEEL_ALLOWED_ENDPOINTS"), ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			errs = append(errs, fmt.Errorf("CARTWHEEL_ALLOWED_ENDPOINTS: %q is not a base URL (http(s)://host[:port])", e))
			continue
		}
		c.AllowedEndpoints = append(c.AllowedEndpoints, e)
	}
	if v := getenv("CARTWHEEL_ZONE_BUCKETS"); v != "" {
		zb, err := parseZoneBuckets(v)
		if err != nil {
			errs = append(errs, err)
		}
		c.ZoneBuckets = zb
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("wire: %w", err)
	}
	return c, c.Validate()
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if err := c.AWS.Validate(); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	if err := c.Params.Validate(); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	if err := c.Coordinator.Validate(); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	if err := c.Repair.Validate(); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	switch {
	case c.HintQueue.Visibility <= 0 || c.HintQueue.MaxReceives < 1:
		return fmt.Errorf("wire: hint queue visibility %s must be > 0 and max receives %d >= 1", c.HintQueue.Visibility, c.HintQueue.MaxReceives)
	case c.Health.ProbeTimeout <= 0 || c.Health.Pause < 0:
		return fmt.Errorf("wire: health probe timeout %s must be > 0 and pause %s >= 0", c.Health.ProbeTimeout, c.Health.Pause)
	case c.Bucket == "":
		return errors.New("wire: bucket is required")
	case c.Table == "":
		return errors.New("wire: table is required")
	case c.QueueURL == "" && c.QueueName == "":
		return errors.New("wire: a queue URL or name is required")
	case c.Nodes < 1 || c.Nodes > 256:
		return fmt.Errorf("wire: nodes=%d must be in [1, 256]", c.Nodes)
	case len(c.Zones) == 0:
		return errors.New("wire: at least one zone is required")
	case c.PostResponseBudget < 0:
		return fmt.Errorf("wire: post-response budget %s must be >= 0", c.PostResponseBudget)
	}
	if c.ZoneBuckets != nil {
		for _, z := range c.Zones {
			if c.ZoneBuckets[z] == "" {
				return fmt.Errorf("wire: zone %q has no bucket in the zone buckets", z)
			}
		}
	}
	return nil
}
