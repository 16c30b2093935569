package memerrotel

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memerr/memerr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/memerr/memerr/otel"

// Instrumentation records memerr's metrics and span events through
// OpenTelemetry. Its Hooks see every attempt, retry and breaker change of a
// memerr.Transport; its Wrap sees each whole request. Use both on the same
// Transport (see the package example). It is safe for concurrent use, and
// one Instrumentation may serve several Transports.
type Instrumentation struct {
	attempts    metric.Int64Counter
	duration    metric.Float64Histogram
	retries     metric.Int64Counter
	retryWait   metric.Float64Histogram
	holdWait    metric.Float64Histogram
	transitions metric.Int64Counter
	reg         metric.Registration

	tracer trace.Tracer // nil: spans are only the caller's
	header string       // the correlation header; "" sends none
	budget *memerr.RetryBudget
	holds  func() int // the fleet's active holds; nil reports none

	// sets maps each attribute combination seen to its measurement
	// options, built once, so that recording allocates nothing. It is
	// copied on write: combinations are few (codes come from the registry)
	// and soon all known.
	sets atomic.Pointer[map[attrKey]*measureOpts]

	mu       sync.Mutex                       // guards writes of sets, and circuits
	circuits map[circuit]memerr.BreakerChange // each breaker's last change
	hookSets atomic.Uint64                    // Hooks calls so far: each Transport's breakers are told apart
}

// circuit names one breaker: its scope, in the Transport whose hooks are
// the set-th Hooks call. Several Transports may call the same scope, each
// with a breaker of its own.
type circuit struct {
	set   uint64
	scope string
}

// Option configures New. Every option's default is written in its doc
// comment.
type Option func(*config)

type config struct {
	mp     metric.MeterProvider
	tp     trace.TracerProvider
	header string
	budget *memerr.RetryBudget
	holds  func() int
}

// WithMeterProvider sets the MeterProvider the instruments come from.
// Default: the global one, otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider makes Wrap start a client span from tp for a request
// whose context has no recording span, so that its events have a span to
// go on. Default: none is started; events go on the caller's span (such as
// otelhttp's) when it is recording, and nowhere otherwise. (Asking even a
// no-op provider for a span costs two allocations a request, so it is not
// done unless asked for.)
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithRequestIDHeader makes Wrap send, on every request that does not
// already carry header, a correlation id the vendor can log and echo: the
// one put in the request's context with ContextWithRequestID, else the
// trace id of the request's span. Examples: "X-Request-Id", or
// "X-Trace-Id", which self-hosted MemOS reads. Default: nothing is sent.
func WithRequestIDHeader(header string) Option {
	return func(c *config) { c.header = http.CanonicalHeaderKey(header) }
}

// WithRetryBudget reports b's tokens left as the gauge
// memerr.client.retry.budget.tokens. Give the same b to the Transport with
// memerr.WithRetryBudget: the budget a Transport makes for itself is not
// reachable from outside. Default: the gauge reports nothing.
func WithRetryBudget(b *memerr.RetryBudget) Option {
	return func(c *config) { c.budget = b }
}

// WithFleetHolds reports active() as the gauge memerr.client.fleet.holds:
// the holds a fleet knows that have not ended, such as the Active method of
// github.com/memerr/memerr/fleet's Fleet. Default: the gauge reports
// nothing.
func WithFleetHolds(active func() int) Option {
	return func(c *config) { c.holds = active }
}

// New creates the instruments. It fails only when the MeterProvider
// refuses an instrument or the gauges' callback.
func New(opts ...Option) (*Instrumentation, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	m := c.mp.Meter(ScopeName)
	i := &Instrumentation{header: c.header, budget: c.budget, holds: c.holds, circuits: map[circuit]memerr.BreakerChange{}}
	if c.tp != nil {
		i.tracer = c.tp.Tracer(ScopeName)
	}

	// Requests are counted by the duration histogram (its count), as
	// OpenTelemetry's HTTP conventions do: a counter of its own would cost
	// every request a second measurement.
	var errs [10]error
	i.attempts, errs[0] = m.Int64Counter("memerr.client.attempts",
		metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts sent, or refused by an open circuit breaker, by outcome."))
	i.duration, errs[1] = m.Float64Histogram("memerr.client.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time of whole requests through the transport, every attempt and wait included, to the response headers, by final outcome; its count is the number of requests."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60))
	i.retries, errs[2] = m.Int64Counter("memerr.client.retries",
		metric.WithUnit("{retry}"),
		metric.WithDescription("Retries decided, by the reason of the failed attempt."))
	i.retryWait, errs[3] = m.Float64Histogram("memerr.client.retry.wait",
		metric.WithUnit("s"),
		metric.WithDescription("Time waited before a retry: the server's hint, or the backoff."),
		metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	i.holdWait, errs[9] = m.Float64Histogram("memerr.client.hold.wait",
		metric.WithUnit("s"),
		metric.WithDescription("Time waited before an attempt was sent: a wait the server asked for in an earlier response to the scope (or the fleet's), or the scope's quota."),
		metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	i.transitions, errs[4] = m.Int64Counter("memerr.client.breaker.transitions",
		metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker state changes, by scope and new state."))
	state, err6 := m.Int64ObservableGauge("memerr.client.breaker.state",
		metric.WithUnit("{state}"),
		metric.WithDescription("Circuit breakers of each scope in each state: 1 for the current state, 0 for the others, when one Transport calls the scope."))
	tokens, err7 := m.Int64ObservableGauge("memerr.client.retry.budget.tokens",
		metric.WithUnit("{token}"),
		metric.WithDescription("Tokens left in the retry budget."))
	holds, err8 := m.Int64ObservableGauge("memerr.client.fleet.holds",
		metric.WithUnit("{hold}"),
		metric.WithDescription("Holds the fleet knows that have not ended: scopes no replica may call yet."))
	errs[5], errs[6], errs[7] = err6, err7, err8
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	i.reg, errs[8] = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		i.observe(o, state, tokens, holds)
		return nil
	}, state, tokens, holds)
	if errs[8] != nil {
		return nil, errs[8]
	}
	return i, nil
}

// Close unregisters the gauges' callback; the counters stay usable.
func (i *Instrumentation) Close() error { return i.reg.Unregister() }

// states in the order the breaker gauge reports them.
var states = [...]memerr.CircuitState{memerr.CircuitClosed, memerr.CircuitHalfOpen, memerr.CircuitOpen}

func (i *Instrumentation) observe(o metric.Observer, state, tokens, holds metric.Int64Observable) {
	now := time.Now()
	i.mu.Lock()
	counts := make(map[string]*[len(states)]int64, len(i.circuits))
	for c, last := range i.circuits {
		cur := last.To
		if cur == memerr.CircuitOpen && !last.Until.IsZero() && !now.Before(last.Until) {
			// The open period is over: the breaker is half-open, though
			// memerr reports that only when the next request comes.
			cur = memerr.CircuitHalfOpen
		}
		n := counts[c.scope]
		if n == nil {
			n = new([len(states)]int64)
			counts[c.scope] = n
		}
		for j, s := range states {
			if s == cur {
				n[j]++
			}
		}
	}
	i.mu.Unlock()
	for scope, n := range counts {
		for j, s := range states {
			o.ObserveInt64(state, n[j], metric.WithAttributes(attrScope.String(scope), attrState.String(stateName(s))))
		}
	}
	if i.budget != nil {
		o.ObserveInt64(tokens, int64(i.budget.Tokens()))
	}
	if i.holds != nil {
		o.ObserveInt64(holds, int64(i.holds()))
	}
}

// Hooks returns memerr.Hooks that record every attempt, retry and breaker
// change, then call the matching hook of user (which may be empty). Pass
// them to memerr.WithHooks, calling Hooks once for each Transport: the
// breaker state gauge tells Transports apart by their Hooks.
func (i *Instrumentation) Hooks(user memerr.Hooks) memerr.Hooks {
	set := i.hookSets.Add(1)
	return memerr.Hooks{
		OnAttempt: func(ev memerr.AttemptEvent) {
			i.attempt(ev)
			if user.OnAttempt != nil {
				user.OnAttempt(ev)
			}
		},
		OnRetry: func(ev memerr.RetryEvent) {
			i.retry(ev)
			if user.OnRetry != nil {
				user.OnRetry(ev)
			}
		},
		OnBreakerChange: func(ch memerr.BreakerChange) {
			i.breakerChange(set, ch)
			if user.OnBreakerChange != nil {
				user.OnBreakerChange(ch)
			}
		},
	}
}

// attempt records one attempt: the attempts counter, an event on the span,
// and what the request's wrapper needs to know of it.
func (i *Instrumentation) attempt(ev memerr.AttemptEvent) {
	ctx := ev.Context
	if ctx == nil {
		ctx = context.Background()
	}
	k := outcomeOf(ev.Vendor, ev.Err, ctx)
	o := i.opts(k)
	i.attempts.Add(ctx, 1, o.add...)
	if ev.Waited > 0 {
		i.holdWait.Record(ctx, ev.Waited.Seconds(), i.opts(attrKey{vendor: k.vendor}).rec...)
	}
	if r := requestOf(ctx); r != nil {
		r.attempts, r.last, r.lastOpts, r.lastErr = ev.Attempt, k, o, ev.Err
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs, attrAttempt.Int(ev.Attempt), attrOutcome.String(k.outcome),
		attrVendor.String(k.vendor), attrDuration.Float64(ev.Duration.Seconds()))
	if ev.StatusCode > 0 {
		attrs = append(attrs, attrStatus.Int(ev.StatusCode))
	}
	if ev.Waited > 0 {
		attrs = append(attrs, attrWaited.Float64(ev.Waited.Seconds()))
	}
	var e *memerr.Error
	if errors.As(ev.Err, &e) {
		attrs = append(attrs, attrKind.String(k.kind), attrCode.String(e.Code))
	}
	if ev.RequestID != "" {
		attrs = append(attrs, attrRequestID.String(ev.RequestID))
		span.SetAttributes(attrRequestID.String(ev.RequestID))
	}
	span.AddEvent("memerr.attempt", trace.WithAttributes(attrs...))
	if ev.Attempt > 1 {
		span.SetAttributes(attrResendCount.Int(ev.Attempt - 1))
	}
}

// retry records a retry about to wait: the retries counter, the wait
// histogram and an event on the span.
func (i *Instrumentation) retry(ev memerr.RetryEvent) {
	ctx := ev.Context
	if ctx == nil {
		ctx = context.Background()
	}
	k := attrKey{reason: reasonOf(ev.Err)}
	var hint time.Duration
	var e *memerr.Error
	if errors.As(ev.Err, &e) {
		k.vendor, hint = e.Vendor.String(), e.RetryAfter
	} else if r := requestOf(ctx); r != nil {
		k.vendor = r.last.vendor
	} else {
		k.vendor = memerr.Auto.String()
	}
	o := i.opts(k)
	i.retries.Add(ctx, 1, o.add...)
	i.retryWait.Record(ctx, ev.Wait.Seconds(), o.rec...)
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attrAttempt.Int(ev.Attempt), attrReason.String(k.reason), attrWait.Float64(ev.Wait.Seconds())}
	if hint > 0 {
		attrs = append(attrs, attrHint.Float64(hint.Seconds()))
	}
	span.AddEvent("memerr.retry.wait", trace.WithAttributes(attrs...))
}

// breakerChange counts a transition and remembers the scope's state for
// the gauge.
func (i *Instrumentation) breakerChange(set uint64, ch memerr.BreakerChange) {
	i.mu.Lock()
	i.circuits[circuit{set, ch.Host}] = ch
	i.mu.Unlock()
	i.transitions.Add(context.Background(), 1, metric.WithAttributes(
		attrScope.String(ch.Host), attrState.String(stateName(ch.To)), attrFrom.String(stateName(ch.From))))
}

// Wrap returns a RoundTripper that sends each request through rt (a
// memerr.Transport whose hooks are Hooks) and records it whole: the
// duration histogram by final outcome, and on
// failure the span's error status with vendor, code and Kind. With
// WithRequestIDHeader it also sends the correlation id; with
// WithTracerProvider it starts a span when the caller has none.
//
// The request passed to rt carries a context of Wrap's own (the caller's
// values are all there); the caller's request is never modified.
func (i *Instrumentation) Wrap(rt http.RoundTripper) http.RoundTripper {
	return &roundTripper{i: i, next: rt}
}

type roundTripper struct {
	i    *Instrumentation
	next http.RoundTripper
}

// request is what Wrap knows of one request, and the context of the
// request it passes on, so that the hooks find it without a lookup chain
// of their own.
type request struct {
	context.Context
	attempts int
	last     attrKey
	lastOpts *measureOpts // last's
	lastErr  error
}

type requestKey struct{}

// Value answers requestKey with the request and forwards the rest.
func (r *request) Value(key any) any {
	if key == (requestKey{}) {
		return r
	}
	return r.Context.Value(key)
}

func requestOf(ctx context.Context) *request {
	if r, ok := ctx.(*request); ok {
		return r
	}
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// RoundTrip sends req through the wrapped RoundTripper and records it.
func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	i := t.i
	start := time.Now()
	ctx := req.Context()
	span := trace.SpanFromContext(ctx)
	own := false
	if i.tracer != nil && !span.IsRecording() {
		ctx, span = i.tracer.Start(ctx, req.Method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attrMethod.String(req.Method)))
		own = true
	}
	r := &request{Context: ctx}
	out := req.WithContext(r)
	if i.header != "" && req.Header.Get(i.header) == "" {
		if id := correlationID(ctx); id != "" {
			out.Header = req.Header.Clone()
			out.Header.Set(i.header, id)
			if span.IsRecording() {
				span.SetAttributes(attrCorrelationID.String(id))
			}
		}
	}

	resp, err := t.next.RoundTrip(out)

	k, o, failure := r.last, r.lastOpts, r.lastErr
	if r.attempts == 0 || (err != nil && failure == nil) {
		// No attempt was seen (Wrap without Hooks, or the transport failed
		// before sending), or the request failed after a good attempt.
		// The transport's own error may quote the URL: it is classified,
		// never quoted.
		k, failure = outcomeOf(memerr.Auto, err, ctx), nil
		if r.attempts > 0 {
			k.vendor = r.last.vendor
		}
		o = i.opts(k)
	}
	i.duration.Record(ctx, time.Since(start).Seconds(), o.rec...)
	if span.IsRecording() {
		if own && resp != nil {
			span.SetAttributes(attrStatus.Int(resp.StatusCode))
		}
		if k.outcome != outcomeSuccess {
			i.recordFailure(span, k, failure)
		}
	}
	if own {
		span.End()
	}
	if resp != nil && resp.Request == out {
		resp.Request = req
	}
	return resp, err
}

// recordFailure marks the span failed: status Error, error.type, and the
// failure as an exception event with vendor, code and Kind. The text is
// the hook's error (memerr scrubs credentials from it) or the outcome's
// name.
func (i *Instrumentation) recordFailure(span trace.Span, k attrKey, failure error) {
	typ := k.outcome
	if k.kind != "" {
		typ = k.kind
	}
	attrs := []attribute.KeyValue{attrVendor.String(k.vendor), attrOutcome.String(k.outcome)}
	var e *memerr.Error
	if errors.As(failure, &e) {
		attrs = append(attrs, attrCode.String(e.Code), attrKind.String(k.kind))
		if e.RequestID != "" {
			attrs = append(attrs, attrRequestID.String(e.RequestID))
		}
	}
	span.SetAttributes(attrErrorType.String(typ))
	msg := typ
	if failure != nil {
		msg = failure.Error()
	}
	span.SetStatus(codes.Error, msg)
	span.AddEvent("exception", trace.WithAttributes(append(attrs,
		attribute.String("exception.type", typ), attribute.String("exception.message", msg))...))
}
