package memerr

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHookEventsCarryContextAndVendor: every AttemptEvent and RetryEvent
// carries the caller's context values (the trace span of an
// instrumentation lives there) and the vendor configured for the host.
func TestHookEventsCarryContextAndVendor(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"code":0,"msg":"","data":{}}`))
	}))
	defer srv.Close()

	type key struct{}
	var attempts []AttemptEvent
	var retries []RetryEvent
	rt := NewTransport(nil, WithVendor(Coze), WithBackoff(time.Millisecond, time.Millisecond), WithHooks(Hooks{
		OnAttempt: func(ev AttemptEvent) { attempts = append(attempts, ev) },
		OnRetry:   func(ev RetryEvent) { retries = append(retries, ev) },
	}))
	ctx := context.WithValue(context.Background(), key{}, "caller")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	require.Len(t, attempts, 2)
	require.Len(t, retries, 1)
	for _, ev := range attempts {
		require.NotNil(t, ev.Context)
		assert.Equal(t, "caller", ev.Context.Value(key{}))
		assert.Equal(t, Coze, ev.Vendor)
	}
	require.NotNil(t, retries[0].Context)
	assert.Equal(t, "caller", retries[0].Context.Value(key{}))
}

// TestHookPanics: a hook that panics breaks neither the request nor the
// transport: the request gets its response, the panic is logged, and every
// later event still reaches the hooks, the log and the fleet (a breaker
// change hook that panicked once used to silence its scope's changes for
// good, its queue growing without end).
func TestHookPanics(t *testing.T) {
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"code":0,"msg":"","data":{}}`))
	}))
	defer srv.Close()

	clock := useFakeClock(t)
	var logs syncBuffer
	var attempts, retries, changes atomic.Int32
	rt := NewTransport(nil, WithVendor(Coze), WithMaxRetries(1), WithBackoff(time.Millisecond, time.Millisecond),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Second}),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithHooks(Hooks{
			OnAttempt:       func(AttemptEvent) { attempts.Add(1); panic("attempt hook bug") },
			OnRetry:         func(RetryEvent) { retries.Add(1); panic("retry hook bug") },
			OnBreakerChange: func(BreakerChange) { changes.Add(1); panic("breaker hook bug") },
		}))
	send := func() int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		var resp *http.Response
		require.NotPanics(t, func() { resp, err = rt.RoundTrip(req) })
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	assert.Equal(t, http.StatusOK, send())
	fail.Store(true)
	assert.Equal(t, http.StatusServiceUnavailable, send()) // two failures: the breaker opens
	assert.Equal(t, 0, send())                             // refused
	clock.Advance(2 * time.Second)
	fail.Store(false)
	assert.Equal(t, http.StatusOK, send()) // the trial closes it

	assert.EqualValues(t, 1+2+1+1, attempts.Load())
	assert.EqualValues(t, 1, retries.Load())
	assert.EqualValues(t, 3, changes.Load(), "closed→open, open→half-open, half-open→closed: all reported")
	assert.Contains(t, logs.String(), "memerr: hook panicked")
	assert.Contains(t, logs.String(), "breaker hook bug")
	assert.Equal(t, 3, strings.Count(logs.String(), "circuit breaker "), "every change logged")
}

// syncBuffer is a bytes.Buffer safe for a logger written from several
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
