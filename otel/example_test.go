package memerrotel_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
	memerrotel "github.com/memerr/memerr/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Instrument a Transport: its Hooks record every attempt, retry and
// breaker change, Wrap every whole request. Here a Coze server fails once
// with 5000 (internal error) and the retry succeeds.
func Example() {
	reader := sdkmetric.NewManualReader() // in production: the Prometheus exporter, or OTLP
	inst, err := memerrotel.New(memerrotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		panic(err)
	}
	defer inst.Close()
	rt := memerr.NewTransport(nil,
		memerr.WithVendor(memerr.Coze),
		memerr.WithBackoff(time.Millisecond, time.Millisecond),
		memerr.WithHooks(inst.Hooks(memerr.Hooks{})), // your own hooks go in the argument
	)
	hc := &http.Client{Transport: inst.Wrap(rt)}

	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.Enqueue(memerrtest.Error(memerr.CozeInternalError))
	resp, err := hc.Get(srv.URL + "/v1/memories")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, p := range sum.DataPoints {
				lines = append(lines, fmt.Sprintf("%s{%s} %d", m.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value))
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// memerr.client.attempts{memerr.code=5000,memerr.kind=internal,memerr.outcome=failure,memerr.vendor=coze} 1
	// memerr.client.attempts{memerr.outcome=success,memerr.vendor=coze} 1
	// memerr.client.retries{memerr.retry.reason=internal,memerr.vendor=coze} 1
}
