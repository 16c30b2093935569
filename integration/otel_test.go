package integration

// The suite's clients are also instrumented with memerrotel, on the
// OpenTelemetry SDK's own in-memory reader and span recorder: every metric
// attribute, span attribute, event and status they record goes into the
// collector, so a credential in what the instrumentation exports fails the
// suite like one in a log line.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/memerr/memerr"
	memerrotel "github.com/memerr/memerr/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

var telemetry struct {
	once   sync.Once
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	inst   *memerrotel.Instrumentation
}

// instrumentation returns the suite's one memerrotel Instrumentation.
func instrumentation() *memerrotel.Instrumentation {
	telemetry.once.Do(func() {
		telemetry.reader = sdkmetric.NewManualReader()
		telemetry.spans = tracetest.NewSpanRecorder()
		inst, err := memerrotel.New(
			memerrotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(telemetry.reader))),
			memerrotel.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(telemetry.spans))),
			memerrotel.WithRequestIDHeader("X-Request-Id"))
		if err != nil {
			panic(err)
		}
		telemetry.inst = inst
	})
	return telemetry.inst
}

// instrumented are the options that put the suite's Instrumentation on a
// client: its hooks, and its request wrapper under the transport, on a
// base whose idle connections close when the test ends.
func instrumented(t testing.TB) []memerr.Option {
	inst := instrumentation()
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	return []memerr.Option{
		memerr.WithHooks(inst.Hooks(memerr.Hooks{})),
		memerr.WithBaseTransport(inst.Wrap(base)),
	}
}

// collectTelemetry adds everything the instrumentation exported to the
// collector and reports how many values it read.
func collectTelemetry() int {
	if telemetry.inst == nil {
		return 0
	}
	n := 0
	note := func(where string, attrs []attribute.KeyValue) {
		for _, a := range attrs {
			secrets.note(where + " " + string(a.Key) + "=" + a.Value.String())
			n++
		}
	}
	var rm metricdata.ResourceMetrics
	if err := telemetry.reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					note(m.Name, p.Attributes.ToSlice())
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					note(m.Name, p.Attributes.ToSlice())
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					note(m.Name, p.Attributes.ToSlice())
				}
			default:
				panic(fmt.Sprintf("metric %s: unexpected data %T", m.Name, m.Data))
			}
		}
	}
	for _, s := range telemetry.spans.Ended() {
		note("span "+s.Name(), s.Attributes())
		secrets.note("span status " + s.Status().Description)
		for _, ev := range s.Events() {
			note("span event "+ev.Name, ev.Attributes)
		}
	}
	return n
}
