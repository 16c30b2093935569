// Command handler shows a service's HTTP handler that calls a memory API
// through memerr and answers its own callers according to the Kind of
// each failure, whatever the vendor and its code.
//
//	go run ./examples/handler
//
// The memory API is memerrtest speaking Tensorheart's envelopes; the
// service runs on an httptest server; a few scripted upstream failures show
// what the service's callers receive.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "handler:", err)
		os.Exit(1)
	}
}

// recallService answers GET /recall?id=... with the content of a memory
// kept by the upstream memory API.
type recallService struct {
	memory *memerr.Client
	api    string // the memory API's base URL
	log    *slog.Logger
}

// memoryRecord is the upstream's data payload.
type memoryRecord struct {
	ID      string `json:"id"`
	Content string `json:"content"`
}

func (s *recallService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing id"})
		return
	}
	var m memoryRecord
	// The caller's context bounds the upstream call: if the caller gives
	// up, memerr stops retrying and waiting.
	err := s.memory.DoJSON(r.Context(), "GET", s.api+"/v1/memories/"+id, nil, &m)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": m.ID, "content": m.Content})
}

// fail maps an upstream failure to this service's response. The switch is
// on the Kind only: the same code serves every vendor memerr knows. The
// vendor's message and request id go to the log, for the operator; the
// caller gets a short message of our own and the upstream request id to
// quote when reporting a problem.
func (s *recallService) fail(w http.ResponseWriter, err error) {
	var e *memerr.Error
	if !errors.As(err, &e) {
		// DoJSON returns *memerr.Error for every failure of the call; other
		// errors mean the data payload could not be decoded.
		s.log.Error("recall: unexpected upstream reply", "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "unexpected reply from the memory service"})
		return
	}
	s.log.Warn("recall: upstream failure", "vendor", e.Vendor, "code", e.Code, "kind", e.Kind,
		"request_id", e.RequestID, "attempts", e.Attempts, "err", err)

	status, msg := http.StatusBadGateway, "the memory service failed"
	switch e.Kind {
	case memerr.KindRateLimited:
		// The upstream asked for a longer wait than this service will spend
		// inside a request (see WithMaxRetryWait below). Pass the wait on
		// so well-behaved callers come back at the right time.
		status, msg = http.StatusServiceUnavailable, "the memory service is busy; retry later"
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(e.RetryAfter), 10))
		}
	case memerr.KindNotFound:
		status, msg = http.StatusNotFound, "no such memory"
	case memerr.KindUnauthenticated, memerr.KindPermissionDenied:
		// Our credentials, not the caller's: a gateway failure, never a 401
		// that would send the caller to fix its own login.
		status, msg = http.StatusBadGateway, "the memory service rejected our upstream credentials"
	case memerr.KindQuotaExceeded, memerr.KindInsufficientBalance:
		// Our account's limit: the caller cannot pay it, so no 402, and
		// waiting seconds will not help, so no Retry-After.
		status, msg = http.StatusServiceUnavailable, "the memory service account is out of quota or credit; the operators have been told"
	case memerr.KindUnavailable, memerr.KindInternal:
		// An open circuit breaker: memerr did not even call the upstream.
		// Tell the caller when the breaker will try again.
		var be *memerr.BreakerError
		if errors.As(err, &be) {
			status, msg = http.StatusServiceUnavailable, "the memory service is down; not calling it for a while"
			if be.Remaining > 0 {
				w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(be.Remaining), 10))
			}
		}
	}
	body := map[string]string{"error": msg}
	if e.RequestID != "" {
		body["upstream_request_id"] = e.RequestID
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ceilSeconds rounds d up to whole seconds, as Retry-After counts them.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// scenario is one upstream script and what the service's caller should get.
type scenario struct {
	name       string
	id         string
	upstream   []memerrtest.Response
	wantStatus int
	busyHost   bool // played on a second upstream host, so that its rate limit holds only that host
}

func run(w io.Writer) error {
	upstream := memerrtest.NewServer(memerrtest.WithVendor(memerr.Tensorheart))
	defer upstream.Close()
	// The rate-limit scenarios run on a host of their own: after the
	// upstream's "retry in 7s", memerr holds that host for 7s, and the demo
	// does not wait.
	busy := memerrtest.NewServer(memerrtest.WithVendor(memerr.Tensorheart))
	defer busy.Close()

	svc := &recallService{
		api: upstream.URL,
		memory: memerr.NewClient(
			memerr.WithVendor(memerr.Tensorheart),
			// Inside a request path, wait at most 2s for the upstream's
			// rate limit; a longer hint comes back to the handler at once.
			memerr.WithMaxRetryWait(2*time.Second),
			memerr.WithMaxRetries(2),
			// Five failures in a row open the upstream's breaker for a
			// minute (these are the defaults, except the 30s).
			memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 5, OpenTimeout: time.Minute}),
			memerr.WithBackoff(10*time.Millisecond, 20*time.Millisecond), // short, for the demo
		),
		// The log would go to the service's log; here it is discarded so
		// the output stays short.
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	service := httptest.NewServer(svc)
	defer service.Close()

	rid := func(r memerrtest.Response, id string) memerrtest.Response { return r.WithRequestID(id) }
	scenarios := []scenario{
		{"a memory that exists", "mem_1",
			[]memerrtest.Response{rid(memerrtest.Success(memerr.Tensorheart, memoryRecord{"mem_1", "likes green tea"}), "req_0000000000000001")},
			http.StatusOK, false},
		{"a memory that does not", "mem_2",
			[]memerrtest.Response{rid(memerrtest.Error(memerr.TensorheartMemoryNotFound), "req_0000000000000002")},
			http.StatusNotFound, false},
		{"a rate limit longer than the service will wait", "mem_3",
			[]memerrtest.Response{rid(memerrtest.Error(memerr.TensorheartRateLimitExceeded).WithRetryAfter(7*time.Second), "req_0000000000000003")},
			http.StatusServiceUnavailable, true},
		// memerr remembers the wait: the next call is refused at once,
		// without a request, until the 7s are over.
		{"the next call, within that wait", "mem_3",
			nil,
			http.StatusServiceUnavailable, true},
		{"a revoked API key", "mem_4",
			[]memerrtest.Response{rid(memerrtest.Error(memerr.TensorheartInvalidAPIKey), "req_0000000000000004")},
			http.StatusBadGateway, false},
		{"the daily quota used up", "mem_5",
			[]memerrtest.Response{rid(memerrtest.Error(memerr.TensorheartDailyQuotaExceeded), "req_0000000000000005")},
			http.StatusServiceUnavailable, false},
		{"a proxy's 502 page, three times", "mem_6",
			memerrtest.Repeat(memerrtest.HTMLBadGateway(), 3),
			http.StatusBadGateway, false},
		// Two more failures make five in a row: the breaker opens and ends
		// the retries.
		{"the outage goes on", "mem_7",
			memerrtest.Repeat(memerrtest.HTMLBadGateway(), 3),
			http.StatusBadGateway, false},
		{"the next call, breaker open", "mem_8",
			nil,
			http.StatusServiceUnavailable, false},
	}

	for _, sc := range scenarios {
		up := upstream
		svc.api = upstream.URL
		if sc.busyHost {
			up, svc.api = busy, busy.URL
		}
		up.Reset()
		up.Enqueue(sc.upstream...)
		resp, err := http.Get(service.URL + "/recall?id=" + sc.id)
		if err != nil {
			return fmt.Errorf("%s: %v", sc.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: reading the response: %v", sc.name, err)
		}

		fmt.Fprintf(w, "%s (upstream: %s)\n", sc.name, plural(up.RequestCount(), "request"))
		fmt.Fprintf(w, "  GET /recall?id=%s -> %d %s\n", sc.id, resp.StatusCode, http.StatusText(resp.StatusCode))
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Fprintf(w, "  Retry-After: %s\n", ra)
		}
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(string(body)))
		if resp.StatusCode != sc.wantStatus {
			return fmt.Errorf("%s: status %d, want %d", sc.name, resp.StatusCode, sc.wantStatus)
		}
	}
	return nil
}

// plural writes "1 request", "3 requests".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
