package memerr

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdClient is a Client on the fake clock whose waits move that clock.
func holdClient(t *testing.T, opts ...Option) (*Client, *fakeClock, func() []time.Duration) {
	clock := useFakeClock(t)
	c := NewClient(append([]Option{WithBackoff(time.Millisecond, 2*time.Millisecond)}, opts...)...)
	return c, clock, waitsOn(c.Transport(), clock)
}

func getJSON(c *Client, ctx context.Context, url string) error {
	return c.DoJSON(ctx, http.MethodGet, url, nil, nil)
}

const (
	thRateLimited = `{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}}`
	thQuota       = `{"success":false,"error":{"code":"DAILY_QUOTA_EXCEEDED","message":"quota"}}`
	thOK          = `{"success":true,"data":{}}`
	cozeRPM       = `{"code":4008,"msg":"too many requests"}`
)

func retryAfter(status int, body string, d time.Duration) step {
	return step{status: status, body: body, header: map[string]string{"Retry-After": strconv.Itoa(int(d / time.Second))}}
}

// After a rate limit whose wait is longer than the request may wait, the
// next requests to the scope fail at once, without touching the network,
// until the wait is over.
func TestHoldFailsFastBeyondMaxRetryWait(t *testing.T) {
	srv := newScripted(t, retryAfter(429, thRateLimited, 20*time.Second), jsonStep(200, thOK))
	c, clock, _ := holdClient(t, WithMaxRetryWait(5*time.Second))
	ctx := context.Background()

	err := getJSON(c, ctx, srv.URL+"/v1/memories")
	require.ErrorIs(t, err, TensorheartRateLimitExceeded, "the 429 itself: its wait is longer than MaxRetryWait")
	for i := 0; i < 3; i++ {
		clock.Advance(time.Second)
		err = getJSON(c, ctx, srv.URL+"/v1/memories")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, KindRateLimited, e.Kind)
		assert.Equal(t, Code{Tensorheart, "RATE_LIMIT_EXCEEDED"}, Code{e.Vendor, e.Code})
		assert.Equal(t, 20*time.Second-time.Duration(i+1)*time.Second, e.RetryAfter)
		var he *HoldError
		assert.ErrorAs(t, err, &he)
	}
	assert.Equal(t, 1, srv.Hits(), "held requests never reach the server")

	clock.Advance(17 * time.Second)
	require.NoError(t, getJSON(c, ctx, srv.URL+"/v1/memories"))
	assert.Equal(t, 2, srv.Hits())
}

// A hold that fits MaxRetryWait and the deadline is waited out, once,
// before the request is sent.
func TestHoldWaitedOut(t *testing.T) {
	srv := newScripted(t, retryAfter(429, cozeRPM, 2*time.Second), jsonStep(200, okCoze))
	c, _, waits := holdClient(t, WithMaxRetries(0))
	ctx := context.Background()

	require.ErrorIs(t, getJSON(c, ctx, srv.URL+"/v3/chat"), ErrRateLimited)
	require.NoError(t, getJSON(c, ctx, srv.URL+"/v3/chat"))
	require.Len(t, waits(), 1)
	assert.GreaterOrEqual(t, waits()[0], 2*time.Second)
	assert.Less(t, waits()[0], 2*time.Second+300*time.Millisecond, "the hint and a little jitter")
	assert.Equal(t, 2, srv.Hits())
}

// A request whose deadline comes before the hold ends fails at once.
func TestHoldPastTheDeadline(t *testing.T) {
	srv := newScripted(t, retryAfter(429, cozeRPM, 3*time.Second), jsonStep(200, okCoze))
	c, clock, waits := holdClient(t, WithMaxRetries(0))

	require.Error(t, getJSON(c, context.Background(), srv.URL+"/v3/chat"))
	err := getJSON(c, deadlineCtx(t, clock, time.Second), srv.URL+"/v3/chat")
	require.ErrorIs(t, err, ErrRateLimited)
	assert.Empty(t, waits())
	assert.Equal(t, 1, srv.Hits())
}

// A quota that resets in hours holds the scope as a quota failure; another
// host is not held.
func TestHoldQuotaAndOtherScopes(t *testing.T) {
	c, _, _ := holdClient(t)
	reset := strconv.FormatInt(time.Now().Add(5*time.Hour).Unix(), 10) // measured against the server's Date
	srv := newScripted(t, step{status: 429, body: thQuota, header: map[string]string{"X-RateLimit-Reset": reset}}, jsonStep(200, thOK))
	other := newScripted(t, jsonStep(200, thOK))

	require.ErrorIs(t, getJSON(c, context.Background(), srv.URL+"/v1/memories"), ErrQuotaExceeded)
	err := getJSON(c, context.Background(), srv.URL+"/v1/memories")
	require.ErrorIs(t, err, ErrQuotaExceeded)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.InDelta(t, 5*time.Hour, e.RetryAfter, float64(2*time.Second))
	assert.Equal(t, 1, srv.Hits())
	assert.NoError(t, getJSON(c, context.Background(), other.URL+"/v1/memories"), "another host is its own scope")
}

// The RoundTripper returns the *HoldError itself, which is not retried.
func TestHoldErrorFromTheTransport(t *testing.T) {
	srv := newScripted(t, retryAfter(429, thRateLimited, time.Minute), jsonStep(200, thOK))
	useFakeClock(t)
	tr := NewTransport(nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	resp.Body.Close()
	_, err = tr.RoundTrip(req)
	var he *HoldError
	require.ErrorAs(t, err, &he)
	assert.True(t, errors.Is(err, ErrRateLimited))
	assert.Equal(t, Tensorheart, he.Vendor)
	assert.Equal(t, 1, srv.Hits())
}

// The wait a hold costs an attempt is reported on its AttemptEvent
// (Waited), apart from the attempt's Duration: without it, the time a
// request spent waiting out another's Retry-After showed in no hook.
func TestHoldWaitReported(t *testing.T) {
	srv := newScripted(t, retryAfter(429, cozeRPM, 2*time.Second), jsonStep(200, okCoze))
	var evs []AttemptEvent
	c, _, waits := holdClient(t, WithMaxRetries(0), WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) { evs = append(evs, ev) }}))
	ctx := context.Background()

	require.ErrorIs(t, getJSON(c, ctx, srv.URL+"/v3/chat"), ErrRateLimited)
	require.NoError(t, getJSON(c, ctx, srv.URL+"/v3/chat"))
	require.Len(t, waits(), 1)
	require.Len(t, evs, 2)
	assert.Zero(t, evs[0].Waited)
	assert.Equal(t, waits()[0], evs[1].Waited)
	assert.Less(t, evs[1].Duration, time.Second, "the wait is not the attempt's duration")
}
