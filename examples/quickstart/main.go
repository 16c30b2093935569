// Command quickstart is a five-minute tour of memerr. It needs no network
// and no API keys: it starts memerrtest, a fake vendor server on the
// loopback interface, and talks to it the way a service talks to a real
// memory API.
//
//	go run ./examples/quickstart
//
// It prints five sections:
//
//  1. one failure from each of the five vendors, decoded into one shape;
//  2. errors.Is and errors.As on those failures;
//  3. a rate-limited call that succeeds after waiting as the server asked;
//  4. an outage that opens the circuit breaker, then its recovery;
//  5. a deadline shorter than the server's Retry-After, failing at once.
//
// Timings are printed rounded to 10ms; everything else is the same on
// every run. The program exits with status 1 if anything does not behave as
// described, so CI notices a broken demo.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run plays the whole tour against a fresh fake server, writing to w. It
// returns an error when the library did not behave as the tour says.
func run(w io.Writer) error {
	// memerrtest.Server answers with scripted responses, in the order they
	// were queued, and records what it received. Once the queue is empty it
	// answers with a success.
	srv := memerrtest.NewServer()
	defer srv.Close()

	start := time.Now()
	steps := []struct {
		title string
		fn    func(io.Writer, *memerrtest.Server) error
	}{
		{"One failure from each vendor", vendorFailures},
		{"errors.Is and errors.As", matching},
		{"A rate limit, waited out", rateLimit},
		{"An outage: the circuit breaker opens, then closes", outage},
		{"A deadline shorter than the server's wait", deadline},
	}
	for i, s := range steps {
		fmt.Fprintf(w, "== %d. %s ==\n\n", i+1, s.title)
		srv.Reset() // a clean request log and empty queues for each step
		if err := s.fn(w, srv); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "All steps behaved as described, in %v.\n", round(time.Since(start)))
	return nil
}

// vendorFailure is one scripted failure and what memerr should make of it.
type vendorFailure struct {
	name   string              // how the vendor calls itself
	resp   memerrtest.Response // what the fake server sends
	vendor memerr.Vendor       // what memerr should detect
	code   string              // the vendor code memerr should report
	kind   memerr.Kind         // the class memerr should give it
	wire   string              // a short note on how the vendor reports it
}

// failures are the five vendors' envelopes. The request ids are fixed so
// that the output is the same on every run; memerrtest makes fresh ones by
// default. MemOS and memories.ai send no request id at all.
var failures = []vendorFailure{
	{
		name:   "MemOS",
		resp:   memerrtest.Error(memerr.MemOSRateLimitExceeded),
		vendor: memerr.MemOS, code: "40300", kind: memerr.KindRateLimited,
		wire: `HTTP 200, {"code":40300,"message":...}`,
	},
	{
		name:   "Tensorheart",
		resp:   memerrtest.Error(memerr.TensorheartMemoryNotFound).WithRequestID("req_7f3a9c2e1b4d5a60"),
		vendor: memerr.Tensorheart, code: "MEMORY_NOT_FOUND", kind: memerr.KindNotFound,
		wire: `HTTP 404, {"success":false,"error":{"code":"MEMORY_NOT_FOUND",...}} and X-Request-ID`,
	},
	{
		name:   "Memory OS",
		resp:   memerrtest.Error(memerr.MemoryOSValidationError).WithRequestID("req_abc123"),
		vendor: memerr.MemoryOS, code: "VALIDATION_ERROR", kind: memerr.KindInvalidRequest,
		wire: `HTTP 400, {"error":{"code":"VALIDATION_ERROR",...},"meta":{"request_id":...}}`,
	},
	{
		name:   "memories.ai",
		resp:   memerrtest.Error(memerr.MemoriesAIInsufficientBalance),
		vendor: memerr.MemoriesAI, code: "402", kind: memerr.KindInsufficientBalance,
		wire: `HTTP 402, {"code":402,"msg":...}`,
	},
	{
		name:   "Coze",
		resp:   memerrtest.Error(memerr.CozeInsufficientBalance).WithRequestID("20250101120000010203040506070809A"),
		vendor: memerr.Coze, code: "4011", kind: memerr.KindInsufficientBalance,
		wire: `HTTP 200, {"code":4011,"msg":...,"detail":{"logid":...}} and X-Tt-Logid`,
	},
}

// vendorFailures asks the fake server for each vendor's failure in turn and
// prints what memerr decoded. The client is told nothing about the vendor:
// memerr recognises each envelope by its shape, its headers and its code.
func vendorFailures(w io.Writer, srv *memerrtest.Server) error {
	// No retries here, so that each failure comes back exactly as sent.
	// (MemOS 40300 is a rate limit, which memerr would otherwise retry.)
	client := memerr.NewClient(memerr.WithMaxRetries(0))

	for i, f := range failures {
		if i > 0 {
			fmt.Fprintln(w)
		}
		srv.Enqueue(f.resp)
		// DoJSON sends the request and decodes the vendor's "data" payload
		// on success; on failure it returns a *memerr.Error.
		var out map[string]any
		err := client.DoJSON(context.Background(), "GET", srv.URL+"/v1/memories/mem_1", nil, &out)

		var e *memerr.Error
		if !errors.As(err, &e) {
			return fmt.Errorf("%s: want a *memerr.Error, got %v", f.name, err)
		}
		if e.Vendor != f.vendor || e.Code != f.code || e.Kind != f.kind {
			return fmt.Errorf("%s: decoded as %s %s %s, want %s %s %s",
				f.name, e.Vendor, e.Code, e.Kind, f.vendor, f.code, f.kind)
		}
		// Info is the registry entry for the code: memerr's own short
		// explanation and advice, the same for every vendor.
		info, ok := e.Info()
		if !ok {
			return fmt.Errorf("%s: code %s missing from the registry", f.name, e.Code)
		}

		fmt.Fprintf(w, "%s sends %s\n", f.name, f.wire)
		fmt.Fprintf(w, "  err        %v\n", err)
		fmt.Fprintf(w, "  vendor     %s\n", e.Vendor)
		fmt.Fprintf(w, "  code       %s (HTTP %d)\n", e.Code, e.StatusCode)
		fmt.Fprintf(w, "  kind       %s, retryable: %t\n", e.Kind, e.Retryable())
		fmt.Fprintf(w, "  request id %s\n", orNone(e.RequestID))
		fmt.Fprintf(w, "  meaning    %s\n", info.Meaning)
		fmt.Fprintf(w, "  resolution %s\n", info.Resolution)
	}
	return nil
}

// matching shows the three ways to test a memerr failure: by Kind (the
// sentinels, the same whatever the vendor), by vendor code (the exported
// Code values, or a template), and errors.As to reach the fields.
func matching(w io.Writer, srv *memerrtest.Server) error {
	client := memerr.NewClient(memerr.WithMaxRetries(0))
	srv.Enqueue(memerrtest.Error(memerr.CozeInsufficientBalance).WithRequestID("20250101120000010203040506070809A"))
	err := client.DoJSON(context.Background(), "POST", srv.URL+"/v3/chat", map[string]string{"bot_id": "73"}, nil)
	// Callers usually add context on the way up; matching sees through it.
	err = fmt.Errorf("answering the user: %w", err)
	fmt.Fprintf(w, "err = %v\n\n", err)

	checks := []struct {
		expr string
		got  bool
		want bool
	}{
		// A Kind sentinel: "is this any vendor's out-of-credit error?"
		{"errors.Is(err, memerr.ErrInsufficientBalance)", errors.Is(err, memerr.ErrInsufficientBalance), true},
		{"errors.Is(err, memerr.ErrRateLimited)", errors.Is(err, memerr.ErrRateLimited), false},
		// One vendor code, from the registry's exported values.
		{"errors.Is(err, memerr.CozeInsufficientBalance)", errors.Is(err, memerr.CozeInsufficientBalance), true},
		{"errors.Is(err, memerr.MemoriesAIInsufficientBalance)", errors.Is(err, memerr.MemoriesAIInsufficientBalance), false},
		// A template: only the fields that are set are compared.
		{`errors.Is(err, memerr.Code{Vendor: memerr.Coze, Value: "4011"})`,
			errors.Is(err, memerr.Code{Vendor: memerr.Coze, Value: "4011"}), true},
		{`errors.Is(err, memerr.Code{Vendor: memerr.Coze})`, errors.Is(err, memerr.Code{Vendor: memerr.Coze}), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			return fmt.Errorf("%s = %t, want %t", c.expr, c.got, c.want)
		}
		fmt.Fprintf(w, "%-68s %t\n", c.expr, c.got)
	}

	// errors.As reaches the *memerr.Error for its fields: the request id
	// is what the vendor's support will ask for.
	var e *memerr.Error
	if !errors.As(err, &e) {
		return errors.New("errors.As found no *memerr.Error")
	}
	fmt.Fprintf(w, "\nerrors.As(err, &e): vendor %s, code %s, kind %s, request id %s\n",
		e.Vendor, e.Code, e.Kind, e.RequestID)

	// A caller typically switches on the Kind.
	switch {
	case errors.Is(err, memerr.ErrRateLimited), errors.Is(err, memerr.ErrUnavailable):
		fmt.Fprintln(w, "decision: try again later")
	case errors.Is(err, memerr.ErrInsufficientBalance), errors.Is(err, memerr.ErrQuotaExceeded):
		fmt.Fprintln(w, "decision: tell the operator to top up the account; retrying will not help")
	default:
		fmt.Fprintln(w, "decision: report the failure")
	}
	return nil
}

// rateLimit shows the transport honouring the server's wait hint: the
// first attempt gets HTTP 429 with retry-after-ms: 300, the second succeeds.
func rateLimit(w io.Writer, srv *memerrtest.Server) error {
	const hint = 300 * time.Millisecond
	srv.Enqueue(
		memerrtest.Error(memerr.TensorheartRateLimitExceeded).WithRequestID("req_0000000000000429").WithRetryAfterMS(hint),
		memerrtest.Success(memerr.Tensorheart, map[string]string{"id": "mem_42", "content": "likes green tea"}).
			WithRequestID("req_0000000000000200"),
	)

	// OnRetry runs before each wait, with the attempt that failed and the
	// wait chosen for it.
	var retries []memerr.RetryEvent
	client := memerr.NewClient(memerr.WithHooks(memerr.Hooks{
		OnRetry: func(ev memerr.RetryEvent) { retries = append(retries, ev) },
	}))

	var memory struct {
		ID      string `json:"id"`
		Content string `json:"content"`
	}
	began := time.Now()
	// A POST is retried here because a rate limit means the server did not
	// act on it; memerr does not retry a POST after a failure that might
	// have been applied.
	err := client.DoJSON(context.Background(), "POST", srv.URL+"/v1/memories",
		map[string]string{"content": "likes green tea"}, &memory)
	took := time.Since(began)
	if err != nil {
		return fmt.Errorf("want success after one retry, got %v", err)
	}
	if len(retries) != 1 {
		return fmt.Errorf("want 1 retry, got %d", len(retries))
	}
	ev := retries[0]
	fmt.Fprintf(w, "attempt %d: HTTP %d, %v\n", ev.Attempt, ev.StatusCode, ev.Err)
	fmt.Fprintf(w, "  the server asked for retry-after-ms: %d; memerr waits that plus a little jitter\n", hint.Milliseconds())
	fmt.Fprintf(w, "attempt %d: HTTP 200, memory %s (%q) saved\n", ev.Attempt+1, memory.ID, memory.Content)
	fmt.Fprintf(w, "the server saw %d requests; the call took %v (chosen wait %v)\n",
		srv.RequestCount(), round(took), round(ev.Wait))
	if ev.Wait < hint || took < hint {
		return fmt.Errorf("waited %v (call took %v), less than the server's %v", ev.Wait, took, hint)
	}
	if !errors.Is(ev.Err, memerr.ErrRateLimited) {
		return fmt.Errorf("the retried failure is %v, want a rate limit", ev.Err)
	}
	return nil
}

// outage shows the per-host circuit breaker. The server fails with HTTP
// 503 until the breaker opens; from then on calls fail at once without
// reaching the server. After the open timeout one trial request goes
// through (half-open), succeeds, and the breaker closes again.
func outage(w io.Writer, srv *memerrtest.Server) error {
	const openTimeout = 400 * time.Millisecond
	srv.Enqueue(memerrtest.Repeat(memerrtest.Status(503, "upstream overloaded"), 3)...)

	// The hook may run on any request's goroutine: guard the slice.
	var (
		mu      sync.Mutex
		changes []string
	)
	client := memerr.NewClient(
		// Small settings for a demo; the defaults are 5 failures in a row
		// (or half of at least 20 requests in 60s) and 30s open.
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: openTimeout}),
		memerr.WithBackoff(20*time.Millisecond, 40*time.Millisecond),
		memerr.WithHooks(memerr.Hooks{OnBreakerChange: func(c memerr.BreakerChange) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, c.From.String()+" -> "+c.To.String())
			fmt.Fprintf(w, "  breaker: %s -> %s\n", c.From, c.To)
		}}),
	)
	ctx := context.Background()
	url := srv.URL + "/v1/memories/search"

	// Call 1: three attempts, three 503s. The third trips the breaker, and
	// the open breaker, not the retry limit (3 retries), ends the call.
	fmt.Fprintln(w, "call 1:")
	err := client.DoJSON(ctx, "GET", url, nil, nil)
	var e *memerr.Error
	if !errors.As(err, &e) || e.Kind != memerr.KindUnavailable {
		return fmt.Errorf("call 1: want an unavailable *memerr.Error, got %v", err)
	}
	fmt.Fprintf(w, "  err: %v\n", err)
	fmt.Fprintf(w, "  the server saw %d requests\n", srv.RequestCount())
	if e.Attempts != 3 || srv.RequestCount() != 3 {
		return fmt.Errorf("call 1: %d attempts, %d requests; want 3 and 3", e.Attempts, srv.RequestCount())
	}

	// Call 2: the breaker is open, so the call fails before it is sent.
	fmt.Fprintln(w, "call 2:")
	began := time.Now()
	err = client.DoJSON(ctx, "GET", url, nil, nil)
	took := time.Since(began)
	var be *memerr.BreakerError
	if !errors.Is(err, memerr.ErrCircuitOpen) || !errors.As(err, &be) {
		return fmt.Errorf("call 2: want a circuit-open error, got %v", err)
	}
	fmt.Fprintf(w, "  failed fast in %s: errors.Is(err, memerr.ErrCircuitOpen) = true, kind %s\n",
		roundText(took), kindOf(err))
	fmt.Fprintf(w, "  *memerr.BreakerError: state %s, half-open in about %v\n",
		be.State, be.Remaining.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  the server still saw %d requests\n", srv.RequestCount())
	if srv.RequestCount() != 3 {
		return fmt.Errorf("call 2 reached the server: %d requests", srv.RequestCount())
	}

	// Call 3: after the open timeout the breaker lets one trial request
	// through. The server has recovered (its queue is empty, so it answers
	// with a success) and the breaker closes.
	time.Sleep(openTimeout + 50*time.Millisecond)
	fmt.Fprintf(w, "call 3, after %v:\n", openTimeout)
	if err := client.DoJSON(ctx, "GET", url, nil, nil); err != nil {
		return fmt.Errorf("call 3: want success, got %v", err)
	}
	fmt.Fprintf(w, "  success; the server saw %d requests\n", srv.RequestCount())

	mu.Lock()
	got := strings.Join(changes, ", ")
	mu.Unlock()
	if want := "closed -> open, open -> half-open, half-open -> closed"; got != want {
		return fmt.Errorf("breaker changes %q, want %q", got, want)
	}
	if st, _ := client.Transport().BreakerState(url); st != memerr.CircuitClosed {
		return fmt.Errorf("breaker is %s at the end, want closed", st)
	}
	return nil
}

// deadline shows a wait hint that cannot be honoured: the server asks for
// 5 s, the caller's context allows 500ms. memerr does not sleep into the
// deadline only to fail; it returns the rate limit at once, carrying the
// server's hint so the caller can decide (queue the work, tell the user).
func deadline(w io.Writer, srv *memerrtest.Server) error {
	const hint = 5 * time.Second
	srv.Enqueue(memerrtest.Error(memerr.MemoryOSRateLimited).WithRequestID("req_abc124").WithRetryAfter(hint))

	client := memerr.NewClient()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()

	began := time.Now()
	err := client.DoJSON(ctx, "GET", srv.URL+"/v1/memories", nil, nil)
	took := time.Since(began)

	var e *memerr.Error
	if !errors.As(err, &e) || e.Kind != memerr.KindRateLimited {
		return fmt.Errorf("want a rate-limited *memerr.Error, got %v", err)
	}
	fmt.Fprintf(w, "deadline 500ms, server says Retry-After: %d\n", int(hint.Seconds()))
	fmt.Fprintf(w, "err: %v\n", err)
	fmt.Fprintf(w, "returned after %s, %d attempt; e.RetryAfter = %v\n", roundText(took), e.Attempts, e.RetryAfter)
	if e.RetryAfter != hint || e.Attempts != 1 {
		return fmt.Errorf("RetryAfter %v, Attempts %d; want %v and 1", e.RetryAfter, e.Attempts, hint)
	}
	if took > 250*time.Millisecond {
		return fmt.Errorf("took %v: memerr waited although the deadline could not be met", took)
	}
	return nil
}

// round makes a duration readable and stable: to 10ms.
func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

// roundText is round as text, with "under 10ms" for what rounds to zero.
func roundText(d time.Duration) string {
	if r := round(d); r > 0 {
		return r.String()
	}
	return "under 10ms"
}

func orNone(s string) string {
	if s == "" {
		return "(none sent)"
	}
	return s
}

// kindOf returns the Kind of err's *memerr.Error, KindUnknown if none.
func kindOf(err error) memerr.Kind {
	var e *memerr.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return memerr.KindUnknown
}
