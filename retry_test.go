package memerr

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waits replaces a transport's wait with a recorder that does not sleep
// and moves no clock.
func waits(tr *Transport) func() []time.Duration { return waitsOn(tr, nil) }

// fakeClock is the package clock (timeNow) under a test's control; it
// starts an hour ahead of the wall clock, so a context deadline set from it
// is an hour away in real time and never expires during the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func useFakeClock(t *testing.T) *fakeClock {
	c := &fakeClock{now: time.Now().Add(time.Hour)}
	old := timeNow
	timeNow = c.Now
	t.Cleanup(func() { timeNow = old })
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// waitsOn makes a transport's waits move the fake clock (if not nil)
// instead of sleeping, and records them.
func waitsOn(tr *Transport, clock *fakeClock) func() []time.Duration {
	var mu sync.Mutex
	var ds []time.Duration
	tr.waitFor = func(d time.Duration) time.Duration {
		mu.Lock()
		ds = append(ds, d)
		mu.Unlock()
		if clock != nil {
			clock.Advance(d)
		}
		return 0
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), ds...)
	}
}

// deadlineCtx is a context whose deadline is d away on the fake clock.
func deadlineCtx(t *testing.T, clock *fakeClock, d time.Duration) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(d))
	t.Cleanup(cancel)
	return ctx
}

func TestRetryAfterMsHonoured(t *testing.T) {
	srv := newScripted(t,
		step{status: 429, header: map[string]string{"retry-after-ms": "50"}, body: `{"code":4009,"msg":"busy"}`},
		jsonStep(200, okCoze))
	tr := NewTransport(nil, WithVendor(Coze))
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, 2, srv.Hits())
	at := srv.Times()
	gap := at[1].Sub(at[0])
	t.Logf("gap between attempts: %v", gap)
	assert.GreaterOrEqual(t, gap, 50*time.Millisecond, "the hint is really waited for (its jitter: TestWaitHints)")
}

func TestWaitHints(t *testing.T) {
	date := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	httpDate := date.Format(http.TimeFormat)
	tests := []struct {
		name   string
		header map[string]string
		body   string
		hint   time.Duration
	}{
		{"retry-after-ms", map[string]string{"Retry-After-Ms": "1500"}, "", 1500 * time.Millisecond},
		{"Retry-After seconds", map[string]string{"Retry-After": "3"}, "", 3 * time.Second},
		{"Retry-After one second", map[string]string{"Retry-After": "1"}, "", time.Second},
		{"Retry-After date", map[string]string{"Date": httpDate, "Retry-After": date.Add(2 * time.Second).Format(http.TimeFormat)}, "", 2 * time.Second},
		{"X-RateLimit-Reset unix", map[string]string{"Date": httpDate, "X-RateLimit-Reset": strconv.FormatInt(date.Add(4*time.Second).Unix(), 10)}, "", 4 * time.Second},
		{"X-RateLimit-Reset unix ms", map[string]string{"Date": httpDate, "X-RateLimit-Reset": strconv.FormatInt(date.Add(4*time.Second).UnixMilli(), 10)}, "", 4 * time.Second},
		{"X-RateLimit-Reset delta", map[string]string{"X-RateLimit-Reset": "2"}, "", 2 * time.Second},
		{"retry-after-ms wins", map[string]string{"Retry-After-Ms": "20", "Retry-After": "7"}, "", 20 * time.Millisecond},
		{"body retry_after", nil, `{"detail":"Rate limit exceeded","retry_after":6}`, 6 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if body == "" {
				body = `{"code":429,"msg":"Rate limit exceeded","data":null}`
			}
			srv := newScripted(t, step{status: 429, header: tc.header, body: body}, jsonStep(200, okCoze))
			tr := NewTransport(nil)
			recorded := waits(tr)
			resp, err := get(t, tr, srv.URL)
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			readAll(t, resp)
			require.Len(t, recorded(), 1)
			d := recorded()[0]
			jitter := min(tc.hint/10, 250*time.Millisecond)
			assert.Greater(t, d, tc.hint, "a small positive jitter is added")
			assert.LessOrEqual(t, d, tc.hint+jitter, "jitter at most 10%%, at most 250ms")
		})
	}
}

func TestHintJitterBounds(t *testing.T) {
	tr := NewTransport(nil)
	for _, hint := range []time.Duration{time.Millisecond, 50 * time.Millisecond, time.Second, 3 * time.Second, 30 * time.Second} {
		j := min(max(hint/10, time.Millisecond), 250*time.Millisecond)
		tr.rand = func(n int64) int64 { return 0 }
		assert.Equal(t, time.Duration(1), tr.hintJitter(hint), "smallest jitter is positive")
		tr.rand = func(n int64) int64 { return n - 1 }
		assert.Equal(t, j, tr.hintJitter(hint), "largest jitter for %v", hint)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, time.Second
	tr := NewTransport(nil, WithBackoff(lo, hi))
	want := []time.Duration{200, 400, 800, 1000, 1000, 1000, 1000}
	for k, w := range want {
		attempt := k + 1
		tr.rand = func(n int64) int64 { return 0 }
		assert.Equal(t, lo, tr.backoff(attempt), "attempt %d lowest", attempt)
		tr.rand = func(n int64) int64 { return n - 1 }
		assert.Equal(t, w*time.Millisecond, tr.backoff(attempt), "attempt %d highest", attempt)
	}
	// With the real random source every wait stays within its range.
	tr.rand = nil
	for i := 0; i < 1000; i++ {
		attempt := i%6 + 1
		upper := min(lo<<attempt, hi)
		d := tr.backoff(attempt)
		require.GreaterOrEqual(t, d, lo)
		require.LessOrEqual(t, d, upper)
	}
}

// Clients that failed at the same moment do not retry at the same moment:
// the first retry's wait is spread like the others'.
func TestBackoffFirstRetrySpread(t *testing.T) {
	tr := NewTransport(nil)
	seen := map[time.Duration]bool{}
	for i := 0; i < 100; i++ {
		d := tr.backoff(1)
		require.GreaterOrEqual(t, d, DefaultBackoffMin)
		require.LessOrEqual(t, d, 2*DefaultBackoffMin)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 50, "100 first retries wait %d different times", len(seen))
}

func TestBackoffWithoutHint(t *testing.T) {
	srv := newScripted(t, step{status: 503})
	tr := NewTransport(nil, WithBackoff(10*time.Millisecond, 25*time.Millisecond), WithMaxRetries(4), WithoutBreaker())
	tr.rand = func(n int64) int64 { return n - 1 }
	recorded := waits(tr)
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, 5, srv.Hits())
	assert.Equal(t, []time.Duration{20 * time.Millisecond, 25 * time.Millisecond, 25 * time.Millisecond, 25 * time.Millisecond}, recorded())
}

func TestDeadlineFailFast(t *testing.T) {
	rateLimited := step{status: 429, header: map[string]string{"Retry-After": "5"}, body: `{"code":429,"msg":"Rate limit exceeded","data":null}`}

	t.Run("Client.Do", func(t *testing.T) {
		clock := useFakeClock(t)
		srv := newScripted(t, rateLimited, jsonStep(200, okCoze))
		c := NewClient()
		recorded := waitsOn(c.Transport(), clock)
		ctx := deadlineCtx(t, clock, 100*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		_, err := c.Do(req)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, KindRateLimited, e.Kind)
		assert.Equal(t, 5*time.Second, e.RetryAfter)
		assert.Equal(t, 1, e.Attempts)
		assert.Equal(t, 429, e.StatusCode)
		assert.Empty(t, recorded(), "no wait")
		assert.Equal(t, 1, srv.Hits())
	})

	t.Run("plain http.Client", func(t *testing.T) {
		clock := useFakeClock(t)
		srv := newScripted(t, rateLimited, jsonStep(200, okCoze))
		tr := NewTransport(nil)
		recorded := waitsOn(tr, clock)
		hc := &http.Client{Transport: tr}
		ctx := deadlineCtx(t, clock, 100*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		assert.Equal(t, 429, resp.StatusCode)
		assert.Equal(t, "5", resp.Header.Get("Retry-After"))
		assert.Equal(t, rateLimited.body, readAll(t, resp))
		assert.Empty(t, recorded(), "no wait")
		assert.Equal(t, 1, srv.Hits())
		// go-retryablehttp alone (DefaultBackoff honours Retry-After for 429)
		// would sleep until the deadline and return only ctx.Err().
	})

	t.Run("backoff longer than the time left", func(t *testing.T) {
		clock := useFakeClock(t)
		srv := newScripted(t, step{status: 503, body: "down"})
		tr := NewTransport(nil, WithBackoff(200*time.Millisecond, time.Second))
		recorded := waitsOn(tr, clock)
		req, _ := http.NewRequestWithContext(deadlineCtx(t, clock, 100*time.Millisecond), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, "down", readAll(t, resp))
		assert.Empty(t, recorded(), "no wait")
	})

	t.Run("second wait would pass the deadline", func(t *testing.T) {
		clock := useFakeClock(t)
		hint := step{status: 429, header: map[string]string{"retry-after-ms": "40"}, body: `{"code":429,"msg":"slow","data":null}`}
		srv := newScripted(t, hint)
		tr := NewTransport(nil)
		recorded := waitsOn(tr, clock)
		req, _ := http.NewRequestWithContext(deadlineCtx(t, clock, 70*time.Millisecond), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err, "the last response, not ctx.Err()")
		assert.Equal(t, 429, resp.StatusCode)
		readAll(t, resp)
		assert.Equal(t, 2, srv.Hits())
		require.Len(t, recorded(), 1, "the first wait fits in 70ms, the second would not")
		assert.Greater(t, recorded()[0], 40*time.Millisecond)
	})

	t.Run("http.Client Timeout", func(t *testing.T) {
		// The deadline comes from net/http here, on the wall clock: a wait
		// of 5s within a 1 minute timeout would be waited for, so the hint
		// is above it.
		srv := newScripted(t, step{status: 429, header: map[string]string{"Retry-After": "120"}, body: rateLimited.body}, jsonStep(200, okCoze))
		tr := NewTransport(nil, WithMaxRetryWait(time.Hour))
		recorded := waits(tr)
		hc := &http.Client{Transport: tr, Timeout: time.Minute}
		resp, err := hc.Get(srv.URL)
		require.NoError(t, err)
		assert.Equal(t, 429, resp.StatusCode)
		readAll(t, resp)
		assert.Empty(t, recorded(), "no wait")
	})

	t.Run("cancelled during the wait", func(t *testing.T) {
		srv := newScripted(t, step{status: 503, header: map[string]string{"Retry-After": "2"}, body: "down"})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The wait is real here (go-retryablehttp's timer); the context is
		// cancelled as it begins, so the test does not wait it out.
		tr := NewTransport(nil, WithHooks(Hooks{OnRetry: func(RetryEvent) { cancel() }}))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, context.Canceled, "a cancelled caller gets the context's error")
		assert.Equal(t, 1, srv.Hits())
	})
}

func TestMaxRetryWait(t *testing.T) {
	tests := []struct {
		name  string
		opts  []Option
		after string
	}{
		{"default 30s, hint 40s", nil, "40"},
		{"1s, hint 2s", []Option{WithMaxRetryWait(time.Second)}, "2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScripted(t, step{status: 429, header: map[string]string{"Retry-After": tc.after}, body: `{"code":429,"msg":"later","data":null}`}, jsonStep(200, okCoze))
			tr := NewTransport(nil, tc.opts...)
			recorded := waits(tr)
			c := &Client{t: tr, hc: &http.Client{Transport: tr}}
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			_, err := c.Do(req)
			var e *Error
			require.ErrorAs(t, err, &e)
			secs, _ := strconv.Atoi(tc.after)
			assert.Equal(t, time.Duration(secs)*time.Second, e.RetryAfter)
			assert.Equal(t, 1, e.Attempts)
			assert.Empty(t, recorded())
			assert.Equal(t, 1, srv.Hits())
		})
	}
	t.Run("a hint within MaxRetryWait is waited for", func(t *testing.T) {
		srv := newScripted(t, step{status: 429, header: map[string]string{"Retry-After": "2"}, body: `{"code":429,"msg":"later","data":null}`}, jsonStep(200, okCoze))
		tr := NewTransport(nil, WithMaxRetryWait(3*time.Second))
		recorded := waits(tr)
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		readAll(t, resp)
		require.Len(t, recorded(), 1)
		assert.Greater(t, recorded()[0], 2*time.Second)
	})
}

func TestRetryBudget(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()

	send := func(tr *Transport) int {
		t.Helper()
		before := hits.Load()
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
		return int(hits.Load() - before)
	}

	t.Run("exhausted and refunded", func(t *testing.T) {
		b := NewRetryBudget(10, 5)
		tr := NewTransport(nil, fast(WithRetryBudget(b), WithoutBreaker(), WithMaxRetries(3))...)
		failing.Store(true)
		assert.Equal(t, 3, send(tr), "two retries of cost 5 spend the 10 tokens")
		assert.Equal(t, 0, b.Tokens())
		assert.Equal(t, 1, send(tr), "no tokens: sent once")
		assert.Equal(t, 1, send(tr))

		failing.Store(false)
		for i := 0; i < 5; i++ {
			assert.Equal(t, 1, send(tr))
		}
		assert.Equal(t, 5, b.Tokens(), "each success refunds a token")
		for i := 0; i < 20; i++ {
			send(tr)
		}
		assert.Equal(t, 10, b.Tokens(), "never above capacity")

		failing.Store(true)
		assert.Equal(t, 3, send(tr), "refunded tokens pay for retries again")
	})

	t.Run("network errors cost double", func(t *testing.T) {
		b := NewRetryBudget(10, 5)
		tr := NewTransport(nil, fast(WithRetryBudget(b), WithoutBreaker(), WithMaxRetries(3))...)
		_, err := get(t, tr, "http://"+closedPort(t)+"/")
		require.Error(t, err)
		assert.Equal(t, 0, b.Tokens())
		assert.Contains(t, err.Error(), "after 2 attempts", "one retry of cost 10 only")
	})

	t.Run("nil disables", func(t *testing.T) {
		tr := NewTransport(nil, fast(WithRetryBudget(nil), WithoutBreaker(), WithMaxRetries(3))...)
		failing.Store(true)
		for i := 0; i < 5; i++ {
			assert.Equal(t, 4, send(tr), "request %d", i)
		}
	})

	t.Run("default budget, one per scope", func(t *testing.T) {
		tr := NewTransport(nil)
		a := tr.scopes.forRequest(&http.Request{URL: mustURL(t, "http://a.example/")})
		b := tr.scopes.forRequest(&http.Request{URL: mustURL(t, "http://b.example/")})
		require.NotNil(t, a.budget)
		assert.Equal(t, 500, a.budget.Tokens())
		assert.NotSame(t, a.budget, b.budget)
	})
}

func TestRetryBudgetConcurrent(t *testing.T) {
	b := NewRetryBudget(100, 5)
	var wg sync.WaitGroup
	var took atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.take(5) {
				took.Add(1)
			}
			b.refund(1)
		}()
	}
	wg.Wait()
	assert.GreaterOrEqual(t, took.Load(), int32(20))
	assert.LessOrEqual(t, b.Tokens(), 100)
	assert.GreaterOrEqual(t, b.Tokens(), 0)
}

func TestMaxRetries(t *testing.T) {
	for _, n := range []int{0, 1, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			srv := newScripted(t, step{status: 503})
			tr := NewTransport(nil, fast(WithMaxRetries(n), WithoutBreaker())...)
			resp, err := get(t, tr, srv.URL)
			require.NoError(t, err)
			readAll(t, resp)
			assert.Equal(t, n+1, srv.Hits())
		})
	}
}
