package memerrotel_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/internal/paired"
	memerrotel "github.com/memerr/memerr/otel"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// successBody is a Coze success envelope of about 200 bytes, which the
// transport reads ahead and accepts.
var successBody = []byte(`{"code":0,"msg":"","data":{"id":"7382941203847561","memories":[{"id":"m_01","text":"likes green tea","score":0.93},{"id":"m_02","text":"lives in Lisbon","score":0.81}],"has_more":false}}`)

// memBase answers every request in memory with successBody, so that what a
// contender adds to a request is all that is measured.
var memBase = paired.Memory("application/json; charset=utf-8", successBody)

// plain is the transport without instrumentation; instrumented is the same
// with the Hooks and Wrap of an Instrumentation on an SDK MeterProvider
// whose reader is never collected (the measurements are aggregated, as in
// production between two scrapes).
func plain() http.RoundTripper {
	return memerr.NewTransport(memBase, memerr.WithVendor(memerr.Coze))
}

func instrumented(tb testing.TB) http.RoundTripper {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	inst, err := memerrotel.New(memerrotel.WithMeterProvider(mp))
	if err != nil {
		tb.Fatal(err)
	}
	return inst.Wrap(memerr.NewTransport(memBase, memerr.WithVendor(memerr.Coze),
		memerr.WithHooks(inst.Hooks(memerr.Hooks{}))))
}

// get sends req through rt and reads the whole body.
func get(rt http.RoundTripper, req *http.Request) error {
	n, err := paired.Get(rt, req)
	if err == nil && n != int64(len(successBody)) {
		err = fmt.Errorf("read %d bytes of %d", n, len(successBody))
	}
	return err
}

func requests(tb testing.TB) []*http.Request {
	reqs := make([]*http.Request, paired.Workers())
	for i := range reqs {
		var err error
		if reqs[i], err = http.NewRequest(http.MethodGet, "http://memory.invalid/v1/memories", nil); err != nil {
			tb.Fatal(err)
		}
	}
	return reqs
}

// BenchmarkCost sends successful GETs over an in-memory base through the
// transport without instrumentation (off, and off-again as the control)
// and with it (on), in paired.Run's alternating blocks. on-added-ns/req is
// the time the instrumentation adds to a request whose context has no
// recording span. Run with
//
//	go test -run '^$' -bench Cost -benchtime 400000x ./
func BenchmarkCost(b *testing.B) {
	reqs := requests(b)
	contender := func(name string, rt http.RoundTripper) paired.Contender {
		return paired.Contender{Name: name, Do: func(w int) error { return get(rt, reqs[w]) }}
	}
	paired.Run(b, []paired.Contender{
		contender("off", plain()),
		contender("off-again", plain()),
		contender("on", instrumented(b)),
	}, 4096)
}

// BenchmarkCostTraced is BenchmarkCost for requests made under a recording
// span of the trace SDK (sampled, without exporter): every contender
// starts and ends the span, so on-added-ns/req is the cost of the span
// events and attributes the instrumentation adds.
func BenchmarkCostTraced(b *testing.B) {
	reqs := requests(b)
	tracer := sdktrace.NewTracerProvider().Tracer("bench")
	contender := func(name string, rt http.RoundTripper) paired.Contender {
		return paired.Contender{Name: name, Do: func(w int) error {
			ctx, span := tracer.Start(context.Background(), "call")
			err := get(rt, reqs[w].WithContext(ctx))
			span.End()
			return err
		}}
	}
	paired.Run(b, []paired.Contender{
		contender("off", plain()),
		contender("off-again", plain()),
		contender("on", instrumented(b)),
	}, 4096)
}

// BenchmarkRequest reports allocs/op of one successful request, without
// and with the instrumentation and a recording span, one after the other
// on one goroutine: the difference of allocs/op is what the
// instrumentation allocates.
func BenchmarkRequest(b *testing.B) {
	tracer := sdktrace.NewTracerProvider().Tracer("bench")
	for _, c := range []struct {
		name   string
		rt     http.RoundTripper
		traced bool
	}{
		{"off", plain(), false},
		{"on", instrumented(b), false},
		{"off-traced", plain(), true},
		{"on-traced", instrumented(b), true},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := requests(b)[0]
			b.ReportAllocs()
			for b.Loop() {
				r := req
				var span trace.Span
				if c.traced {
					var ctx context.Context
					ctx, span = tracer.Start(context.Background(), "call")
					r = req.WithContext(ctx)
				}
				if err := get(c.rt, r); err != nil {
					b.Fatal(err)
				}
				if span != nil {
					span.End()
				}
			}
		})
	}
}

// TestSuccessPathAllocations holds the instrumentation to its budget of
// allocations on the success path, for a request without a recording span:
// at most 3 more than the transport alone: Wrap's request state and its
// copy of the request, and the URL of the core's AttemptEvent; none for
// the measurements, whose options are made once per attribute combination.
func TestSuccessPathAllocations(t *testing.T) {
	if raceOn {
		t.Skip("under the race detector sync.Pool drops buffers at random; the run without -race checks this")
	}
	req := requests(t)[0]
	allocs := func(rt http.RoundTripper) float64 {
		var failed error
		n := testing.AllocsPerRun(1000, func() {
			if err := get(rt, req); err != nil {
				failed = err
			}
		})
		require.NoError(t, failed)
		return n
	}
	off, on := allocs(plain()), allocs(instrumented(t))
	t.Logf("allocations per request: %v without, %v with the instrumentation", off, on)
	require.LessOrEqual(t, on-off, 3.0)
}
