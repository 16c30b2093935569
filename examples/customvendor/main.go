// Command customvendor teaches memerr a sixth memory API, one memerr does
// not ship, and shows that it then goes through the same decoder, retries
// and circuit breaker as the five built-in vendors.
//
//	go run ./examples/customvendor
//
// The vendor here, "recall", is made up: an in-house memory service whose
// errors look like
//
//	HTTP 429  {"ok":false,"err":{"kind":"SLOW_DOWN","text":"..."},"trace":"tr-..."}
//
// and whose successes look like {"ok":true,"data":{...}}. One Profile
// describes all of that: where the code, message and request id live,
// which member says success, and what each code means. memerrtest serves
// the vendor's envelopes from the same profile.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "customvendor:", err)
		os.Exit(1)
	}
}

// Recall is the sixth vendor.
const Recall memerr.Vendor = "recall"

// Its codes, as values errors.Is can match.
var (
	RecallSlowDown     = memerr.Code{Vendor: Recall, Value: "SLOW_DOWN"}
	RecallNoSuchMemory = memerr.Code{Vendor: Recall, Value: "NO_SUCH_MEMORY"}
	RecallBackendDown  = memerr.Code{Vendor: Recall, Value: "BACKEND_DOWN"}
)

// recallProfile is everything memerr needs to know about the vendor.
var recallProfile = memerr.Profile{
	Vendor: Recall,
	Names:  []string{"Recall API"},
	Envelopes: []memerr.Envelope{{
		Success:   "ok",
		Code:      "err.kind",
		Message:   []string{"err.text"},
		RequestID: []string{"trace"},
	}},
	Authority:        "ok", // "ok":true settles a success without reading the payload
	RequestIDHeaders: []string{"X-Recall-Trace"},
	IdempotencyKeys:  true, // a POST with an Idempotency-Key may be retried
	Detect:           memerr.Detection{Members: []string{"err.kind"}},
	Codes: []memerr.CodeInfo{
		{Code: RecallSlowDown, Kind: memerr.KindRateLimited, Status: 429,
			Meaning: "too many requests for this tenant", Resolution: "wait for Retry-After, then retry"},
		{Code: RecallNoSuchMemory, Kind: memerr.KindNotFound, Status: 404,
			Meaning: "the memory does not exist", Resolution: "check the memory id"},
		{Code: RecallBackendDown, Kind: memerr.KindUnavailable, Status: 503,
			Meaning: "the storage backend is down", Resolution: "retry later"},
	},
}

// A program registers its vendors once, as it starts.
func init() { memerr.MustRegister(recallProfile) }

func run(w io.Writer) error {
	// Registering a name twice is refused at once.
	if err := memerr.Register(recallProfile); !errors.Is(err, memerr.ErrProfile) {
		return fmt.Errorf("a second registration: got %v, want ErrProfile", err)
	}
	fmt.Fprintln(w, "registered:", Recall, "- a second registration fails with ErrProfile")

	srv := memerrtest.NewServer(memerrtest.WithVendor(Recall))
	defer srv.Close()
	client := memerr.NewClient(
		memerr.WithVendor(Recall),
		memerr.WithBackoff(time.Millisecond, 5*time.Millisecond),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Minute}),
	)
	ctx := context.Background()

	// 1. A decoded error: errors.Is by Kind and by Code, errors.As.
	srv.Enqueue(memerrtest.Error(RecallNoSuchMemory).WithRequestID("tr-42"))
	var out struct{ Text string }
	err := client.DoJSON(ctx, http.MethodGet, srv.URL+"/memories/m9", nil, &out)
	var e *memerr.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("want a *memerr.Error, got %v", err)
	}
	fmt.Fprintln(w, "\n1. a decoded error")
	fmt.Fprintln(w, "  err:", err)
	fmt.Fprintf(w, "  vendor %s, code %s, kind %s, request id %s\n", e.Vendor, e.Code, e.Kind, e.RequestID)
	fmt.Fprintln(w, "  errors.Is(err, memerr.ErrNotFound) =", errors.Is(err, memerr.ErrNotFound))
	fmt.Fprintln(w, "  errors.Is(err, RecallNoSuchMemory) =", errors.Is(err, RecallNoSuchMemory))
	if !errors.Is(err, memerr.ErrNotFound) || !errors.Is(err, RecallNoSuchMemory) || e.RequestID != "tr-42" {
		return fmt.Errorf("the error does not match its Kind, Code and request id: %v", err)
	}

	// 2. Its rate-limit code is retried after the server's hint.
	srv.Enqueue(memerrtest.Error(RecallSlowDown).WithRetryAfter(0),
		memerrtest.Success(Recall, map[string]string{"text": "prefers green tea"}))
	before := srv.RequestCount()
	if err := client.DoJSON(ctx, http.MethodGet, srv.URL+"/memories/m1", nil, &out); err != nil {
		return fmt.Errorf("the rate limit was not retried: %w", err)
	}
	fmt.Fprintln(w, "\n2. SLOW_DOWN is retried")
	fmt.Fprintf(w, "  got %q after %d requests\n", out.Text, srv.RequestCount()-before)
	if srv.RequestCount()-before != 2 {
		return fmt.Errorf("want 2 requests, the server saw %d", srv.RequestCount()-before)
	}

	// 3. Its outage code trips the breaker: the next call fails at once.
	srv.Enqueue(memerrtest.Repeat(memerrtest.Error(RecallBackendDown), 20)...)
	err = client.DoJSON(ctx, http.MethodGet, srv.URL+"/memories/m1", nil, &out)
	fmt.Fprintln(w, "\n3. BACKEND_DOWN opens the circuit")
	fmt.Fprintln(w, "  first call:", err)
	before = srv.RequestCount()
	err = client.DoJSON(ctx, http.MethodGet, srv.URL+"/memories/m1", nil, &out)
	fmt.Fprintln(w, "  next call: ", err)
	fmt.Fprintln(w, "  errors.Is(err, memerr.ErrCircuitOpen) =", errors.Is(err, memerr.ErrCircuitOpen), "- requests sent:", srv.RequestCount()-before)
	if !errors.Is(err, memerr.ErrCircuitOpen) || srv.RequestCount() != before {
		return fmt.Errorf("the breaker did not open: %v", err)
	}
	return nil
}
