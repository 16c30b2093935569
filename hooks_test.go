package memerr

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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
