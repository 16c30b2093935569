package memerrotel_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
	memerrotel "github.com/memerr/memerr/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// rig is a Transport instrumented with the SDK's in-memory reader and span
// recorder, in front of a memerrtest server.
type rig struct {
	srv    *memerrtest.Server
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tracer trace.Tracer
	inst   *memerrotel.Instrumentation
	rt     http.RoundTripper
	budget *memerr.RetryBudget
}

func newRig(t *testing.T, instOpts []memerrotel.Option, opts ...memerr.Option) *rig {
	t.Helper()
	r := &rig{
		srv:    memerrtest.NewServer(),
		reader: sdkmetric.NewManualReader(),
		spans:  tracetest.NewSpanRecorder(),
		budget: memerr.NewRetryBudget(100, 5),
	}
	t.Cleanup(r.srv.Close)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	r.tracer = tp.Tracer("test")
	inst, err := memerrotel.New(append([]memerrotel.Option{
		memerrotel.WithMeterProvider(mp), memerrotel.WithRetryBudget(r.budget)}, instOpts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, inst.Close()) })
	r.inst = inst
	base := []memerr.Option{
		memerr.WithVendor(memerr.Coze),
		memerr.WithBackoff(time.Millisecond, 2*time.Millisecond),
		memerr.WithMaxRetries(2),
		memerr.WithRetryBudget(r.budget),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 3, MinRequests: 1000, OpenTimeout: time.Hour}),
		memerr.WithHooks(inst.Hooks(memerr.Hooks{})),
	}
	r.rt = inst.Wrap(memerr.NewTransport(r.srv.Client().Transport, append(base, opts...)...))
	return r
}

// get sends GET path under a span of its own, named path, and returns the
// status (0 for an error) after reading the body.
func (r *rig) get(t *testing.T, path string) int {
	t.Helper()
	ctx, span := r.tracer.Start(context.Background(), path)
	defer span.End()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+path, nil)
	require.NoError(t, err)
	resp, err := r.rt.RoundTrip(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// sums collects the metric name and returns its data points' values by
// attribute set ("k=v,k=v", keys sorted): counter sums, histogram counts,
// gauge values.
func sums(t *testing.T, reader *sdkmetric.ManualReader, name string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[key(p.Attributes)] += float64(p.Count)
				}
			default:
				t.Fatalf("%s: unexpected data %T", name, m.Data)
			}
		}
	}
	return out
}

func key(s attribute.Set) string { return s.Encoded(attribute.DefaultEncoder()) }

// histogram returns the histogram points of name by attribute set.
func histogram(t *testing.T, reader *sdkmetric.ManualReader, name string) map[string]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.HistogramDataPoint[float64]{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					out[key(p.Attributes)] = p
				}
			}
		}
	}
	return out
}

// units returns each instrument's unit by name.
func units(t *testing.T, reader *sdkmetric.ManualReader) map[string]string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, memerrotel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m.Unit
		}
	}
	return out
}

// spanNamed returns the ended span of that name.
func spanNamed(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no span %q", name)
	return nil
}

// events returns the span's events as "name k=v,k=v" with the volatile
// attributes (durations, waits) left out; attrs returns its attributes.
func events(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		var kv []string
		for _, a := range e.Attributes {
			switch a.Key {
			case "memerr.attempt.duration", "memerr.retry.wait", "memerr.request_id":
				continue
			}
			kv = append(kv, string(a.Key)+"="+a.Value.String())
		}
		sort.Strings(kv)
		out = append(out, e.Name+" "+strings.Join(kv, ","))
	}
	return out
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	out := map[string]string{}
	for _, a := range s.Attributes() {
		out[string(a.Key)] = a.Value.String()
	}
	return out
}

// eventAttr returns attribute k of the n-th event named name.
func eventAttr(s sdktrace.ReadOnlySpan, name string, n int, k string) (attribute.Value, bool) {
	for _, e := range s.Events() {
		if e.Name != name {
			continue
		}
		if n--; n < 0 {
			for _, a := range e.Attributes {
				if string(a.Key) == k {
					return a.Value, true
				}
			}
			return attribute.Value{}, false
		}
	}
	return attribute.Value{}, false
}

// TestScriptedSequence plays failures, retries, an unknown code and an
// open circuit against a memerrtest server, and checks every count and
// attribute the SDK's in-memory reader and span recorder saw.
func TestScriptedSequence(t *testing.T) {
	r := newRig(t, nil)
	scope := r.srv.URL // the breaker scope: scheme://host:port
	r.srv.EnqueuePath("/busy", memerrtest.Error(memerr.CozeInternalError), memerrtest.Success(memerr.Coze, map[string]any{"id": "m1"}))
	r.srv.EnqueuePath("/limited",
		memerrtest.Error(memerr.CozeUserRateLimited).WithRetryAfterMS(20*time.Millisecond),
		memerrtest.Success(memerr.Coze, nil))
	r.srv.EnqueuePath("/unknown", memerrtest.JSON(http.StatusOK, map[string]any{"code": 4999, "msg": "an invented code"}))
	r.srv.EnqueuePath("/down", memerrtest.Repeat(memerrtest.Status(http.StatusServiceUnavailable, ""), 3)...)

	assert.Equal(t, 200, r.get(t, "/busy"))
	assert.Equal(t, 200, r.get(t, "/limited"))
	assert.Equal(t, 200, r.get(t, "/unknown"))
	assert.Equal(t, 503, r.get(t, "/down"))
	assert.Equal(t, 0, r.get(t, "/open")) // refused by the open breaker
	assert.Equal(t, 0, r.srv.Pending())
	assert.Equal(t, 8, r.srv.RequestCount())

	const (
		coze    = "memerr.vendor=coze"
		generic = "memerr.vendor=generic"
	)
	assert.Equal(t, map[string]float64{
		"memerr.outcome=success," + coze:                                               2,
		"memerr.code=5000,memerr.kind=internal,memerr.outcome=failure," + coze:         1,
		"memerr.code=4008,memerr.kind=rate_limited,memerr.outcome=failure," + coze:     1,
		"memerr.code=other,memerr.kind=invalid_request,memerr.outcome=failure," + coze: 1,
		"memerr.code=503,memerr.kind=unavailable,memerr.outcome=failure," + generic:    3,
		"memerr.outcome=circuit_open," + coze:                                          1,
	}, sums(t, r.reader, "memerr.client.attempts"))
	assert.Equal(t, map[string]float64{
		"memerr.outcome=success," + coze:                                               2,
		"memerr.code=other,memerr.kind=invalid_request,memerr.outcome=failure," + coze: 1,
		"memerr.code=503,memerr.kind=unavailable,memerr.outcome=failure," + generic:    1,
		"memerr.outcome=circuit_open," + coze:                                          1,
	}, sums(t, r.reader, "memerr.client.request.duration"), "one duration per request, under its final outcome")
	assert.Equal(t, map[string]float64{
		"memerr.retry.reason=internal," + coze:       1,
		"memerr.retry.reason=rate_limited," + coze:   1,
		"memerr.retry.reason=unavailable," + generic: 2,
	}, sums(t, r.reader, "memerr.client.retries"))
	waits := histogram(t, r.reader, "memerr.client.retry.wait")
	limited := waits["memerr.retry.reason=rate_limited,"+coze]
	require.EqualValues(t, 1, limited.Count)
	assert.GreaterOrEqual(t, limited.Sum, 0.020, "the server's 20ms hint is waited out")
	assert.Less(t, limited.Sum, 0.023, "plus at most 10% jitter")
	assert.EqualValues(t, 2, waits["memerr.retry.reason=unavailable,"+generic].Count)

	assert.Equal(t, map[string]float64{
		"memerr.breaker.previous_state=closed,memerr.breaker.scope=" + scope + ",memerr.breaker.state=open": 1,
	}, sums(t, r.reader, "memerr.client.breaker.transitions"))
	assert.Equal(t, map[string]float64{
		"memerr.breaker.scope=" + scope + ",memerr.breaker.state=closed":    0,
		"memerr.breaker.scope=" + scope + ",memerr.breaker.state=half_open": 0,
		"memerr.breaker.scope=" + scope + ",memerr.breaker.state=open":      1,
	}, sums(t, r.reader, "memerr.client.breaker.state"))
	// The budget: /busy and /limited each spent 5 tokens on a retry and
	// got them back with their success; /down spent 10 on two retries and
	// never succeeded.
	assert.Equal(t, map[string]float64{"": float64(r.budget.Tokens())}, sums(t, r.reader, "memerr.client.retry.budget.tokens"))
	assert.Equal(t, float64(90), sums(t, r.reader, "memerr.client.retry.budget.tokens")[""])

	assert.Equal(t, map[string]string{
		"memerr.client.attempts":            "{attempt}",
		"memerr.client.request.duration":    "s",
		"memerr.client.retries":             "{retry}",
		"memerr.client.retry.wait":          "s",
		"memerr.client.breaker.transitions": "{transition}",
		"memerr.client.breaker.state":       "{state}",
		"memerr.client.retry.budget.tokens": "{token}",
	}, units(t, r.reader))

	// Spans: the caller's, one per request.
	busy := spanNamed(t, r.spans, "/busy")
	assert.Equal(t, []string{
		"memerr.attempt http.response.status_code=200,memerr.attempt=1,memerr.code=5000,memerr.kind=internal,memerr.outcome=failure,memerr.vendor=coze",
		"memerr.retry.wait memerr.attempt=1,memerr.retry.reason=internal",
		"memerr.attempt http.response.status_code=200,memerr.attempt=2,memerr.outcome=success,memerr.vendor=coze",
	}, events(busy))
	assert.Equal(t, "1", attrs(busy)["http.request.resend_count"])
	assert.NotEmpty(t, attrs(busy)["memerr.request_id"], "the vendor's X-Tt-Logid")
	assert.Equal(t, "Unset", busy.Status().Code.String(), "a request that succeeded on retry is no failure")

	limitedSpan := spanNamed(t, r.spans, "/limited")
	hint, ok := eventAttr(limitedSpan, "memerr.retry.wait", 0, "memerr.retry.hint")
	require.True(t, ok, "the wait event carries the server's hint")
	assert.Equal(t, 0.02, hint.AsFloat64())
	wait, ok := eventAttr(limitedSpan, "memerr.retry.wait", 0, "memerr.retry.wait")
	require.True(t, ok)
	assert.GreaterOrEqual(t, wait.AsFloat64(), 0.02)

	unknown := spanNamed(t, r.spans, "/unknown")
	assert.Equal(t, "Error", unknown.Status().Code.String())
	assert.Contains(t, unknown.Status().Description, "4999", "the span keeps the exact code; only metrics fold it")
	assert.Equal(t, "invalid_request", attrs(unknown)["error.type"])
	assert.NotContains(t, attrs(unknown), "http.request.resend_count", "sent once")
	exc := events(unknown)[1]
	assert.True(t, strings.HasPrefix(exc, "exception "), exc)
	for _, want := range []string{"memerr.vendor=coze", "memerr.code=4999", "memerr.kind=invalid_request", "exception.type=invalid_request"} {
		assert.Contains(t, exc, want)
	}

	down := spanNamed(t, r.spans, "/down")
	assert.Equal(t, "2", attrs(down)["http.request.resend_count"])
	assert.Len(t, events(down), 3+2+1, "three attempts, two waits, the exception")
	assert.Equal(t, "unavailable", attrs(down)["error.type"])

	open := spanNamed(t, r.spans, "/open")
	evs := events(open)
	require.Len(t, evs, 2)
	assert.Equal(t, "memerr.attempt memerr.attempt=1,memerr.outcome=circuit_open,memerr.vendor=coze", evs[0])
	// The time left open is read off the wall clock: only its form is fixed.
	assert.Regexp(t, `^exception exception.message=memerr: circuit open for `+regexp.QuoteMeta(scope)+
		` \(half-open in (1h0m0s|59m59\.\d+s)\),exception.type=circuit_open,memerr.outcome=circuit_open,memerr.vendor=coze$`, evs[1])
	assert.Equal(t, "circuit_open", attrs(open)["error.type"])
}

// TestCanceled: a request whose context ended before it was sent counts
// as canceled, not as a network error of the vendor.
func TestCanceled(t *testing.T) {
	r := newRig(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+"/x", nil)
	require.NoError(t, err)
	_, err = r.rt.RoundTrip(req)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, map[string]float64{"memerr.outcome=canceled,memerr.vendor=coze": 1}, sums(t, r.reader, "memerr.client.attempts"))
	assert.Equal(t, map[string]float64{"memerr.outcome=canceled,memerr.vendor=coze": 1}, sums(t, r.reader, "memerr.client.request.duration"))
}

// TestConcurrent sends requests from many goroutines, some failing once:
// every attempt the server saw is counted once, every request and every
// retry once (run it with -race).
func TestConcurrent(t *testing.T) {
	r := newRig(t, nil, memerr.WithoutBreaker())
	const workers, each = 8, 25
	r.srv.Enqueue(memerrtest.Repeat(memerrtest.Error(memerr.CozeInternalError), 40)...)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/c", nil)
				if !assert.NoError(t, err) {
					return
				}
				resp, err := r.rt.RoundTrip(req)
				if assert.NoError(t, err) {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	total := func(m map[string]float64) (n float64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	assert.Equal(t, float64(r.srv.RequestCount()), total(sums(t, r.reader, "memerr.client.attempts")))
	assert.Equal(t, float64(40), sums(t, r.reader, "memerr.client.attempts")["memerr.code=5000,memerr.kind=internal,memerr.outcome=failure,memerr.vendor=coze"])
	assert.Equal(t, float64(workers*each), total(sums(t, r.reader, "memerr.client.request.duration")))
	// Every attempt after a request's first follows a retry (how many the
	// retry budget allowed depends on the interleaving).
	assert.Equal(t, float64(r.srv.RequestCount()-workers*each), total(sums(t, r.reader, "memerr.client.retries")))
}

// WithFleetHolds reports a fleet's active holds as a gauge.
func TestFleetHoldsGauge(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	active := 3
	inst, err := memerrotel.New(memerrotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		memerrotel.WithFleetHolds(func() int { return active }))
	require.NoError(t, err)
	defer inst.Close()
	assert.Equal(t, map[string]float64{"": 3}, sums(t, reader, "memerr.client.fleet.holds"))
	active = 1
	assert.Equal(t, map[string]float64{"": 1}, sums(t, reader, "memerr.client.fleet.holds"))
	assert.Equal(t, "{hold}", units(t, reader)["memerr.client.fleet.holds"])
}

// TestAttemptTimeout: an attempt cut by memerr.WithAttemptTimeout is the
// vendor's slowness, a network error, never the caller's cancellation,
// even though the attempt's own context has ended.
func TestAttemptTimeout(t *testing.T) {
	r := newRig(t, nil, memerr.WithAttemptTimeout(50*time.Millisecond), memerr.WithoutBreaker())
	slow := memerrtest.Success(memerr.Coze, nil).WithDelay(time.Minute)
	r.srv.EnqueuePath("/once", slow, memerrtest.Success(memerr.Coze, nil))
	r.srv.EnqueuePath("/always", memerrtest.Repeat(slow, 3)...)

	assert.Equal(t, 200, r.get(t, "/once"))
	assert.Equal(t, 0, r.get(t, "/always"))

	assert.Equal(t, map[string]float64{
		"memerr.outcome=network_error,memerr.vendor=coze": 4,
		"memerr.outcome=success,memerr.vendor=coze":       1,
	}, sums(t, r.reader, "memerr.client.attempts"))
	assert.Equal(t, map[string]float64{
		"memerr.outcome=network_error,memerr.vendor=coze": 1,
		"memerr.outcome=success,memerr.vendor=coze":       1,
	}, sums(t, r.reader, "memerr.client.request.duration"))
	assert.Equal(t, map[string]float64{
		"memerr.retry.reason=network_error,memerr.vendor=coze": 3,
	}, sums(t, r.reader, "memerr.client.retries"))
	always := spanNamed(t, r.spans, "/always")
	assert.Equal(t, "network_error", attrs(always)["error.type"])
	assert.Contains(t, always.Status().Description, "attempt timed out")
}

// TestHoldWait: a request that waits out the Retry-After another request
// was given shows that wait in memerr.client.hold.wait and on its attempt
// event; it is no retry.
func TestHoldWait(t *testing.T) {
	r := newRig(t, nil, memerr.WithMaxRetries(0))
	r.srv.EnqueuePath("/limited", memerrtest.Error(memerr.CozeUserRateLimited).WithRetryAfterMS(30*time.Millisecond))
	assert.Equal(t, 200, r.get(t, "/limited")) // Coze's 4008 comes in an HTTP 200
	assert.Equal(t, 200, r.get(t, "/next"))    // waits the 30ms out first

	waits := histogram(t, r.reader, "memerr.client.hold.wait")
	require.Len(t, waits, 1)
	w := waits["memerr.vendor=coze"]
	require.EqualValues(t, 1, w.Count)
	// The wait is what is left of the hold when /next starts: at most the
	// hint and its 10% jitter, and less by however long the machine took
	// between the two requests, which a loaded machine makes anything.
	assert.Greater(t, w.Sum, 0.0)
	assert.Less(t, w.Sum, 0.034, "the hint and at most 10% jitter")
	assert.Empty(t, sums(t, r.reader, "memerr.client.retries"))
	assert.Equal(t, "s", units(t, r.reader)["memerr.client.hold.wait"])

	waited, ok := eventAttr(spanNamed(t, r.spans, "/next"), "memerr.attempt", 0, "memerr.attempt.waited")
	require.True(t, ok)
	assert.Equal(t, w.Sum, waited.AsFloat64())
	_, ok = eventAttr(spanNamed(t, r.spans, "/limited"), "memerr.attempt", 0, "memerr.attempt.waited")
	assert.False(t, ok, "no wait, no attribute")
}

// TestBreakerGaugeSeveralTransports: one Instrumentation serving two
// Transports that call the same host reports both breakers, not whichever
// changed last: with one open and one closed again, it read closed=1,
// open=0, hiding the open one.
func TestBreakerGaugeSeveralTransports(t *testing.T) {
	srv, reader, inst := gaugeRig(t)
	newTransport := func(open time.Duration) http.RoundTripper {
		return inst.Wrap(memerr.NewTransport(srv.Client().Transport, memerr.WithVendor(memerr.Coze), memerr.WithMaxRetries(0),
			memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: open, MaxOpenTimeout: open}),
			memerr.WithHooks(inst.Hooks(memerr.Hooks{}))))
	}
	a, b := newTransport(time.Hour), newTransport(time.Millisecond)
	send := func(rt http.RoundTripper) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
		require.NoError(t, err)
		if resp, err := rt.RoundTrip(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	srv.Enqueue(memerrtest.Status(http.StatusServiceUnavailable, ""), memerrtest.Status(http.StatusServiceUnavailable, ""))
	send(a) // a opens for an hour
	send(b) // b opens for a millisecond
	time.Sleep(5 * time.Millisecond)
	send(b) // b's trial succeeds: half-open, then closed
	assert.Equal(t, map[string]float64{"closed": 1, "half_open": 0, "open": 1}, breakerStates(t, reader))
	assert.Equal(t, float64(4), func() (n float64) {
		for _, v := range sums(t, reader, "memerr.client.breaker.transitions") {
			n += v
		}
		return n
	}(), "a: closed→open; b: closed→open→half-open→closed")
}

// TestBodyErrorOutcome: a request whose own body cannot be read is the
// caller's failure, not the network's: outcome body_error, so that alerts
// on network_error do not fire for a caller's broken upload.
func TestBodyErrorOutcome(t *testing.T) {
	r := newRig(t, nil)
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+"/v1/memories", io.NopCloser(iotest.ErrReader(errors.New("disk gone"))))
	require.NoError(t, err)
	_, err = r.rt.RoundTrip(req)
	require.ErrorAs(t, err, new(*memerr.BodyError))
	assert.Equal(t, map[string]float64{"memerr.outcome=body_error,memerr.vendor=auto": 1},
		sums(t, r.reader, "memerr.client.request.duration"))
}

// TestBreakerGaugeHalfOpenWhenPeriodEnds: the gauge reads a breaker whose
// open period is over as half-open, as Transport.BreakerState does, though
// no request has come since to make memerr report the change; it read
// open for as long as the scope stayed idle.
func TestBreakerGaugeHalfOpenWhenPeriodEnds(t *testing.T) {
	srv, reader, inst := gaugeRig(t)
	tr := memerr.NewTransport(srv.Client().Transport, memerr.WithMaxRetries(0),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: 50 * time.Millisecond}),
		memerr.WithHooks(inst.Hooks(memerr.Hooks{})))
	srv.Enqueue(memerrtest.Status(http.StatusServiceUnavailable, ""))
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
	require.NoError(t, err)
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	// (No Transport.BreakerState before the period is over: reading the
	// state then reports the change, which would feed the gauge itself.)
	if before := breakerStates(t, reader); time.Since(start) < 40*time.Millisecond {
		assert.Equal(t, map[string]float64{"closed": 0, "half_open": 0, "open": 1}, before, "within the period")
	}
	require.Eventually(t, func() bool {
		return breakerStates(t, reader)["half_open"] == 1
	}, 10*time.Second, 5*time.Millisecond, "the open period ended, and the gauge still reads open")
	assert.Equal(t, map[string]float64{"closed": 0, "half_open": 1, "open": 0}, breakerStates(t, reader))
	assert.Len(t, srv.Requests(), 1, "no request came to end it")
	state, _ := tr.BreakerState(srv.URL)
	assert.Equal(t, memerr.CircuitHalfOpen, state, "as the Transport says")
}

// gaugeRig is a fake vendor and an Instrumentation whose metrics reader
// the test collects, for the breaker gauge's tests.
func gaugeRig(t *testing.T) (*memerrtest.Server, *sdkmetric.ManualReader, *memerrotel.Instrumentation) {
	t.Helper()
	srv := memerrtest.NewServer()
	t.Cleanup(srv.Close)
	reader := sdkmetric.NewManualReader()
	inst, err := memerrotel.New(memerrotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	t.Cleanup(func() { inst.Close() })
	return srv, reader, inst
}

// breakerStates is the breaker gauge summed by state: closed, half_open,
// open.
func breakerStates(t *testing.T, reader *sdkmetric.ManualReader) map[string]float64 {
	out := map[string]float64{}
	for k, v := range sums(t, reader, "memerr.client.breaker.state") {
		out[k[strings.LastIndex(k, "=")+1:]] = v
	}
	return out
}
