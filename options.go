package memerr

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Option configures a Transport or a Client. Every option's default is
// written in its doc comment.
type Option func(*config)

type config struct {
	vendor         Vendor
	hostVendors    map[string]Vendor
	maxRetries     int
	backoffMin     time.Duration
	backoffMax     time.Duration
	maxRetryWait   time.Duration
	budget         *RetryBudget // shared by every scope when set by WithRetryBudget
	budgetSet      bool
	breaker        BreakerSettings
	breakerScope   func(*http.Request) string
	attemptTimeout time.Duration
	noBreaker      bool
	maxErrorBody   int64
	maxReplayBody  int64
	logger         *slog.Logger
	hooks          Hooks
	fleet          Fleet
	quotaURLs      map[string]Quota  // WithQuota's, by URL
	quotas         map[string]*Quota // by scope key, once resolved
	limiter        Limiter
	base           http.RoundTripper
	header         http.Header
}

// Defaults of the options.
const (
	DefaultMaxRetries    = 3
	DefaultBackoffMin    = 250 * time.Millisecond
	DefaultBackoffMax    = 8 * time.Second
	DefaultMaxRetryWait  = 30 * time.Second
	DefaultMaxReplayBody = 8 << 20

	// DefaultMaxIdleConnsPerHost is the idle connections per host kept by
	// the base transport NewTransport makes when given none (net/http's
	// default is 2).
	DefaultMaxIdleConnsPerHost = 64
)

func newConfig(opts []Option) config {
	c := config{
		maxRetries:    DefaultMaxRetries,
		backoffMin:    DefaultBackoffMin,
		backoffMax:    DefaultBackoffMax,
		maxRetryWait:  DefaultMaxRetryWait,
		maxErrorBody:  DefaultMaxErrorBody,
		maxReplayBody: DefaultMaxReplayBody,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	c.breaker = c.breaker.withDefaults()
	c.resolveQuotas()
	if c.backoffMax < c.backoffMin {
		c.backoffMax = c.backoffMin
	}
	return c
}

// WithVendor decodes every response as v's envelope. Default: Auto, detect
// the vendor from each response.
func WithVendor(v Vendor) Option { return func(c *config) { c.vendor = v } }

// vendorFor is the vendor configured for u's host: WithHostVendor's, else
// WithVendor's.
func (c *config) vendorFor(u *url.URL) Vendor {
	if len(c.hostVendors) > 0 {
		// strings.ToLower makes no copy of a name in lower case already.
		if v, ok := c.hostVendors[strings.ToLower(u.Host)]; ok {
			return v
		}
		if v, ok := c.hostVendors[strings.ToLower(u.Hostname())]; ok {
			return v
		}
	}
	return c.vendor
}

// WithHostVendor decodes responses from host ("api.coze.cn", or with a port
// "localhost:8080") as v's envelope; other hosts use WithVendor's vendor.
// Host names are compared without regard to case; a host given without a
// port matches it on any port. May be given several times.
func WithHostVendor(host string, v Vendor) Option {
	return func(c *config) {
		if c.hostVendors == nil {
			c.hostVendors = map[string]Vendor{}
		}
		c.hostVendors[strings.ToLower(host)] = v
	}
}

// WithMaxRetries sets how many times a failed request is retried, so a
// request is sent at most n+1 times. Default 3; 0 disables retries; a
// negative n means 0.
func WithMaxRetries(n int) Option {
	return func(c *config) { c.maxRetries = max(0, n) }
}

// WithBackoff sets the exponential backoff used when the server gives no
// wait hint: the k-th retry waits a random time between min and min·2^k,
// capped at max (the first, between min and 2·min). Defaults 250ms and 8s.
// Non-positive values keep the default.
func WithBackoff(min, max time.Duration) Option {
	return func(c *config) {
		if min > 0 {
			c.backoffMin = min
		}
		if max > 0 {
			c.backoffMax = max
		}
	}
}

// WithMaxRetryWait sets the longest server wait hint (Retry-After and the
// like) the transport waits out. A longer hint is not waited for: the last
// response is returned at once and its *Error carries RetryAfter. Default 30s.
func WithMaxRetryWait(d time.Duration) Option {
	return func(c *config) {
		if d >= 0 {
			c.maxRetryWait = d
		}
	}
}

// WithRetryBudget shares b between every request of the transport, whatever
// its breaker scope (several transports may share one). nil disables the
// budget. Default: each breaker scope (each host, unless WithBreakerScope
// narrows it) has a NewRetryBudget(500, 5) of its own, so an outage at one
// vendor does not spend another's retries.
func WithRetryBudget(b *RetryBudget) Option {
	return func(c *config) { c.budget, c.budgetSet = b, true }
}

// WithBreaker sets the per-host circuit breaker settings; zero fields keep
// the defaults documented on BreakerSettings. Breakers are on by default.
func WithBreaker(s BreakerSettings) Option {
	return func(c *config) { c.breaker, c.noBreaker = s, false }
}

// WithoutBreaker disables the circuit breakers.
func WithoutBreaker() Option { return func(c *config) { c.noBreaker = true } }

// WithMaxErrorBody sets how many bytes of an error body are read to decode
// it; any positive value works, math.MaxInt64 included (the body's own end
// then bounds it). Default DefaultMaxErrorBody (1 MiB); n ≤ 0 keeps it.
func WithMaxErrorBody(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxErrorBody = n
		}
	}
}

// WithBreakerScope keys breakers and retry budgets by scope(req) instead of
// by host, for example by host and path when one endpoint of an API fails
// on its own. An empty key means the host's scope. scope runs on every
// request and must be quick. Default: one scope per scheme://host:port,
// host names compared without case.
func WithBreakerScope(scope func(*http.Request) string) Option {
	return func(c *config) { c.breakerScope = scope }
}

// WithAttemptTimeout bounds each attempt, from sending to the response
// headers and the read-ahead of its body: of a 2xx body whose first bytes
// confirm it a success, those bytes only; the rest is read by the caller,
// as a body larger than PeekLimit is. An attempt that times out counts
// as a breaker failure and is retried like a network error, within the
// caller's own deadline; the caller's cancellation counts as neither.
// Default 0: no bound but the caller's context.
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *config) { c.attemptTimeout = max(0, d) }
}

// WithMaxReplayBody sets how much of a request body without GetBody is
// buffered so the request can be retried; a larger body is sent once, never
// retried. Bodies with GetBody (those of http.NewRequest from bytes or
// strings) are never buffered. A request whose context ends while its body
// is buffered fails at once with the context's error, its body closed. Any value ≥ 0 works, math.MaxInt64
// included. Default 8 MiB; a negative n keeps it.
func WithMaxReplayBody(n int64) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxReplayBody = n
		}
	}
}

// WithLogger logs each retry (method, URL without query or credentials,
// status, vendor code, the vendor's request id when it sent one, attempt,
// wait) at Info level and each breaker state
// change at Warn level; at Debug level, why a failed attempt is not
// retried ("retries exhausted", "retry budget exhausted", "wait would pass
// the context deadline" ...); at Error level, a hook that panicked (see
// Hooks). Default: nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithHooks sets callbacks for attempts, retries and breaker changes.
// Default: none.
func WithHooks(h Hooks) Option { return func(c *config) { c.hooks = h } }

// WithBaseTransport sets the transport that sends each attempt, for
// NewClient. Default: a clone of http.DefaultTransport. (NewTransport takes
// its base as an argument; a non-nil argument wins over this option.)
func WithBaseTransport(rt http.RoundTripper) Option { return func(c *config) { c.base = rt } }

// WithHeader adds a header to every request Client.Do and Client.DoJSON
// send (for example the Authorization header), unless the request sets that
// header itself. Requests sent through Client.HTTPClient or a bare
// Transport do not get it. Default: none.
func WithHeader(key, value string) Option {
	return func(c *config) {
		if c.header == nil {
			c.header = http.Header{}
		}
		c.header.Add(key, value)
	}
}

// Hooks are callbacks run synchronously on the request's goroutine; they
// must be quick and must not block. They may call Transport.BreakerState.
// A hook that panics does not break the request or the transport: the
// panic is recovered and logged at Error level through WithLogger's logger
// (if any), and later events still reach every hook.
type Hooks struct {
	// OnRetry runs before the wait that precedes each retry.
	OnRetry func(RetryEvent)
	// OnBreakerChange runs when a scope's breaker changes state, after the
	// change (never under the breaker's lock).
	OnBreakerChange func(BreakerChange)
	// OnAttempt runs after each attempt, the first included, once its
	// outcome is known (before any wait for the next one).
	OnAttempt func(AttemptEvent)
}

// AttemptEvent describes one attempt that was sent, or refused by an open
// breaker.
type AttemptEvent struct {
	Method     string        // the request's method
	URL        string        // scheme://host/path: never a query or credentials
	Host       string        // the breaker scope: scheme://host:port unless WithBreakerScope says otherwise
	Attempt    int           // from 1
	StatusCode int           // 0 when no response was obtained
	Duration   time.Duration // from the breaker check to the response headers and any read-ahead of its body (or the error)
	Waited     time.Duration // waited before the breaker check: a hold an earlier response of the scope (or the fleet) set, or the scope's quota; 0 if none
	Err        error         // nil on success; the decoded *Error of a failed response; else the network or breaker error
	RequestID  string        // the vendor's request id: the decoded error's, else a response header's (X-Tt-Logid, X-Request-Id ...)

	// Vendor is the vendor configured for the host (WithVendor,
	// WithHostVendor), Auto if none; a decoded failure names its own in Err.
	Vendor Vendor
	// Context is the attempt's context, which carries the caller's values
	// (such as its trace span).
	Context context.Context
}

// RetryEvent describes a retry about to happen.
type RetryEvent struct {
	Method     string        // the request's method
	URL        string        // scheme://host/path: never a query or credentials
	Attempt    int           // the attempt that failed, from 1
	Wait       time.Duration // the wait before the next attempt
	StatusCode int           // 0 after a network error
	Err        error         // the *Error of the failed response, or the network error

	// Context is the request's context, the caller's: its values (such as
	// its trace span) are there.
	Context context.Context
}

// BreakerChange describes a breaker state change.
type BreakerChange struct {
	Host     string       // the breaker scope: scheme://host:port unless WithBreakerScope says otherwise
	From, To CircuitState // the state before and after the change

	// Until, when To is CircuitOpen, is when the open period ends: from
	// then on the breaker is half-open, which is reported (a change to
	// CircuitHalfOpen) only when the next request to the scope comes.
	// Zero for other changes.
	Until time.Time
}
