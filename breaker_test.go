package memerr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// changes records breaker transitions from the OnBreakerChange hook.
type changes struct {
	mu  sync.Mutex
	all []BreakerChange
}

func (c *changes) hook(ch BreakerChange) {
	c.mu.Lock()
	c.all = append(c.all, ch)
	c.mu.Unlock()
}

func (c *changes) list() []BreakerChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]BreakerChange(nil), c.all...)
}

// toggled is a server that answers 503 while failing is set, 200 otherwise.
type toggled struct {
	*httptest.Server
	failing atomic.Bool
	status  atomic.Int32 // the failing status; 503 if unset
	hits    atomic.Int32
	hold    atomic.Pointer[chan struct{}] // when set, a request waits for it to close
}

func newToggled(t *testing.T, failing bool) *toggled {
	s := &toggled{}
	s.failing.Store(failing)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if h := s.hold.Load(); h != nil {
			select {
			case <-*h:
			case <-r.Context().Done():
			}
		}
		if s.failing.Load() {
			st := int(s.status.Load())
			if st == 0 {
				st = 503
			}
			w.WriteHeader(st)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(okMemOS))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *toggled) Hits() int { return int(s.hits.Load()) }

func TestBreakerOpensPerHost(t *testing.T) {
	a := newToggled(t, true)
	b := newToggled(t, false)
	var ch changes
	var retries atomic.Int32
	tr := NewTransport(nil, fast(
		WithBreaker(BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Minute}),
		WithHooks(Hooks{OnBreakerChange: ch.hook, OnRetry: func(RetryEvent) { retries.Add(1) }}))...)
	hc := &http.Client{Transport: tr}

	// Three failing attempts (one request and its retries) open A's breaker;
	// the retry loop stops as soon as it opens.
	resp, err := hc.Get(a.URL)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, 3, a.Hits())
	state, ok := tr.BreakerState(a.URL)
	require.True(t, ok)
	assert.Equal(t, CircuitOpen, state)
	opened := ch.list()
	require.Len(t, opened, 1)
	assert.WithinDuration(t, time.Now().Add(time.Minute), opened[0].Until, 10*time.Second, "the end of the open period")
	opened[0].Until = time.Time{}
	assert.Equal(t, []BreakerChange{{Host: canonicalHost(mustURL(t, a.URL)), From: CircuitClosed, To: CircuitOpen}}, opened)

	// Open: fail fast without touching the network, and without retrying.
	retries.Store(0)
	_, err = hc.Get(a.URL + "/v1/memories")
	require.Error(t, err)
	assert.Equal(t, 3, a.Hits(), "no network traffic while open")
	assert.Zero(t, retries.Load(), "a breaker rejection is not retried")
	assert.ErrorIs(t, err, ErrCircuitOpen)
	assert.ErrorIs(t, err, gobreaker.ErrOpenState)
	var be *BreakerError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "http://"+a.Listener.Addr().String(), be.Host)
	assert.Equal(t, CircuitOpen, be.State)
	assert.Greater(t, be.Remaining, 50*time.Second)
	assert.LessOrEqual(t, be.Remaining, time.Minute)
	assert.Contains(t, be.Error(), "circuit open for http://127.0.0.1:")

	// Client.Do: a *Error wrapping the breaker error, one attempt.
	c := &Client{t: tr, hc: hc}
	req, _ := http.NewRequest(http.MethodGet, a.URL, nil)
	_, err = c.Do(req)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 1, e.Attempts)
	assert.Equal(t, KindUnavailable, e.Kind)
	assert.ErrorIs(t, err, ErrCircuitOpen)
	assert.ErrorIs(t, err, gobreaker.ErrOpenState)
	require.ErrorAs(t, err, &be)
	assert.Equal(t, 3, a.Hits())

	// Another host is unaffected.
	resp, err = hc.Get(b.URL)
	require.NoError(t, err)
	assert.Equal(t, okMemOS, readAll(t, resp))
	state, ok = tr.BreakerState(b.URL)
	require.True(t, ok)
	assert.Equal(t, CircuitClosed, state)

	// The same host spelled differently shares the breaker.
	_, err = hc.Get("http://" + a.Listener.Addr().String() + "/other")
	assert.ErrorIs(t, err, ErrCircuitOpen)

	_, ok = tr.BreakerState("http://unknown.example")
	assert.False(t, ok)
}

func mustURL(t *testing.T, raw string) *url.URL {
	req, err := http.NewRequest(http.MethodGet, raw, nil)
	require.NoError(t, err)
	return req.URL
}

func TestBreakerClientErrorsNeverTrip(t *testing.T) {
	for _, status := range []int{400, 401, 404, 409, 429} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := newToggled(t, true)
			srv.status.Store(int32(status))
			tr := NewTransport(nil, fast(WithMaxRetries(0),
				WithBreaker(BreakerSettings{ConsecutiveFailures: 2, MinRequests: 2, FailureRatio: 0.1, OpenTimeout: time.Minute}))...)
			for i := 0; i < 30; i++ {
				resp, err := get(t, tr, srv.URL)
				require.NoError(t, err, "request %d", i)
				readAll(t, resp)
			}
			assert.Equal(t, 30, srv.Hits())
			state, _ := tr.BreakerState(srv.URL)
			assert.Equal(t, CircuitClosed, state)
		})
	}
}

func TestBreakerRateLimitsCountAsNeither(t *testing.T) {
	srv := newScripted(t,
		step{status: 503},
		jsonStep(429, `{"code":429,"msg":"slow","data":null}`),
		jsonStep(200, `{"code":4020,"msg":"rpm over the peak"}`), // rate limited in a 200
		step{status: 503},
		jsonStep(200, okCoze))
	tr := NewTransport(nil, fast(WithMaxRetries(0), WithVendor(Coze),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Minute}))...)
	for i := 0; i < 3; i++ {
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
		state, _ := tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitClosed, state, "after request %d", i+1)
	}
	// The rate limits did not reset the run of failures: the next one trips.
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	readAll(t, resp)
	state, _ := tr.BreakerState(srv.URL)
	assert.Equal(t, CircuitOpen, state)
}

func TestBreakerFailureRatio(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okMemOS), step{status: 500}, jsonStep(200, okMemOS), step{status: 502}, jsonStep(200, okMemOS))
	tr := NewTransport(nil, fast(WithMaxRetries(0),
		WithBreaker(BreakerSettings{MinRequests: 4, FailureRatio: 0.5, ConsecutiveFailures: 100, OpenTimeout: time.Minute}))...)
	for i := 0; i < 4; i++ {
		state, _ := tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitClosed, state, "before request %d", i+1)
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
	}
	state, _ := tr.BreakerState(srv.URL)
	assert.Equal(t, CircuitOpen, state, "2 failures of 4 requests")
}

func TestBreakerNetworkErrorsAndCancellation(t *testing.T) {
	t.Run("network errors are failures", func(t *testing.T) {
		addr := closedPort(t)
		tr := NewTransport(nil, fast(WithMaxRetries(0), WithBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Minute}))...)
		for i := 0; i < 2; i++ {
			_, err := get(t, tr, "http://"+addr)
			require.Error(t, err)
			assert.NotErrorIs(t, err, ErrCircuitOpen)
		}
		_, err := get(t, tr, "http://"+addr)
		assert.ErrorIs(t, err, ErrCircuitOpen)
	})

	t.Run("cancelled contexts are neither", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		tr := NewTransport(nil, fast(WithMaxRetries(0), WithBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Minute}))...)
		for i := 0; i < 3; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			_, err := tr.RoundTrip(req)
			cancel()
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		}
		state, _ := tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitClosed, state)
	})
}

func TestBreakerHalfOpen(t *testing.T) {
	const openFor = time.Second
	setup := func(t *testing.T) (*toggled, *Transport, *changes, *fakeClock) {
		clock := useFakeClock(t)
		srv := newToggled(t, true)
		ch := &changes{}
		tr := NewTransport(nil, fast(WithMaxRetries(0),
			WithBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openFor}),
			WithHooks(Hooks{OnBreakerChange: ch.hook}))...)
		for i := 0; i < 2; i++ {
			resp, err := get(t, tr, srv.URL)
			require.NoError(t, err)
			readAll(t, resp)
		}
		_, err := get(t, tr, srv.URL)
		require.ErrorIs(t, err, ErrCircuitOpen)
		require.Equal(t, int32(2), srv.hits.Load())
		clock.Advance(openFor - time.Millisecond)
		state, _ := tr.BreakerState(srv.URL)
		require.Equal(t, CircuitOpen, state, "open for the whole period")
		clock.Advance(time.Millisecond)
		return srv, tr, ch, clock
	}

	t.Run("a success closes it", func(t *testing.T) {
		srv, tr, ch, clock := setup(t)
		ended := clock.Now() // setup moved the clock to the end of the open period
		state, _ := tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitHalfOpen, state)
		srv.failing.Store(false)
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		assert.Equal(t, okMemOS, readAll(t, resp))
		state, _ = tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitClosed, state)
		host := canonicalHost(mustURL(t, srv.URL))
		assert.Equal(t, []BreakerChange{
			{Host: host, From: CircuitClosed, To: CircuitOpen, Until: ended},
			{Host: host, From: CircuitOpen, To: CircuitHalfOpen},
			{Host: host, From: CircuitHalfOpen, To: CircuitClosed},
		}, ch.list())
	})

	t.Run("a failure reopens it for twice as long", func(t *testing.T) {
		srv, tr, ch, clock := setup(t)
		ended := clock.Now() // setup moved the clock to the end of the open period
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
		assert.Equal(t, int32(3), srv.hits.Load(), "one trial request")
		state, _ := tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitOpen, state)
		_, err = get(t, tr, srv.URL)
		var be *BreakerError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, 2*openFor, be.Remaining)
		host := canonicalHost(mustURL(t, srv.URL))
		assert.Equal(t, []BreakerChange{
			{Host: host, From: CircuitClosed, To: CircuitOpen, Until: ended},
			{Host: host, From: CircuitOpen, To: CircuitHalfOpen},
			{Host: host, From: CircuitHalfOpen, To: CircuitOpen, Until: ended.Add(2 * openFor)},
		}, ch.list())
		clock.Advance(2 * openFor)
		state, _ = tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitHalfOpen, state)
	})

	t.Run("trial slots taken", func(t *testing.T) {
		srv, tr, _, _ := setup(t)
		hold := make(chan struct{})
		srv.hold.Store(&hold)
		srv.failing.Store(false)
		trial := make(chan error, 1)
		go func() {
			resp, err := get(t, tr, srv.URL)
			if err == nil {
				readAll(t, resp)
			}
			trial <- err
		}()
		require.Eventually(t, func() bool { return srv.hits.Load() == 3 }, time.Minute, time.Millisecond)
		_, err := get(t, tr, srv.URL)
		var be *BreakerError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, CircuitHalfOpen, be.State)
		assert.ErrorIs(t, err, ErrCircuitOpen)
		assert.ErrorIs(t, err, gobreaker.ErrTooManyRequests)
		assert.Equal(t, int32(3), srv.hits.Load())
		close(hold)
		require.NoError(t, <-trial)
		state, _ := tr.BreakerState(srv.URL)
		assert.Equal(t, CircuitClosed, state)
	})
}

// TestBreakerOpenPeriodGrows checks the open period: 1s at the first trip,
// doubled by each trip that follows another without a long closed spell
// between them, capped, and back to 1s once the breaker has stayed closed
// for MaxOpenTimeout.
func TestBreakerOpenPeriodGrows(t *testing.T) {
	clock := useFakeClock(t)
	var failing atomic.Bool
	failing.Store(true)
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		status := http.StatusOK
		if failing.Load() {
			status = http.StatusServiceUnavailable
		}
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	tr := NewTransport(base, WithMaxRetries(0), WithBreaker(BreakerSettings{ConsecutiveFailures: 1, MaxOpenTimeout: 5 * time.Second}))
	const host = "http://memory.invalid"
	send := func() error {
		resp, err := get(t, tr, host+"/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	remaining := func() time.Duration {
		var be *BreakerError
		require.ErrorAs(t, send(), &be)
		return be.Remaining
	}
	require.NoError(t, send()) // trips
	var periods []time.Duration
	for i := 0; i < 5; i++ {
		d := remaining()
		periods = append(periods, d)
		clock.Advance(d)
		require.NoError(t, send()) // the trial fails: open again
	}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, periods)

	// A trial that succeeds closes it; a trip soon after keeps growing.
	clock.Advance(remaining())
	failing.Store(false)
	require.NoError(t, send())
	failing.Store(true)
	clock.Advance(time.Second)
	require.NoError(t, send())
	assert.Equal(t, 5*time.Second, remaining(), "closed 1s only: the period stays long")

	// Closed for MaxOpenTimeout: the next trip starts at 1s again.
	clock.Advance(remaining())
	failing.Store(false)
	require.NoError(t, send())
	clock.Advance(5 * time.Second)
	failing.Store(true)
	require.NoError(t, send())
	assert.Equal(t, time.Second, remaining())
}

func TestBreakerHookMayReadState(t *testing.T) {
	srv := newToggled(t, true)
	var tr *Transport
	seen := make(chan CircuitState, 4)
	tr = NewTransport(nil, fast(WithMaxRetries(0),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Minute}),
		WithHooks(Hooks{OnBreakerChange: func(c BreakerChange) {
			s, _ := tr.BreakerState(srv.URL)
			seen <- s
		}}))...)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := get(t, tr, srv.URL)
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("deadlock: OnBreakerChange calling BreakerState")
	}
	require.Len(t, seen, 1)
	assert.Equal(t, CircuitOpen, <-seen)
}

func TestWithoutBreaker(t *testing.T) {
	srv := newToggled(t, true)
	tr := NewTransport(nil, fast(WithMaxRetries(0), WithoutBreaker())...)
	for i := 0; i < 20; i++ {
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
	}
	assert.Equal(t, 20, srv.Hits())
	_, ok := tr.BreakerState(srv.URL)
	assert.False(t, ok)
}

func TestBreakerErrorString(t *testing.T) {
	be := &BreakerError{Host: "https://api.coze.cn:443", State: CircuitOpen, Remaining: 12 * time.Second}
	assert.Equal(t, "memerr: circuit open for https://api.coze.cn:443 (half-open in 12s)", be.Error())
	assert.True(t, errors.Is(be, ErrCircuitOpen))
	assert.True(t, errors.Is(be, gobreaker.ErrOpenState))
	assert.False(t, errors.Is(be, gobreaker.ErrTooManyRequests))
}

func TestCanonicalHost(t *testing.T) {
	for raw, want := range map[string]string{
		"http://Example.COM/x":        "http://example.com:80",
		"https://api.coze.cn":         "https://api.coze.cn:443",
		"https://api.coze.cn:443/v3":  "https://api.coze.cn:443",
		"http://127.0.0.1:8080/":      "http://127.0.0.1:8080",
		"http://[::1]:9000/":          "http://[::1]:9000",
		"http://user:pw@example.com/": "http://example.com:80",
	} {
		assert.Equal(t, want, canonicalHost(mustURL(t, raw)), raw)
	}
}

// TestBreakerLookupAlternatingHosts checks the last-host shortcut of the
// breaker lookup: hosts taken in turn, and a scheme that differs for the
// same host and port, each keep their own breaker.
func TestBreakerLookupAlternatingHosts(t *testing.T) {
	bs := newScopes(&config{}, nil)
	at := func(raw string) *scope { return bs.forRequest(&http.Request{URL: mustURL(t, raw)}) }
	a1 := at("http://a.example/x")
	b1 := at("http://b.example/x")
	a2 := at("http://a.example:80/y")
	s1 := at("https://a.example/x")
	a3 := at("http://a.example/z")
	b2 := at("http://B.example/")
	assert.NotSame(t, a1, b1)
	assert.Same(t, a1, a2, "the same host spelled with its default port")
	assert.Same(t, a1, a3)
	assert.NotSame(t, a1, s1, "https is another breaker")
	assert.Same(t, b1, b2, "host names are case-insensitive")
	assert.Equal(t, "http://a.example:80", a3.key)
	assert.Equal(t, "https://a.example:443", s1.key)
}

// TestBreakerDropsOutcomesFromAnEarlierState checks that a request let
// through while the breaker was closed, whose failure comes back after the
// breaker has opened and closed again, does not count in the new closed
// state (gobreaker drops such outcomes by generation; the lock-free closed
// path must too).
func TestBreakerDropsOutcomesFromAnEarlierState(t *testing.T) {
	clock := useFakeClock(t)
	const openFor = time.Second
	inSlow, release := make(chan struct{}), make(chan struct{})
	var failing atomic.Bool
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		status := http.StatusOK
		switch {
		case r.URL.Path == "/slow":
			close(inSlow)
			<-release
			status = http.StatusServiceUnavailable
		case failing.Load():
			status = http.StatusServiceUnavailable
		}
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	tr := NewTransport(base, fast(WithMaxRetries(0),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: openFor}))...)
	const host = "http://memory.invalid"
	send := func() {
		t.Helper()
		resp, err := get(t, tr, host+"/")
		require.NoError(t, err)
		resp.Body.Close()
	}

	slow := make(chan error, 1)
	go func() {
		resp, err := get(t, tr, host+"/slow")
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	<-inSlow // let through while closed

	failing.Store(true)
	send()
	send()
	state, _ := tr.BreakerState(host)
	require.Equal(t, CircuitOpen, state)

	clock.Advance(openFor)
	failing.Store(false)
	send() // the trial request closes it
	state, _ = tr.BreakerState(host)
	require.Equal(t, CircuitClosed, state)

	close(release) // the slow request's 503 comes back now
	require.NoError(t, <-slow)
	failing.Store(true)
	send()
	state, _ = tr.BreakerState(host)
	assert.Equal(t, CircuitClosed, state,
		"one failure in the new closed state; the 503 to a request sent before the breaker opened must not count")
	send()
	state, _ = tr.BreakerState(host)
	assert.Equal(t, CircuitOpen, state, "two failures in a row of the new closed state")
}

// TestBreakerClosingForgetsCounts checks that a breaker that closes after
// its trial starts counting afresh.
func TestBreakerClosingForgetsCounts(t *testing.T) {
	clock := useFakeClock(t)
	const openFor = time.Second
	srv := newToggled(t, true)
	tr := NewTransport(nil, fast(WithMaxRetries(0),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 2, MinRequests: 3, FailureRatio: 0.5, OpenTimeout: openFor}))...)
	for i := 0; i < 2; i++ {
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		readAll(t, resp)
	}
	state, _ := tr.BreakerState(srv.URL)
	require.Equal(t, CircuitOpen, state)
	clock.Advance(openFor)
	srv.failing.Store(false)
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	readAll(t, resp)
	state, _ = tr.BreakerState(srv.URL)
	require.Equal(t, CircuitClosed, state)

	// Had the two failures before the trip been kept, one more would make
	// 3 failures in 4 requests and 1 in a row after the trial… and trip
	// on the ratio.
	srv.failing.Store(true)
	resp, err = get(t, tr, srv.URL)
	require.NoError(t, err)
	readAll(t, resp)
	state, _ = tr.BreakerState(srv.URL)
	assert.Equal(t, CircuitClosed, state)
}

// TestBreakerTripsUnderConcurrency sends requests from many goroutines to
// a host that always fails: the breaker opens, and the requests that reach
// the host are the ones that trip it plus at most one in flight per
// goroutine.
func TestBreakerTripsUnderConcurrency(t *testing.T) {
	srv := newToggled(t, true)
	const goroutines, trip = 8, 5
	tr := NewTransport(nil, fast(WithMaxRetries(0),
		WithBreaker(BreakerSettings{ConsecutiveFailures: trip, OpenTimeout: time.Minute}))...)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					assert.ErrorIs(t, err, ErrCircuitOpen)
					return
				}
				resp.Body.Close()
			}
			t.Error("the breaker never opened")
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, srv.Hits(), trip+goroutines-1)
	state, _ := tr.BreakerState(srv.URL)
	assert.Equal(t, CircuitOpen, state)
}

// TestBreakerScopeByPath: five MemOS 50005 "search service down" answers
// on /search/memory open the breaker of that path only, when breakers are
// scoped by path; GET /get/memory still goes through.
func TestBreakerScopeByPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/search/memory" {
			io.WriteString(w, `{"code":50005,"message":"search service down","data":null}`)
			return
		}
		io.WriteString(w, okMemOS)
	}))
	defer srv.Close()
	byPath := func(r *http.Request) string { return canonicalHost(r.URL) + r.URL.Path }
	c := NewClient(WithVendor(MemOS), WithMaxRetries(0), WithBreakerScope(byPath))
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/search/memory", strings.NewReader(`{"query":"tea"}`))
		_, err := c.Do(req)
		require.ErrorIs(t, err, MemOSSearchServiceUnavailable)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/search/memory", strings.NewReader(`{"query":"tea"}`))
	_, err := c.Do(req)
	require.ErrorIs(t, err, ErrCircuitOpen, "the failing endpoint's breaker is open")
	var be *BreakerError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, canonicalHost(mustURL(t, srv.URL))+"/search/memory", be.Host)

	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/get/memory", nil)
	resp, err := c.Do(req)
	require.NoError(t, err, "another endpoint of the same host is not refused")
	assert.Equal(t, okMemOS, readAll(t, resp))
	state, ok := c.Transport().BreakerState(srv.URL + "/get/memory")
	require.True(t, ok)
	assert.Equal(t, CircuitClosed, state)
	state, _ = c.Transport().BreakerState(srv.URL + "/search/memory")
	assert.Equal(t, CircuitOpen, state)

	t.Run("by host, the default, both share one breaker", func(t *testing.T) {
		c := NewClient(WithMaxRetries(0)) // no vendor named: no profile scope
		for i := 0; i < 5; i++ {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/search/memory", strings.NewReader(`{}`))
			c.Do(req)
		}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/get/memory", nil)
		_, err := c.Do(req)
		assert.ErrorIs(t, err, ErrCircuitOpen)
	})
	t.Run("MemOS named: its profile gives search a breaker of its own", func(t *testing.T) {
		c := NewClient(WithVendor(MemOS), WithMaxRetries(0))
		for i := 0; i < 5; i++ {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/search/memory", strings.NewReader(`{}`))
			c.Do(req)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/search/memory", strings.NewReader(`{}`))
		_, err := c.Do(req)
		var be *BreakerError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, canonicalHost(mustURL(t, srv.URL))+"/search", be.Host)
		req, _ = http.NewRequest(http.MethodGet, srv.URL+"/get/memory", nil)
		resp, err := c.Do(req)
		require.NoError(t, err, "reads go on while search is down")
		readAll(t, resp)
		state, _ := c.Transport().BreakerState(srv.URL + "/search/memory")
		assert.Equal(t, CircuitOpen, state)
		state, _ = c.Transport().BreakerState(srv.URL + "/get/memory")
		assert.Equal(t, CircuitClosed, state)
	})
}

// TestRetryBudgetPerScope: an outage at one host spends that host's
// budget only.
func TestRetryBudgetPerScope(t *testing.T) {
	down := newToggled(t, true)
	up := newToggled(t, true)
	tr := NewTransport(nil, fast(WithoutBreaker(), WithMaxRetries(3))...)
	for i := 0; i < 200; i++ {
		resp, err := get(t, tr, down.URL)
		require.NoError(t, err)
		readAll(t, resp)
	}
	spent := down.hits.Load()
	assert.Less(t, spent, int32(2*200), "the down host's budget ran out: most requests were sent once")
	before := up.hits.Load()
	resp, err := get(t, tr, up.URL)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, int32(4), up.hits.Load()-before, "the other host still has its retries")
}

// TestScopesEvictedWhenIdle: a transport that has called 100,000 hosts
// keeps a bounded number of scopes; host names differing in case share one.
func TestScopesEvictedWhenIdle(t *testing.T) {
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	tr := NewTransport(base)
	for i := 0; i < 100_000; i++ {
		resp, err := get(t, tr, fmt.Sprintf("http://h%d.example/", i))
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.LessOrEqual(t, tr.scopes.len(), 2*minSweep, "idle scopes are swept away")

	tr = NewTransport(base)
	for _, raw := range []string{"http://API.Example.com/", "http://api.example.com:80/x", "HTTP://api.EXAMPLE.com/y"} {
		resp, err := get(t, tr, raw)
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, 1, tr.scopes.len(), "host keys are case-normalised")

	t.Run("a scope in use survives sweeps", func(t *testing.T) {
		tr := NewTransport(base)
		busy := tr.scopes.forRequest(&http.Request{URL: mustURL(t, "http://busy.example/")})
		for i := 0; i < 10*minSweep; i++ {
			tr.scopes.forRequest(&http.Request{URL: mustURL(t, fmt.Sprintf("http://h%d.example/", i))})
			if i%100 == 0 {
				tr.scopes.forRequest(&http.Request{URL: mustURL(t, "http://busy.example/")})
			}
		}
		assert.Same(t, busy, tr.scopes.forRequest(&http.Request{URL: mustURL(t, "http://busy.example/")}))
	})
}

// TestBreakerDialsAtDeadPort: 1,000 requests from 32 goroutines at a port
// nobody listens on dial at most 64 times before the breaker opens and
// refuses the rest.
func TestBreakerDialsAtDeadPort(t *testing.T) {
	addr := closedPort(t)
	var dials atomic.Int32
	base := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{}
	base.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, a)
	}
	tr := NewTransport(base, WithBackoff(time.Millisecond, 2*time.Millisecond))
	var wg sync.WaitGroup
	var refused atomic.Int32
	next := make(chan struct{}, 1000)
	for i := 0; i < 1000; i++ {
		next <- struct{}{}
	}
	close(next)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				_, err := get(t, tr, "http://"+addr+"/")
				if errors.Is(err, ErrCircuitOpen) {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("dials %d, refused by the breaker %d of 1000", dials.Load(), refused.Load())
	assert.LessOrEqual(t, dials.Load(), int32(64))
	assert.GreaterOrEqual(t, refused.Load(), int32(900))
}

// A scope is not idle while its breaker is open or its server's wait
// hint is in force: sweeping it away would forget both, and the next
// request would go to a host that asked to be left alone.
func TestScopesKeptWhileOpenOrHeld(t *testing.T) {
	useFakeClock(t)
	var calls sync.Map // host → *atomic.Int32
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n, _ := calls.LoadOrStore(r.URL.Host, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}
		switch r.URL.Host {
		case "down.example":
			resp.StatusCode = http.StatusServiceUnavailable
		case "held.example":
			resp.StatusCode = http.StatusTooManyRequests
			resp.Header.Set("Retry-After", "20")
		}
		return resp, nil
	})
	tr := NewTransport(base, WithMaxRetries(0), WithMaxRetryWait(time.Second),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Minute}))
	send := func(host string) error {
		resp, err := get(t, tr, "http://"+host+"/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	require.NoError(t, send("down.example"))
	require.NoError(t, send("held.example"))
	for i := 0; i < 5*minSweep; i++ {
		require.NoError(t, send(fmt.Sprintf("h%d.example", i)))
	}
	assert.LessOrEqual(t, tr.scopes.len(), 2*(minSweep+2), "idle scopes are still swept away")
	assert.ErrorIs(t, send("down.example"), ErrCircuitOpen)
	assert.ErrorIs(t, send("held.example"), ErrRateLimited)
	for _, host := range []string{"down.example", "held.example"} {
		n, _ := calls.Load(host)
		assert.Equal(t, int32(1), n.(*atomic.Int32).Load(), "%s called once", host)
	}
}
