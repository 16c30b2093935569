package memerrotel_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
	memerrotel "github.com/memerr/memerr/otel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestRequestIDHeader(t *testing.T) {
	srv := memerrtest.NewServer()
	defer srv.Close()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	inst, err := memerrotel.New(memerrotel.WithMeterProvider(sdkmetric.NewMeterProvider()),
		memerrotel.WithRequestIDHeader("x-trace-id"))
	require.NoError(t, err)
	defer inst.Close()
	rt := inst.Wrap(memerr.NewTransport(nil, memerr.WithVendor(memerr.MemOS),
		memerr.WithBackoff(time.Millisecond, time.Millisecond), memerr.WithHooks(inst.Hooks(memerr.Hooks{}))))

	send := func(ctx context.Context, header string) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/search", nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set("X-Trace-Id", header)
		}
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Same(t, req, resp.Request, "the response names the caller's request")
		return req
	}

	t.Run("from the context, on every attempt", func(t *testing.T) {
		srv.Reset()
		srv.Enqueue(memerrtest.Status(http.StatusServiceUnavailable, ""))
		req := send(memerrotel.ContextWithRequestID(context.Background(), "ticket-42"), "")
		got := srv.Requests()
		require.Len(t, got, 2)
		for _, r := range got {
			assert.Equal(t, "ticket-42", r.Header.Get("X-Trace-Id"))
		}
		assert.Empty(t, req.Header.Get("X-Trace-Id"), "the caller's request is not modified")
	})
	t.Run("else the trace id", func(t *testing.T) {
		srv.Reset()
		ctx, span := tp.Tracer("test").Start(context.Background(), "call")
		send(ctx, "")
		span.End()
		tid := span.SpanContext().TraceID().String()
		assert.Equal(t, tid, srv.Requests()[0].Header.Get("X-Trace-Id"))
		assert.Equal(t, tid, attrs(spanNamed(t, spans, "call"))["memerr.correlation_id"])
	})
	t.Run("the caller's own header wins", func(t *testing.T) {
		srv.Reset()
		send(memerrotel.ContextWithRequestID(context.Background(), "ticket-43"), "mine")
		assert.Equal(t, "mine", srv.Requests()[0].Header.Get("X-Trace-Id"))
	})
	t.Run("nothing to send", func(t *testing.T) {
		srv.Reset()
		send(context.Background(), "")
		assert.Empty(t, srv.Requests()[0].Header.Values("X-Trace-Id"))
	})
}

func TestRequestIDFromContext(t *testing.T) {
	_, ok := memerrotel.RequestIDFromContext(context.Background())
	assert.False(t, ok)
	id, ok := memerrotel.RequestIDFromContext(memerrotel.ContextWithRequestID(context.Background(), "r-1"))
	assert.True(t, ok)
	assert.Equal(t, "r-1", id)
}

// TestHooksCompose: the user's own hooks run after the instrumentation's,
// with the same events.
func TestHooksCompose(t *testing.T) {
	r := newRig(t, nil) // its instrumentation and reader, on a transport of the test's own
	var attempts, retries, changes int
	inst := r.inst
	rt := inst.Wrap(memerr.NewTransport(r.srv.Client().Transport,
		memerr.WithBackoff(time.Millisecond, time.Millisecond),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}),
		memerr.WithMaxRetries(1),
		memerr.WithHooks(inst.Hooks(memerr.Hooks{
			OnAttempt:       func(memerr.AttemptEvent) { attempts++ },
			OnRetry:         func(memerr.RetryEvent) { retries++ },
			OnBreakerChange: func(memerr.BreakerChange) { changes++ },
		}))))
	r.srv.Enqueue(memerrtest.Repeat(memerrtest.Status(http.StatusInternalServerError, ""), 2)...)
	req, err := http.NewRequest(http.MethodGet, r.srv.URL, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 2, attempts)
	assert.Equal(t, 1, retries)
	assert.Equal(t, 1, changes)
	assert.Equal(t, float64(2), sums(t, r.reader, "memerr.client.attempts")["memerr.code=500,memerr.kind=internal,memerr.outcome=failure,memerr.vendor=generic"])
}

// TestOwnSpan: with WithTracerProvider, a request whose context has no
// recording span gets a client span of its own; one that has a span does
// not get a second.
func TestOwnSpan(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	r := newRig(t, []memerrotel.Option{memerrotel.WithTracerProvider(tp)})
	r.srv.Enqueue(memerrtest.Error(memerr.CozeInternalError))

	req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/x", nil)
	require.NoError(t, err)
	resp, err := r.rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	ended := spans.Ended()
	require.Len(t, ended, 1)
	s := ended[0]
	assert.Equal(t, "GET", s.Name())
	assert.Equal(t, trace.SpanKindClient, s.SpanKind())
	assert.Equal(t, "200", attrs(s)["http.response.status_code"])
	assert.Equal(t, "1", attrs(s)["http.request.resend_count"])
	assert.Len(t, events(s), 3, "two attempts and a wait")

	ctx, parent := tp.Tracer("test").Start(context.Background(), "caller")
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+"/y", nil)
	require.NoError(t, err)
	resp, err = r.rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	parent.End()
	require.Len(t, spans.Ended(), 2)
	assert.Equal(t, "caller", spans.Ended()[1].Name())
	assert.Len(t, events(spans.Ended()[1]), 1, "the event went on the caller's span")
}
