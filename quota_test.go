package memerr

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var perSecond = Quota{Requests: 60, Per: time.Minute} // one request a second

// The local GCRA spaces requests evenly, lets Burst go at once after a
// quiet spell, and takes nothing for a request that cannot wait its turn.
func TestLocalLimiterSpacesRequests(t *testing.T) {
	clock := useFakeClock(t)
	l := NewLocalLimiter()
	var got []time.Duration
	for i := 0; i < 4; i++ {
		w, ok := l.Take("s", perSecond, time.Hour)
		require.True(t, ok)
		got = append(got, w)
	}
	assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, got)

	w, ok := l.Take("s", perSecond, 3*time.Second)
	assert.False(t, ok, "the next turn is 4s away")
	assert.Equal(t, 4*time.Second, w)
	w, ok = l.Take("s", perSecond, 4*time.Second)
	assert.True(t, ok, "the refused request took nothing")
	assert.Equal(t, 4*time.Second, w)

	w, ok = l.Take("other", perSecond, 0)
	assert.True(t, ok, "scopes are apart")
	assert.Zero(t, w)

	clock.Advance(time.Minute)
	burst := Quota{Requests: 60, Per: time.Minute, Burst: 3}
	for i := 0; i < 3; i++ {
		w, ok := l.Take("s", burst, 0)
		require.True(t, ok, "burst request %d goes at once", i)
		assert.Zero(t, w)
	}
	_, ok = l.Take("s", burst, 0)
	assert.False(t, ok, "beyond the burst")
}

// A throttle halves the rate, once per QuotaCooldown, never below Min;
// successes raise it back by Requests/60 per second, up to Requests.
func TestLocalLimiterAIMD(t *testing.T) {
	clock := useFakeClock(t)
	l := NewLocalLimiter()
	q := Quota{Requests: 600, Per: time.Minute, Min: 100}
	rate := func() float64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.scopes["s"].rate
	}
	l.Take("s", q, 0)
	assert.Equal(t, 600.0, rate())

	l.Observe("s", q, true)
	assert.Equal(t, 300.0, rate())
	l.Observe("s", q, true)
	assert.Equal(t, 300.0, rate(), "within the cooldown: the in-flight requests' throttles")
	clock.Advance(QuotaCooldown)
	l.Observe("s", q, true)
	assert.Equal(t, 150.0, rate())
	clock.Advance(QuotaCooldown)
	l.Observe("s", q, true)
	assert.Equal(t, 100.0, rate(), "never below Min")

	// Spacing follows the rate in force: 100/min is one per 600ms.
	clock.Advance(time.Hour)
	l.Take("s", q, 0)
	w, ok := l.Take("s", q, time.Hour)
	require.True(t, ok)
	assert.Equal(t, 600*time.Millisecond, w)

	// +10/min per second of successes (at most 2s' worth at once).
	l.Observe("s", q, false) // after an hour's quiet: two seconds' worth
	assert.Equal(t, 120.0, rate())
	for i := 0; i < 10; i++ {
		clock.Advance(time.Second)
		l.Observe("s", q, false)
	}
	assert.InDelta(t, 220.0, rate(), 1e-9)
	for i := 0; i < 60; i++ {
		clock.Advance(time.Second)
		l.Observe("s", q, false)
	}
	assert.Equal(t, 600.0, rate(), "never above Requests")
}

// A quota's defaults: burst 1, floor a tenth of the rate, at least 1.
func TestQuotaBounds(t *testing.T) {
	for _, tc := range []struct {
		q            Quota
		hi, lo       float64
		wantBurst    int
		wantNoLimits bool
	}{
		{q: Quota{Requests: 600, Per: time.Minute}, hi: 600, lo: 60, wantBurst: 1},
		{q: Quota{Requests: 5, Per: time.Second, Burst: 4}, hi: 5, lo: 1, wantBurst: 4},
		{q: Quota{Requests: 10, Per: time.Second, Min: 50}, hi: 10, lo: 10, wantBurst: 1},
	} {
		hi, lo, b := tc.q.Bounds()
		assert.Equal(t, []any{tc.hi, tc.lo, tc.wantBurst}, []any{hi, lo, b}, "%+v", tc.q)
	}
	w, ok := NewLocalLimiter().Take("s", Quota{Requests: 0, Per: time.Second}, 0)
	assert.True(t, ok, "a quota that limits nothing")
	assert.Zero(t, w)
}

// quotaClient is a Client with a quota of one request a second on url's
// scope, on the fake clock; its waits move the clock.
func quotaClient(t *testing.T, url string, opts ...Option) (*Client, *fakeClock, func() []time.Duration) {
	return holdClient(t, append([]Option{WithQuota(url, perSecond), WithMaxRetries(0)}, opts...)...)
}

// Requests over the quota wait their turn when it fits MaxRetryWait.
func TestQuotaWaitsItsTurn(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	c, _, waits := quotaClient(t, srv.URL)
	for i := 0; i < 3; i++ {
		require.NoError(t, getJSON(c, context.Background(), srv.URL+"/v3/chat"))
	}
	assert.Equal(t, []time.Duration{time.Second, time.Second}, waits())
	assert.Equal(t, 3, srv.Hits())
}

// A request that cannot wait its turn (MaxRetryWait, its deadline) fails at
// once, unsent, with a rate limit that says how long to wait.
func TestQuotaFailsFast(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	c, clock, waits := quotaClient(t, srv.URL, WithMaxRetryWait(500*time.Millisecond), WithVendor(Coze))
	ctx := context.Background()
	require.NoError(t, getJSON(c, ctx, srv.URL+"/v3/chat"))

	err := getJSON(c, ctx, srv.URL+"/v3/chat")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, KindRateLimited, e.Kind)
	assert.Equal(t, Coze, e.Vendor)
	assert.Empty(t, e.Code, "not a vendor code")
	assert.Equal(t, time.Second, e.RetryAfter)
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.True(t, e.Retryable())
	var he *HoldError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "quota", he.Code)
	assert.Equal(t, "memerr: rate limited: quota of "+canonicalHost(mustURL(t, srv.URL))+" used up for 1s", he.Error())
	assert.Equal(t, 1, srv.Hits(), "never sent")
	assert.Empty(t, waits())

	// Past a deadline: the same, though MaxRetryWait would allow it.
	c2 := NewClient(WithQuota(srv.URL, perSecond))
	waits2 := waitsOn(c2.Transport(), clock)
	require.NoError(t, getJSON(c2, ctx, srv.URL+"/v3/chat"))
	err = getJSON(c2, deadlineCtx(t, clock, 800*time.Millisecond), srv.URL+"/v3/chat")
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Empty(t, waits2())
	assert.Equal(t, 2, srv.Hits())

	clock.Advance(time.Second)
	assert.NoError(t, getJSON(c, ctx, srv.URL+"/v3/chat"), "its turn has come")
}

// recLimiter records what the Transport tells a Limiter, and answers
// what the test says.
type recLimiter struct {
	mu       sync.Mutex
	takes    []string
	observed []bool
	wait     time.Duration
	ok       bool
}

func (l *recLimiter) Take(scope string, _ Quota, _ time.Duration) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.takes = append(l.takes, scope)
	return l.wait, l.ok
}

func (l *recLimiter) Observe(_ string, _ Quota, throttled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observed = append(l.observed, throttled)
}

// Every attempt takes a place, retries included; the limiter hears of
// throttles and successes, not of server failures.
func TestQuotaObservesOutcomes(t *testing.T) {
	srv := newScripted(t, jsonStep(429, cozeRPM), step{status: 503}, jsonStep(200, okCoze))
	l := &recLimiter{ok: true}
	c, _, _ := holdClient(t, WithQuota(srv.URL, perSecond), WithLimiter(l))
	require.NoError(t, getJSON(c, context.Background(), srv.URL+"/v3/chat"))
	assert.Equal(t, 3, srv.Hits())
	scope := canonicalHost(mustURL(t, srv.URL))
	assert.Equal(t, []string{scope, scope, scope}, l.takes)
	assert.Equal(t, []bool{true, false}, l.observed, "429, then 200; the 503 is not observed")

	// A scope without a quota never reaches the limiter.
	other := newScripted(t, jsonStep(200, okCoze))
	require.NoError(t, getJSON(c, context.Background(), other.URL+"/v3/chat"))
	assert.Len(t, l.takes, 3)
}

// Whatever a limiter answers, a request never waits longer than
// MaxRetryWait, and a refusal reads as a bounded rate limit.
func TestQuotaHostileLimiter(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	for name, l := range map[string]*recLimiter{
		"ok with a year's wait": {ok: true, wait: 365 * 24 * time.Hour},
		"refused, a year":       {wait: 365 * 24 * time.Hour},
		"refused, negative":     {wait: -time.Hour},
		"ok, negative wait":     {ok: true, wait: -time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			c, _, waits := quotaClient(t, srv.URL, WithLimiter(l), WithMaxRetryWait(time.Second))
			hits := srv.Hits()
			err := getJSON(c, context.Background(), srv.URL+"/v3/chat")
			for _, w := range waits() {
				assert.LessOrEqual(t, w, time.Second)
			}
			if l.ok && l.wait < 0 {
				assert.NoError(t, err)
				assert.Equal(t, hits+1, srv.Hits())
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, KindRateLimited, e.Kind)
			assert.GreaterOrEqual(t, e.RetryAfter, time.Duration(0))
			assert.LessOrEqual(t, e.RetryAfter, MaxHint)
			assert.Equal(t, hits, srv.Hits())
		})
	}
}

// limitingFleet is a Fleet that is also a Limiter.
type limitingFleet struct {
	mapFleet
	recLimiter
}

// WithQuota's limiter: WithLimiter's, else the fleet when it is a Limiter,
// else the Transport's own LocalLimiter; the quota's URL names its scope
// as BreakerState does.
func TestQuotaLimiterChoice(t *testing.T) {
	q := Quota{Requests: 1, Per: time.Second}
	lf := &limitingFleet{}
	rl := &recLimiter{}
	cfg := newConfig([]Option{WithFleet(lf), WithQuota("https://API.coze.com/v3/chat", q)})
	assert.Same(t, lf, cfg.limiter)
	assert.Equal(t, map[string]*Quota{"https://api.coze.com:443": &q}, cfg.quotas)

	cfg = newConfig([]Option{WithFleet(lf), WithLimiter(rl), WithQuota("https://api.coze.com", q)})
	assert.Same(t, rl, cfg.limiter)

	cfg = newConfig([]Option{WithFleet(&mapFleet{}), WithQuota("https://api.coze.com", q)})
	assert.IsType(t, &LocalLimiter{}, cfg.limiter)

	cfg = newConfig([]Option{WithQuota("https://api.coze.com", q), WithQuota("https://api.coze.com", Quota{})})
	assert.Nil(t, cfg.quotas, "a quota that limits nothing removes it")
	assert.Nil(t, cfg.limiter)

	scoped := newConfig([]Option{WithBreakerScope(func(r *http.Request) string { return r.URL.Host + r.URL.Path }),
		WithQuota("https://api.coze.com/v3/chat", q)})
	assert.Contains(t, scoped.quotas, "api.coze.com/v3/chat")
}

// A request that its scope's open breaker refuses fails at once: it
// neither waits a turn in the quota nor takes one, so the trial after the
// open period goes without waiting behind requests that were never sent.
func TestQuotaNotTakenByOpenBreaker(t *testing.T) {
	srv := newScripted(t, step{status: 503}, step{status: 503}, jsonStep(200, okCoze))
	const openFor = 3 * time.Second
	c, clock, waits := quotaClient(t, srv.URL,
		WithBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openFor, MaxOpenTimeout: openFor}))
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		assert.ErrorIs(t, getJSON(c, ctx, srv.URL), ErrUnavailable)
	}
	require.Equal(t, []time.Duration{time.Second}, waits(), "the second request waited its turn")
	for i := 0; i < 10; i++ {
		err := getJSON(c, ctx, srv.URL)
		require.ErrorIs(t, err, ErrCircuitOpen)
		var be *BreakerError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, openFor, be.Remaining, "refused at once, without a wait")
	}
	assert.Equal(t, []time.Duration{time.Second}, waits(), "no request waited for a quota it would not use")
	clock.Advance(openFor)
	require.NoError(t, getJSON(c, ctx, srv.URL), "the trial")
	assert.Equal(t, []time.Duration{time.Second}, waits(), "the trial's turn had come")
	assert.Equal(t, 3, srv.Hits())
}

// A request whose context ends while it waits its turn gives its place
// back: the requests after it do not wait behind a place nobody used.
func TestQuotaCancelledWaiterGivesBackItsPlace(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	clock := useFakeClock(t)
	c := NewClient(WithQuota(srv.URL, perSecond), WithMaxRetries(0))
	var waits []time.Duration
	var cancel context.CancelFunc
	c.Transport().waitFor = func(d time.Duration) time.Duration {
		waits = append(waits, d)
		if cancel != nil {
			cancel() // the caller gives up during the wait
			return d
		}
		clock.Advance(d)
		return 0
	}
	require.NoError(t, getJSON(c, context.Background(), srv.URL))
	for i := 0; i < 5; i++ {
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		assert.ErrorIs(t, getJSON(c, ctx, srv.URL), context.Canceled)
	}
	cancel = nil
	require.NoError(t, getJSON(c, context.Background(), srv.URL))
	assert.Equal(t, []time.Duration{time.Second, time.Second, time.Second, time.Second, time.Second, time.Second}, waits,
		"each waiter had the place the one before gave back")
	assert.Equal(t, 2, srv.Hits())
}

// LocalLimiter.Cancel gives back a place still ahead, never one already
// past: a quiet spell earns no extra burst.
func TestLocalLimiterCancel(t *testing.T) {
	clock := useFakeClock(t)
	l := NewLocalLimiter()
	for i := 0; i < 3; i++ {
		_, ok := l.Take("s", perSecond, time.Hour)
		require.True(t, ok)
	}
	l.Cancel("s", perSecond)
	w, ok := l.Take("s", perSecond, time.Hour)
	require.True(t, ok)
	assert.Equal(t, 2*time.Second, w, "the third place was given back")

	clock.Advance(time.Minute)
	l.Cancel("s", perSecond)
	l.Cancel("unknown", perSecond)
	for _, want := range []time.Duration{0, time.Second} {
		w, ok := l.Take("s", perSecond, time.Hour)
		require.True(t, ok)
		assert.Equal(t, want, w, "evenly spaced after a quiet spell")
	}
}

// A request that its breaker refuses after it took its place (the
// half-open trial is in flight) gives the place back.
func TestQuotaPlaceOfRefusedTrialGivenBack(t *testing.T) {
	srv := newToggled(t, true)
	const openFor = 10 * time.Second
	c, clock, waits := quotaClient(t, srv.URL, WithBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: openFor}))
	ctx := context.Background()
	require.ErrorIs(t, getJSON(c, ctx, srv.URL), ErrUnavailable)
	clock.Advance(openFor)
	hold := make(chan struct{})
	srv.hold.Store(&hold)
	srv.failing.Store(false)
	trial := make(chan error, 1)
	go func() { trial <- getJSON(c, ctx, srv.URL) }()
	require.Eventually(t, func() bool { return srv.Hits() == 2 }, time.Minute, time.Millisecond)
	for i := 0; i < 3; i++ {
		err := getJSON(c, ctx, srv.URL)
		var be *BreakerError
		require.ErrorAs(t, err, &be)
		require.Equal(t, CircuitHalfOpen, be.State)
	}
	close(hold)
	require.NoError(t, <-trial)
	require.NoError(t, getJSON(c, ctx, srv.URL))
	assert.Equal(t, []time.Duration{time.Second}, waits(),
		"the first refused request waited for the place after the trial's; the others and the last had it at once")
}
