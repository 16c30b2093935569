// Command failpath measures, on loopback, what memerr's Transport does when
// a host fails, next to go-retryablehttp, and prints the figures as
// Markdown tables:
//
//  1. the time until a caller learns that a host is down: memerr's first
//     calls, which retry and trip the breaker, then calls with the breaker
//     open, against one call through go-retryablehttp's retry schedule;
//  2. the time spent on a Retry-After longer than the caller's deadline;
//  3. the requests that reach a host during an outage of fixed length while
//     clients send requests at a fixed rate, with and without memerr's
//     breaker and retry budget, and through go-retryablehttp.
//
// Usage:
//
//	cd integration && go run ./cmd/failpath [-outage 2s] [-clients 10] [-interval 50ms]
//
// Every loop is bounded; a run takes about 35 seconds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/memerr/memerr"
)

var (
	outage   = flag.Duration("outage", 2*time.Second, "length of the outage in the load scenario")
	recovery = flag.Duration("recovery", 2*time.Second, "time the load goes on after the outage")
	clients  = flag.Int("clients", 10, "clients sending requests in the load scenario")
	interval = flag.Duration("interval", 50*time.Millisecond, "time between two requests of one client")
	timeout  = flag.Duration("timeout", 3*time.Second, "deadline of each request in the load scenario")
	waitMax  = flag.Duration("retryablehttp-wait-max", 2*time.Second, "go-retryablehttp's RetryWaitMax in scenario 1 (its default is 30s)")
)

func main() {
	flag.Parse()
	fmt.Println("### 1. Time until a caller learns that a host is down")
	fmt.Println()
	downTable()
	fmt.Println()
	fmt.Println("### 2. Retry-After longer than the caller's deadline")
	fmt.Println()
	retryAfterTable()
	fmt.Println()
	fmt.Println("### 3. Requests sent to a host during an outage")
	fmt.Println()
	outageTable()
}

// counter is a test server that counts the requests it receives.
type counter struct {
	*httptest.Server
	n atomic.Int64
}

func newCounter(h func(w http.ResponseWriter)) *counter {
	c := &counter{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		c.n.Add(1)
		h(w)
	}))
	return c
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "service unavailable\n")
}

// get sends one GET through rt and returns its outcome, the body read and
// closed.
func get(ctx context.Context, rt http.RoundTripper, url string) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func outcome(status int, err error) string {
	switch {
	case errors.Is(err, memerr.ErrCircuitOpen):
		return "ErrCircuitOpen"
	case errors.Is(err, context.DeadlineExceeded):
		return "context deadline exceeded"
	case err != nil:
		// go-retryablehttp's text starts with the method and the URL,
		// whose port changes from run to run.
		msg := err.Error()
		if i := strings.Index(msg, "giving up"); i >= 0 {
			msg = msg[i:]
		}
		return "error: " + msg
	}
	return fmt.Sprintf("HTTP %d response", status)
}

func newRetryable(waitMax time.Duration) *retryablehttp.RoundTripper {
	c := retryablehttp.NewClient()
	c.Logger = nil
	if waitMax > 0 {
		c.RetryWaitMax = waitMax
	}
	return &retryablehttp.RoundTripper{Client: c}
}

func downTable() {
	srv := newCounter(unavailable)
	defer srv.Close()
	fmt.Println("A server that answers every request with 503. memerr: NewTransport(nil), defaults (3 retries,")
	fmt.Println("backoff 250ms-8s with full jitter, breaker trips after 5 failures in a row). go-retryablehttp:")
	fmt.Printf("NewClient() with Logger nil and RetryWaitMax %v instead of its default 30s (RetryMax 4,\n", *waitMax)
	fmt.Println("RetryWaitMin 1s), through its RoundTripper.")
	fmt.Println()
	fmt.Println("| client | call | time to return | requests sent | caller gets |")
	fmt.Println("|---|---|---:|---:|---|")

	mt := memerr.NewTransport(nil)
	defer mt.CloseIdleConnections()
	ctx := context.Background()
	var tripped time.Duration
	for i := 1; i <= 5; i++ {
		before := srv.n.Load()
		start := time.Now()
		status, err := get(ctx, mt, srv.URL)
		d := time.Since(start)
		tripped += d
		fmt.Printf("| memerr | call %d | %v | %d | %s |\n", i, d.Round(time.Microsecond), srv.n.Load()-before, outcome(status, err))
		if st, _ := mt.BreakerState(srv.URL); st == memerr.CircuitOpen {
			fmt.Printf("| memerr | calls 1-%d together (breaker now open) | %v | | |\n", i, tripped.Round(time.Microsecond))
			break
		}
	}
	const open = 1000
	times := make([]time.Duration, 0, open)
	before := srv.n.Load()
	var last string
	for range open {
		start := time.Now()
		status, err := get(ctx, mt, srv.URL)
		times = append(times, time.Since(start))
		last = outcome(status, err)
	}
	slices.Sort(times)
	fmt.Printf("| memerr | next %d calls, breaker open: median (p99) | %v (%v) | %d in all | %s |\n",
		open, times[open/2], times[open*99/100], srv.n.Load()-before, last)

	rt := newRetryable(*waitMax)
	before = srv.n.Load()
	start := time.Now()
	status, err := get(ctx, rt, srv.URL)
	d := time.Since(start)
	fmt.Printf("| go-retryablehttp | every call (no breaker) | %v | %d | %s |\n", d.Round(time.Millisecond), srv.n.Load()-before, outcome(status, err))
}

func retryAfterTable() {
	const hint, deadline = 10 * time.Second, 2 * time.Second
	srv := newCounter(func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", fmt.Sprint(int(hint.Seconds())))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "slow down\n")
	})
	defer srv.Close()
	fmt.Printf("A server that answers 429 with Retry-After: %d; the caller's context has a %v deadline.\n", int(hint.Seconds()), deadline)
	fmt.Println("Both clients with their defaults (go-retryablehttp: NewClient(), Logger nil).")
	fmt.Println()
	fmt.Println("| client | time to return | requests sent | caller gets |")
	fmt.Println("|---|---:|---:|---|")
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"memerr", memerr.NewTransport(nil)},
		{"go-retryablehttp", newRetryable(0)},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		before := srv.n.Load()
		start := time.Now()
		status, err := get(ctx, c.rt, srv.URL)
		d := time.Since(start)
		cancel()
		fmt.Printf("| %s | %v | %d | %s |\n", c.name, d.Round(time.Microsecond), srv.n.Load()-before, outcome(status, err))
	}
}

// phases counts the requests a server receives during and after an outage.
type phases struct {
	start          time.Time
	outage         time.Duration
	during, after  atomic.Int64
	okBody         []byte
	okBodyLenField string
}

func (p *phases) serve(w http.ResponseWriter, _ *http.Request) {
	if time.Since(p.start) < p.outage {
		p.during.Add(1)
		unavailable(w)
		return
	}
	p.after.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", p.okBodyLenField)
	_, _ = w.Write(p.okBody)
}

func outageTable() {
	fmt.Printf("%d clients each send a GET every %v (open loop: %d requests/s in all) for %v; the server\n",
		*clients, *interval, int(float64(*clients)*float64(time.Second)/float64(*interval)), *outage+*recovery)
	fmt.Printf("answers 503 for the first %v, then a Coze success. Each request has a %v deadline.\n", *outage, *timeout)
	fmt.Println("\"sent during outage\" counts requests the server received while it answered 503.")
	fmt.Println()
	fmt.Println("| client | caller requests | sent during outage | sent after | caller successes | caller failures | of which ErrCircuitOpen |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, c := range []struct {
		name string
		new  func() http.RoundTripper
	}{
		{"memerr default (breaker + retry budget)", func() http.RoundTripper { return memerr.NewTransport(nil) }},
		{"memerr, breaker OpenTimeout 500ms", func() http.RoundTripper {
			return memerr.NewTransport(nil, memerr.WithBreaker(memerr.BreakerSettings{OpenTimeout: 500 * time.Millisecond}))
		}},
		{"memerr WithoutBreaker (retry budget on)", func() http.RoundTripper {
			return memerr.NewTransport(nil, memerr.WithoutBreaker())
		}},
		{"memerr WithoutBreaker, WithRetryBudget(nil)", func() http.RoundTripper {
			return memerr.NewTransport(nil, memerr.WithoutBreaker(), memerr.WithRetryBudget(nil))
		}},
		{"go-retryablehttp defaults", func() http.RoundTripper { return newRetryable(0) }},
	} {
		r := runOutage(c.new())
		fmt.Printf("| %s | %d | %d | %d | %d | %d | %d |\n", c.name, r.calls, r.during, r.after, r.ok, r.failed, r.open)
	}
}

type outageResult struct {
	calls, during, after, ok, failed, open int64
}

func runOutage(rt http.RoundTripper) outageResult {
	body := []byte(`{"code":0,"msg":"","data":{"id":"m_01"}}`)
	p := &phases{outage: *outage, okBody: body, okBodyLenField: fmt.Sprint(len(body))}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	defer srv.Close()
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		defer c.CloseIdleConnections()
	}

	var res outageResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	p.start = time.Now()
	end := p.start.Add(*outage + *recovery)
	for i := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stagger the clients over one interval.
			time.Sleep(time.Duration(i) * *interval / time.Duration(*clients))
			tick := time.NewTicker(*interval)
			defer tick.Stop()
			for now := time.Now(); now.Before(end); now = <-tick.C {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), *timeout)
					defer cancel()
					status, err := get(ctx, rt, srv.URL)
					mu.Lock()
					defer mu.Unlock()
					res.calls++
					switch {
					case err == nil && status == http.StatusOK:
						res.ok++
					case errors.Is(err, memerr.ErrCircuitOpen):
						res.failed++
						res.open++
					default:
						res.failed++
					}
				}()
			}
		}()
	}
	wg.Wait()
	res.during, res.after = p.during.Load(), p.after.Load()
	return res
}

func init() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: failpath [flags]\n\nPrints the failure-path tables of BENCHMARKS.md.")
		flag.PrintDefaults()
	}
}
