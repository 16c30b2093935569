package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endless is a reader of repeated bytes that never allocates past its
// pattern: a body of any size, generated on the fly.
type endless struct {
	pattern []byte
	off     int
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.pattern[e.off:])
		n += c
		e.off = (e.off + c) % len(e.pattern)
	}
	return n, nil
}

// TestHostileGigabyteErrorBody: a 500 whose body declares and streams 1 GiB
// is read only up to MaxErrorBody; memory stays bounded and the server
// sends a small fraction of the gigabyte.
func TestHostileGigabyteErrorBody(t *testing.T) {
	const gib = 1 << 30
	for _, limit := range []int64{64 << 10, memerr.DefaultMaxErrorBody} {
		var sent atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(gib))
			w.WriteHeader(http.StatusInternalServerError)
			n, _ := io.CopyN(w, &endless{pattern: []byte("upstream exploded, again and again; ")}, gib)
			sent.Add(n)
		}))
		c := newClient(t, memerr.WithMaxErrorBody(limit), memerr.WithMaxRetries(2),
			memerr.WithBackoff(time.Millisecond, 2*time.Millisecond), memerr.WithoutBreaker())
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		start := time.Now()
		_, err := do(c, newRequest(ctx, t, http.MethodGet, srv.URL, "/v1/huge", nil))
		elapsed := time.Since(start)
		cancel()
		runtime.ReadMemStats(&after)
		e := asError(t, err)
		assert.Equal(t, memerr.KindInternal, e.Kind)
		assert.Equal(t, 3, e.Attempts)
		assert.LessOrEqual(t, utf8.RuneCountInString(e.Message), 210)
		alloc := after.TotalAlloc - before.TotalAlloc
		// The handlers end once their connections are gone; Close waits
		// for them, so sent then holds every byte the server wrote.
		c.Transport().CloseIdleConnections()
		srv.CloseClientConnections()
		srv.Close()
		t.Logf("hostile: 1 GiB error body, MaxErrorBody %d KiB, 3 attempts: allocated %.1f MiB in all, heap in use %+.1f MiB, server wrote %.1f MiB, took %v",
			limit>>10, float64(alloc)/(1<<20), (float64(after.HeapAlloc)-float64(before.HeapAlloc))/(1<<20),
			float64(sent.Load())/(1<<20), elapsed.Round(time.Millisecond))
		// Three attempts each buffer at most limit+1 bytes (with doubling
		// growth) and drain at most 256 KiB; 16 MiB is a generous ceiling
		// against the 3 GiB a naive reader would allocate.
		assert.Less(t, alloc, uint64(16<<20), "bytes allocated for a 1 GiB error body")
		// What the client read, plus what the loopback socket buffers took
		// before the client hung up: a few MiB per attempt, not the 3 GiB
		// a client that drained the body would have taken. A count, not a
		// time: a client that drained all 3 GiB without keeping them took
		// 2 s to 2.5 s here without the race detector, and 18 s with it.
		assert.Less(t, sent.Load(), int64(64<<20), "bytes the server wrote for 3 attempts")
	}
}

// TestHostileEndlessBody: a body that never ends is cut by the deadline,
// for an error status (read for decoding) and a 200 (read by the caller).
func TestHostileEndlessBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		rc := http.NewResponseController(w)
		for i := 0; i < 10_000; i++ { // at most 10s, ends when the client goes
			if _, err := w.Write([]byte(`[`)); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	c := newClient(t, memerr.WithMaxRetries(1), memerr.WithoutBreaker())
	for _, status := range []int{500, 200} {
		const deadline = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		var out any
		err := c.DoJSON(ctx, http.MethodGet, secretURL(t, srv.URL, "/v1/endless?status="+strconv.Itoa(status)), nil, &out)
		elapsed := time.Since(start)
		cancel()
		secrets.noteErr(err)
		require.Error(t, err, "status %d", status)
		asError(t, err)
		assert.Less(t, elapsed, deadline+500*time.Millisecond, "status %d: cut by the deadline", status)
		t.Logf("hostile: endless body, status %d: %v after %v", status, err, elapsed.Round(time.Millisecond))
	}
}

// TestHostileRetryAfter: absurd wait hints are capped or ignored, never
// overflowed into a negative or endless wait.
func TestHostileRetryAfter(t *testing.T) {
	cases := []struct {
		value   string
		capped  bool // read as memerr.MaxHint, too long to wait for
		ignored bool // garbage: the backoff is used and the retry passes
	}{
		{"99999999999", true, false},
		{"1e308", false, false}, // not delta-seconds: capped or ignored, either is safe
		{"-5", false, true},
		{"NaN", false, true},
		{"Inf", false, true},
		{"0x10", false, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", true, false},
		{"Thu, 01 Jan 1970 00:00:00 GMT", false, false}, // a moment already past: no wait
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			h := http.Header{"Retry-After": {tc.value}}
			d, ok := memerr.ParseRetryAfter(h, time.Now())
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, memerr.MaxHint)
			switch {
			case tc.capped:
				assert.True(t, ok)
				assert.Equal(t, memerr.MaxHint, d)
			case tc.ignored:
				assert.False(t, ok)
			}

			vendor := memerrtest.NewServer()
			defer vendor.Close()
			vendor.Enqueue(memerrtest.Status(http.StatusServiceUnavailable, "").WithHeader("Retry-After", tc.value))
			c := newClient(t, memerr.WithMaxRetries(1), memerr.WithBackoff(time.Millisecond, 2*time.Millisecond), memerr.WithoutBreaker())
			start := time.Now()
			_, err := do(c, newRequest(context.Background(), t, http.MethodGet, vendor.URL, "/v1/x", nil))
			elapsed := time.Since(start)
			assert.Less(t, elapsed, time.Second, "no absurd wait")
			if tc.capped {
				e := asError(t, err)
				assert.Equal(t, memerr.MaxHint, e.RetryAfter, "the caller sees the capped hint")
				assert.Equal(t, 1, e.Attempts, "a hint past MaxRetryWait is not waited for")
				assert.Equal(t, 1, vendor.RequestCount())
			} else if tc.ignored || !ok || d == 0 {
				assert.NoError(t, err, "the retry after a garbage or past hint succeeds")
				assert.Equal(t, 2, vendor.RequestCount())
			}
			secrets.noteErr(err)
		})
	}
}

// TestHostileNesting: 100,000 nested brackets, as an error body through the
// client and straight into Parse and ParseEvent, do not overflow the stack
// or panic.
func TestHostileNesting(t *testing.T) {
	const depth = 100_000
	bodies := map[string][]byte{
		"arrays":           []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth)),
		"objects":          []byte(strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)),
		"unclosed":         []byte(strings.Repeat("[{", depth)),
		"in error":         []byte(`{"code":4000,"msg":"x","detail":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`),
		"in error.details": []byte(`{"success":false,"error":{"code":"VALIDATION_ERROR","message":"bad","details":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + `}}`),
	}
	vendor := memerrtest.NewServer()
	defer vendor.Close()
	c := newClient(t, memerr.WithMaxRetries(0), memerr.WithoutBreaker())
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			for _, status := range []int{200, 400, 500} {
				require.NotPanics(t, func() {
					_ = memerr.Parse(memerr.Auto, status, nil, body)
					_ = memerr.ParseEvent(memerr.Auto, body)
				})
			}
			err := memerr.Parse(memerr.Auto, 500, nil, body)
			e := asError(t, err)
			assert.NotEqual(t, memerr.KindUnknown, e.Kind)
			assert.Less(t, len(e.Error()), 1024, "the error line stays short")
			vendor.Enqueue(memerrtest.Status(http.StatusInternalServerError, "").WithBody(body).WithHeader("Content-Type", "application/json"))
			_, err = do(c, newRequest(context.Background(), t, http.MethodGet, vendor.URL, "/v1/deep", nil))
			e = asError(t, err)
			assert.Equal(t, http.StatusInternalServerError, e.StatusCode)
			if strings.HasPrefix(name, "in error") {
				// A well-formed envelope: its code decides (Coze 4000,
				// Tensorheart VALIDATION_ERROR are invalid requests).
				assert.Equal(t, memerr.KindInvalidRequest, e.Kind)
			} else {
				assert.Equal(t, memerr.Generic, e.Vendor)
				assert.Equal(t, memerr.KindInternal, e.Kind)
			}
		})
	}
}

// TestHostileInvalidUTF8: messages with invalid UTF-8, control characters
// and line breaks print as one valid line.
func TestHostileInvalidUTF8(t *testing.T) {
	vendor := memerrtest.NewServer()
	defer vendor.Close()
	c := newClient(t, memerr.WithMaxRetries(0), memerr.WithoutBreaker())
	msgs := []string{
		"bad \xff\xfe\xfd bytes",
		"cut rune \xe4\xb8",
		"line one\nline two\r\n\x00\x1b[31mred",
		strings.Repeat("\xc3", 5000),
		"余额不足 \xff 请充值",
	}
	for _, m := range msgs {
		body := append(append([]byte(`{"code":4011,"msg":"`), []byte(m)...), []byte(`","detail":{"logid":"2024"}}`)...)
		body = bytes.ReplaceAll(body, []byte("\n"), []byte(`\n`))
		body = bytes.ReplaceAll(body, []byte("\r"), []byte(`\r`))
		body = bytes.ReplaceAll(body, []byte("\x00"), []byte(`\u0000`))
		body = bytes.ReplaceAll(body, []byte("\x1b"), []byte(`\u001b`))
		for _, raw := range [][]byte{body, []byte(m)} {
			status := http.StatusOK
			if !bytes.HasPrefix(raw, []byte("{")) {
				status = http.StatusBadGateway // a proxy's text page with broken bytes
			}
			vendor.Enqueue(memerrtest.Status(status, "").WithBody(raw).WithHeader("Content-Type", "application/json"))
			_, err := do(c, newRequest(context.Background(), t, http.MethodPost, vendor.URL, "/v3/chat", []byte(`{}`)))
			e := asError(t, err)
			s := e.Error()
			assert.True(t, utf8.ValidString(s), "valid UTF-8: %q", s)
			assert.NotContains(t, s, "\n")
			assert.NotContains(t, s, "\x1b")
			assert.LessOrEqual(t, utf8.RuneCountInString(s), 400)
		}
	}
}

// TestSecretsEchoed: a server that echoes the caller's key, Authorization
// header and URL in its message must not get them into the error string or
// the logs.
func TestSecretsEchoed(t *testing.T) {
	vendor := memerrtest.NewServer()
	defer vendor.Close()
	c := newClient(t, memerr.WithMaxRetries(1), memerr.WithBackoff(time.Millisecond, 2*time.Millisecond), memerr.WithoutBreaker())
	echo := []string{
		"invalid api key " + fakeKey,
		"Authorization: Bearer " + fakeKey + " rejected",
		"bad url http://" + fakeUser + ":" + fakePassword + "@example.com/v1?" + fakeQuery,
		"token=" + fakeKey,
	}
	for _, m := range echo {
		vendor.Enqueue(
			memerrtest.Error(memerr.CozeSystemBusy).WithMessage(m),
			memerrtest.Error(memerr.Code{Vendor: memerr.Coze, Value: "4100"}).WithMessage(m),
		)
		_, err := do(c, newRequest(context.Background(), t, http.MethodGet, vendor.URL, "/v1/x", nil))
		e := asError(t, err)
		assert.Equal(t, 2, e.Attempts)
		for _, f := range forbidden {
			assert.NotContains(t, e.Error(), f)
			assert.NotContains(t, e.Message, f)
		}
	}
	// Network failures quote the URL in net/http's errors; memerr strips it.
	_, err := do(c, newRequest(context.Background(), t, http.MethodGet, "http://"+freePort(t), "/v1/x", nil))
	e := asError(t, err)
	assert.Equal(t, memerr.KindUnavailable, e.Kind)
	dumpRequests(vendor.Requests())
}
