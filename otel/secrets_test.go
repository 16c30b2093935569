package memerrotel_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
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
)

// The secrets planted in every request: in the URL's query, its user
// information and the Authorization header. None may appear in any span
// attribute, event, status or metric attribute.
const (
	querySecret  = "sk-querysecret0123456789"
	userSecret   = "pw-usersecret0123456789"
	headerSecret = "sk-headersecret0123456789"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestNoSecretInTelemetry(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	inst, err := memerrotel.New(memerrotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
		memerrotel.WithRequestIDHeader("X-Request-Id"))
	require.NoError(t, err)
	defer inst.Close()

	srv := memerrtest.NewServer()
	defer srv.Close()
	// The server echoes the key in its messages, as careless servers do.
	srv.EnqueuePath("/fail",
		memerrtest.Error(memerr.CozeInternalError).WithMessage("failed for key "+headerSecret+" and "+querySecret),
		memerrtest.Error(memerr.CozeInvalidToken).WithMessage("token "+headerSecret+" is invalid"))
	srv.EnqueuePath("/down", memerrtest.Repeat(memerrtest.Status(http.StatusBadGateway, "upstream "+querySecret), 3)...)

	rt := inst.Wrap(memerr.NewTransport(nil,
		memerr.WithVendor(memerr.Coze),
		memerr.WithBackoff(time.Millisecond, 2*time.Millisecond),
		memerr.WithMaxRetries(1),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}),
		memerr.WithHooks(inst.Hooks(memerr.Hooks{}))))

	send := func(base, path string) {
		ctx, span := tp.Tracer("test").Start(context.Background(), path)
		defer span.End()
		u := strings.Replace(base, "http://", "http://user:"+userSecret+"@", 1) + path + "?api_key=" + querySecret
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(`{"q":1}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+headerSecret)
		resp, err := rt.RoundTrip(memerr.Idempotent(req))
		if err == nil {
			resp.Body.Close()
		}
	}
	send(srv.URL, "/ok")
	send(srv.URL, "/fail")
	send(srv.URL, "/down")
	send(srv.URL, "/open")                    // the breaker is open now
	send("http://"+closedAddr(t), "/refused") // a network error

	var seen []string
	for _, s := range spans.Ended() {
		seen = append(seen, s.Status().Description)
		for _, a := range s.Attributes() {
			seen = append(seen, string(a.Key)+"="+a.Value.String())
		}
		for _, e := range s.Events() {
			seen = append(seen, e.Name)
			for _, a := range e.Attributes {
				seen = append(seen, string(a.Key)+"="+a.Value.String())
			}
		}
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var sets []attribute.Set
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					sets = append(sets, p.Attributes)
				}
			}
			for _, s := range sets {
				seen = append(seen, m.Name+" "+s.Encoded(attribute.DefaultEncoder()))
			}
		}
	}
	all := strings.Join(seen, "\n")
	// The test saw what it meant to: every kind of outcome is there.
	for _, want := range []string{"memerr.outcome=success", "memerr.outcome=failure", "memerr.outcome=circuit_open",
		"memerr.outcome=network_error", "exception.message=", "memerr.correlation_id="} {
		require.Contains(t, all, want)
	}
	for _, line := range seen {
		for _, secret := range []string{"querysecret", "usersecret", "headersecret"} {
			assert.NotContains(t, line, secret)
		}
	}
}
