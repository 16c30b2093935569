// Command prometheus shows memerr's OpenTelemetry metrics the way a
// Prometheus server scrapes them. It needs no network and no API keys: it
// serves /metrics on a loopback port with the OpenTelemetry Prometheus
// exporter, plays a script against memerrtest (a fake Coze server) — a
// success, a rate limit waited out and retried, an outage that opens the
// circuit breaker, a request the open breaker refuses — and prints the
// memerr lines of /metrics.
//
//	cd otel && go run ./examples/prometheus
//
// It exits with status 1 if a step does not behave as described.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
	memerrotel "github.com/memerr/memerr/otel"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "prometheus:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	// Metrics: an OpenTelemetry MeterProvider whose reader is the
	// Prometheus exporter, served on /metrics.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	metricsURL, stop, err := serveMetrics(reg)
	if err != nil {
		return err
	}
	defer stop()

	// The instrumented transport: hooks for attempts, retries and the
	// breaker; Wrap for whole requests; the budget reported as a gauge.
	budget := memerr.NewRetryBudget(0, 0)
	inst, err := memerrotel.New(memerrotel.WithMeterProvider(mp), memerrotel.WithRetryBudget(budget))
	if err != nil {
		return err
	}
	defer inst.Close()
	rt := memerr.NewTransport(nil,
		memerr.WithVendor(memerr.Coze),
		memerr.WithBackoff(5*time.Millisecond, 10*time.Millisecond),
		memerr.WithMaxRetries(2),
		memerr.WithRetryBudget(budget),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Minute}),
		memerr.WithHooks(inst.Hooks(memerr.Hooks{})))
	defer rt.CloseIdleConnections()
	hc := &http.Client{Transport: inst.Wrap(rt)}

	srv := memerrtest.NewServer()
	defer srv.Close()
	srv.EnqueuePath("/v1/limited",
		memerrtest.Error(memerr.CozeUserRateLimited).WithRetryAfterMS(20*time.Millisecond),
		memerrtest.Success(memerr.Coze, map[string]any{"id": "m2"}))
	srv.EnqueuePath("/v1/outage", memerrtest.Repeat(memerrtest.Status(http.StatusServiceUnavailable, ""), 3)...)

	fmt.Fprintln(w, "script:")
	for _, step := range []struct{ path, want string }{
		{"/v1/ok", "ok"},
		{"/v1/limited", "ok"},      // a 4008 rate limit, waited out, then success
		{"/v1/outage", "503"},      // three 503s: the breaker opens
		{"/v1/refused", "refused"}, // the open breaker refuses at once
	} {
		got, err := call(hc, srv.URL+step.path)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  GET %-12s %s\n", step.path, got)
		if got != step.want {
			return fmt.Errorf("GET %s: got %s, want %s", step.path, got, step.want)
		}
	}
	if n := srv.RequestCount(); n != 6 {
		return fmt.Errorf("the server saw %d requests, want 6", n)
	}

	lines, err := scrape(metricsURL)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\n/metrics (memerr lines, histogram buckets left out):")
	for _, l := range lines {
		fmt.Fprintln(w, "  "+l)
	}
	return nil
}

// call sends GET url and says what came of it: "ok", the status of a
// failed response, or "refused" for an open circuit.
func call(hc *http.Client, url string) (string, error) {
	resp, err := hc.Get(url)
	if errors.Is(err, memerr.ErrCircuitOpen) {
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var e *memerr.Error
	if err := memerr.Decode(resp); errors.As(err, &e) {
		return fmt.Sprint(e.StatusCode), nil
	}
	return "ok", nil
}

// serveMetrics serves reg on /metrics on a loopback port.
func serveMetrics(reg *prometheus.Registry) (url string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.Serve(l)
	return "http://" + l.Addr().String() + "/metrics", func() { s.Close() }, nil
}

// scrape fetches /metrics and returns its memerr sample lines, without
// comments and histogram buckets.
func scrape(url string) ([]string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "memerr_") && !strings.Contains(l, "_bucket{") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
