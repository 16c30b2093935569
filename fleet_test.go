package memerr

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mapFleet is a Fleet in memory that every replica of a test shares, as a
// Redis-backed one would.
type mapFleet struct {
	mu    sync.Mutex
	holds map[string]FleetHold
	sets  int
}

func (f *mapFleet) Hold(scope string, h FleetHold) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets++
	if f.holds == nil {
		f.holds = map[string]FleetHold{}
	}
	if cur, ok := f.holds[scope]; !ok || h.Until.After(cur.Until) {
		f.holds[scope] = h
	}
}

func (f *mapFleet) Held(scope string) (FleetHold, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[scope]
	return h, ok
}

// replicas are n Clients sharing fleet, on one fake clock.
func replicas(t *testing.T, n int, fleet Fleet, opts ...Option) ([]*Client, *fakeClock, []func() []time.Duration) {
	clock := useFakeClock(t)
	var cs []*Client
	var waits []func() []time.Duration
	for i := 0; i < n; i++ {
		c := NewClient(append([]Option{WithFleet(fleet), WithBackoff(time.Millisecond, 2*time.Millisecond)}, opts...)...)
		cs = append(cs, c)
		waits = append(waits, waitsOn(c.Transport(), clock))
	}
	return cs, clock, waits
}

// A hold learned by one replica keeps the others off the scope: beyond
// MaxRetryWait they fail at once without sending.
func TestFleetHoldFailsFastOnOtherReplicas(t *testing.T) {
	srv := newScripted(t, retryAfter(429, thRateLimited, 20*time.Second), jsonStep(200, thOK))
	fleet := &mapFleet{}
	cs, clock, _ := replicas(t, 2, fleet, WithMaxRetryWait(5*time.Second))
	ctx := context.Background()

	require.ErrorIs(t, getJSON(cs[0], ctx, srv.URL+"/v1/memories"), ErrRateLimited)
	require.Equal(t, 1, fleet.sets)
	clock.Advance(time.Second)
	err := getJSON(cs[1], ctx, srv.URL+"/v1/memories")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, KindRateLimited, e.Kind)
	assert.Equal(t, Code{Tensorheart, "RATE_LIMIT_EXCEEDED"}, Code{e.Vendor, e.Code})
	assert.Equal(t, 19*time.Second, e.RetryAfter)
	var he *HoldError
	assert.ErrorAs(t, err, &he)
	assert.Equal(t, 1, srv.Hits(), "the second replica never sent")

	clock.Advance(19 * time.Second)
	require.NoError(t, getJSON(cs[1], ctx, srv.URL+"/v1/memories"))
	assert.Equal(t, 2, srv.Hits())
}

// A fleet's hold that fits MaxRetryWait is waited out before sending.
func TestFleetHoldWaitedOut(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	fleet := &mapFleet{}
	cs, clock, waits := replicas(t, 1, fleet)
	fleet.Hold(srv.URL, FleetHold{Until: clock.Now().Add(2 * time.Second), Kind: KindRateLimited, Vendor: Coze, Code: "4008"})

	require.NoError(t, getJSON(cs[0], context.Background(), srv.URL+"/v3/chat"))
	require.Len(t, waits[0](), 1)
	assert.GreaterOrEqual(t, waits[0]()[0], 2*time.Second)
	assert.Less(t, waits[0]()[0], 2*time.Second+300*time.Millisecond)
	assert.Equal(t, 1, srv.Hits())
}

// A request's own hold, echoed by the fleet, is not waited out twice: the
// retry's wait covers it.
func TestFleetOwnHoldWaitedOnce(t *testing.T) {
	srv := newScripted(t, retryAfter(429, cozeRPM, 2*time.Second), jsonStep(200, okCoze))
	fleet := &mapFleet{}
	cs, _, waits := replicas(t, 1, fleet)

	require.NoError(t, getJSON(cs[0], context.Background(), srv.URL+"/v3/chat"))
	assert.Len(t, waits[0](), 1, "the retry's wait only")
	assert.Equal(t, 2, srv.Hits())
}

// Whatever a fleet returns, a request never waits beyond MaxRetryWait, and
// the error is a rate limit or quota failure with a bounded RetryAfter.
func TestFleetHostileHolds(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	for name, h := range map[string]FleetHold{
		"a year away, unknown kind": {Until: time.Now().Add(time.Hour + 365*24*time.Hour), Kind: KindUnknown},
		"kind out of range":         {Until: time.Now().Add(2 * time.Hour), Kind: Kind(200), Vendor: "x"},
		"zero time":                 {},
		"in the past":               {Until: time.Now().Add(-time.Hour), Kind: KindRateLimited},
	} {
		t.Run(name, func(t *testing.T) {
			fleet := &mapFleet{}
			cs, clock, waits := replicas(t, 1, fleet, WithMaxRetryWait(time.Second))
			fleet.Hold(srv.URL, h)
			hits := srv.Hits()
			err := getJSON(cs[0], context.Background(), srv.URL+"/v3/chat")
			assert.Empty(t, waits[0]())
			if !h.Until.After(clock.Now()) {
				assert.NoError(t, err)
				assert.Equal(t, hits+1, srv.Hits())
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, KindRateLimited, e.Kind)
			assert.Contains(t, []Vendor{Generic, "x"}, e.Vendor)
			assert.LessOrEqual(t, e.RetryAfter, MaxHint)
			assert.Equal(t, hits, srv.Hits())
		})
	}
}

// A replica whose breaker opens shares the open circuit: the other
// replicas fail at once with ErrCircuitOpen, without sending, until the
// open period ends.
func TestFleetSharesOpenCircuits(t *testing.T) {
	srv := newScripted(t, step{status: 503})
	fleet := &mapFleet{}
	cs, clock, _ := replicas(t, 2, fleet, WithMaxRetries(0),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 10 * time.Second}))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		require.ErrorIs(t, getJSON(cs[0], ctx, srv.URL+"/v1/memories"), ErrUnavailable)
	}
	require.Equal(t, 3, srv.Hits())
	h, ok := fleet.Held(canonicalHost(mustURL(t, srv.URL)))
	require.True(t, ok, "the open circuit is shared")
	assert.Equal(t, KindUnavailable, h.Kind)

	clock.Advance(2 * time.Second)
	err := getJSON(cs[1], ctx, srv.URL+"/v1/memories")
	require.ErrorIs(t, err, ErrCircuitOpen)
	var he *HoldError
	require.ErrorAs(t, err, &he)
	assert.Contains(t, he.Error(), "on another replica")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, KindUnavailable, e.Kind)
	assert.Equal(t, 8*time.Second, e.RetryAfter)
	assert.Equal(t, 3, srv.Hits(), "the other replica did not send")

	// A short open period is not waited out either: an open circuit fails fast.
	assert.ErrorIs(t, getJSON(cs[1], ctx, srv.URL+"/v1/memories"), ErrCircuitOpen)
	clock.Advance(9 * time.Second)
	assert.ErrorIs(t, getJSON(cs[1], ctx, srv.URL+"/v1/memories"), ErrUnavailable, "after the open period it sends again")
	assert.Equal(t, 4, srv.Hits())
}

// probeFleet is a mapFleet that also elects the fleet's trial requests
// (FleetProber), with a lease in memory on the package clock; as
// memerrfleet does, it keeps an ended open circuit until a verdict clears
// it.
type probeFleet struct {
	mapFleet
	lease    time.Duration
	leased   map[string]time.Time // end of the lease, per scope
	granted  int
	verdicts []bool
}

func (f *probeFleet) Probe(_ context.Context, scope string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := timeNow()
	if end, ok := f.leased[scope]; ok && now.Before(end) {
		return false
	}
	if f.leased == nil {
		f.leased = map[string]time.Time{}
	}
	f.leased[scope] = now.Add(f.lease)
	f.granted++
	return true
}

func (f *probeFleet) Verdict(scope string, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.leased, scope)
	f.verdicts = append(f.verdicts, closed)
	if h, ok := f.holds[scope]; closed && ok && h.Code == circuitOpenCode && !h.Until.After(timeNow()) {
		delete(f.holds, scope)
	}
}

func (f *probeFleet) counts() (granted int, verdicts []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.granted, append([]bool(nil), f.verdicts...)
}

// gated is a server that answers 503 until its script says otherwise: the
// first fails requests get a 503, the next waits for release and gets
// last.
func gated(t *testing.T, fails int, last int) (srv *scripted, release chan struct{}) {
	release = make(chan struct{})
	srv = newScripted(t)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if int(srv.hits.Add(1)) > fails {
			<-release
			w.WriteHeader(last)
			io.WriteString(w, okCoze)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	return srv, release
}

// When a shared open circuit ends, exactly one replica of the fleet sends
// the trial request; the others fail at once while it is in flight, and
// send again once its success has closed the circuit for all.
func TestFleetOneTrialPerFleet(t *testing.T) {
	srv, release := gated(t, 3, http.StatusOK)
	fleet := &probeFleet{lease: 5 * time.Second}
	const n = 5
	cs, clock, _ := replicas(t, n, fleet, WithMaxRetries(0), WithVendor(Coze),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 10 * time.Second}))
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		require.ErrorIs(t, getJSON(cs[0], ctx, srv.URL+"/v1/x"), ErrUnavailable)
	}
	h, ok := fleet.Held(canonicalHost(mustURL(t, srv.URL)))
	require.True(t, ok)
	assert.Equal(t, 10*time.Second, h.Period, "the open period travels with the hold")
	clock.Advance(10 * time.Second)

	errs := make(chan error, n)
	for _, c := range cs {
		go func() { errs <- getJSON(c, ctx, srv.URL+"/v1/x") }()
	}
	for i := 0; i < n-1; i++ {
		err := <-errs
		require.ErrorIs(t, err, ErrCircuitOpen, "every replica but the trial's fails at once")
		var he *HoldError
		require.ErrorAs(t, err, &he)
		assert.Zero(t, he.Remaining)
		assert.Contains(t, he.Error(), "trial request in flight")
	}
	require.Eventually(t, func() bool { return srv.Hits() == 4 }, 5*time.Second, time.Millisecond, "the trial reaches the server")
	close(release)
	require.NoError(t, <-errs, "the trial succeeds")
	assert.Equal(t, 4, srv.Hits(), "one trial request for the fleet")
	granted, verdicts := fleet.counts()
	assert.Equal(t, 1, granted)
	assert.Equal(t, []bool{true}, verdicts)

	for _, c := range cs {
		require.NoError(t, getJSON(c, ctx, srv.URL+"/v1/x"), "the circuit is closed for every replica")
	}
	assert.Equal(t, 4+n, srv.Hits())
	granted, _ = fleet.counts()
	assert.Equal(t, 1, granted, "no lease is asked for on the success path")
}

// A failed trial opens the circuit again for the whole fleet, for twice
// the period each time (up to MaxOpenTimeout): the other replicas keep
// failing fast without sending; one trial per period; a success closes it.
func TestFleetFailedTrialReopens(t *testing.T) {
	srv := newScripted(t, step{status: 503}, step{status: 503}, step{status: 503}, step{status: 503}, step{status: 503},
		jsonStep(200, okCoze))
	fleet := &probeFleet{lease: 5 * time.Second}
	const n = 4
	cs, clock, _ := replicas(t, n, fleet, WithMaxRetries(0), WithVendor(Coze),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 10 * time.Second, MaxOpenTimeout: 30 * time.Second}))
	ctx := context.Background()
	scope := canonicalHost(mustURL(t, srv.URL))
	for i := 0; i < 3; i++ {
		require.ErrorIs(t, getJSON(cs[0], ctx, srv.URL+"/v1/x"), ErrUnavailable)
	}
	hits := 3
	for round, period := range []time.Duration{20 * time.Second, 30 * time.Second} {
		clock.Advance(time.Minute)
		prober := cs[1+round] // a replica whose own breaker never opened
		require.ErrorIs(t, getJSON(prober, ctx, srv.URL+"/v1/x"), ErrUnavailable, "the trial fails")
		hits++
		require.Equal(t, hits, srv.Hits())
		h, ok := fleet.Held(scope)
		require.True(t, ok)
		assert.Equal(t, period, h.Period)
		assert.Equal(t, clock.Now().Add(period), h.Until)
		for _, c := range cs {
			err := getJSON(c, ctx, srv.URL+"/v1/x")
			require.ErrorIs(t, err, ErrCircuitOpen)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, period, e.RetryAfter)
		}
		assert.Equal(t, hits, srv.Hits(), "no replica sends while it is open again")
	}
	clock.Advance(time.Minute)
	require.NoError(t, getJSON(cs[3], ctx, srv.URL+"/v1/x"), "the third trial succeeds")
	for _, c := range cs {
		require.NoError(t, getJSON(c, ctx, srv.URL+"/v1/x"))
	}
	granted, verdicts := fleet.counts()
	assert.Equal(t, 3, granted)
	assert.Equal(t, []bool{false, false, true}, verdicts)
}

// A trial answered with neither success nor failure (a rate limit) gives
// the lease up without a new hold: the next request is the next trial.
func TestFleetTrialGivenUp(t *testing.T) {
	srv := newScripted(t, step{status: 503}, step{status: 429}, jsonStep(200, okCoze))
	fleet := &probeFleet{lease: 5 * time.Second}
	cs, clock, _ := replicas(t, 2, fleet, WithMaxRetries(0), WithVendor(Coze),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second}))
	ctx := context.Background()
	require.ErrorIs(t, getJSON(cs[0], ctx, srv.URL+"/v1/x"), ErrUnavailable)
	clock.Advance(10 * time.Second)
	require.ErrorIs(t, getJSON(cs[1], ctx, srv.URL+"/v1/x"), ErrRateLimited)
	require.NoError(t, getJSON(cs[0], ctx, srv.URL+"/v1/x"), "the next request is the trial")
	granted, verdicts := fleet.counts()
	assert.Equal(t, 2, granted)
	assert.Equal(t, []bool{false, true}, verdicts)
	assert.Equal(t, 3, srv.Hits())
}

// Whatever period an ended open circuit claims, a failed trial opens the
// next one within the breaker's OpenTimeout and MaxOpenTimeout.
func TestFleetTrialPeriodBounded(t *testing.T) {
	srv := newScripted(t, step{status: 503})
	for name, tc := range map[string]struct{ claimed, want time.Duration }{
		"huge":     {claimed: 1 << 62, want: time.Minute},
		"negative": {claimed: -time.Hour, want: 2 * time.Second},
		"unknown":  {claimed: 0, want: 2 * time.Second},
		"doubled":  {claimed: 5 * time.Second, want: 10 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			fleet := &probeFleet{lease: 5 * time.Second}
			cs, clock, _ := replicas(t, 1, fleet, WithMaxRetries(0),
				WithBreaker(BreakerSettings{OpenTimeout: 2 * time.Second, MaxOpenTimeout: time.Minute}))
			scope := canonicalHost(mustURL(t, srv.URL))
			fleet.Hold(scope, FleetHold{Until: clock.Now().Add(-time.Second), Kind: KindUnavailable, Code: circuitOpenCode, Period: tc.claimed})
			require.ErrorIs(t, getJSON(cs[0], context.Background(), srv.URL+"/v1/x"), ErrUnavailable)
			h, ok := fleet.Held(scope)
			require.True(t, ok)
			assert.Equal(t, tc.want, h.Period)
			assert.Equal(t, clock.Now().Add(tc.want), h.Until)
		})
	}
}

// A request elected to send the trial but over its scope's quota is not
// sent: the lease is given up, and a later request sends the trial.
func TestFleetTrialOverQuota(t *testing.T) {
	srv := newScripted(t, jsonStep(200, okCoze))
	fleet := &probeFleet{lease: 5 * time.Second}
	cs, clock, _ := replicas(t, 1, fleet, WithMaxRetries(0), WithMaxRetryWait(time.Second),
		WithQuota(srv.URL, Quota{Requests: 1, Per: time.Minute}))
	ctx := context.Background()
	require.NoError(t, getJSON(cs[0], ctx, srv.URL+"/v1/x"), "uses the quota up")
	scope := canonicalHost(mustURL(t, srv.URL))
	fleet.Hold(scope, FleetHold{Until: clock.Now().Add(-time.Second), Kind: KindUnavailable, Code: circuitOpenCode, Period: time.Second})

	err := getJSON(cs[0], ctx, srv.URL+"/v1/x")
	var he *HoldError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, quotaCode, he.Code)
	granted, verdicts := fleet.counts()
	assert.Equal(t, 1, granted)
	assert.Equal(t, []bool{false}, verdicts, "the lease is given up")
	assert.Equal(t, 1, srv.Hits())

	clock.Advance(time.Minute)
	require.NoError(t, getJSON(cs[0], ctx, srv.URL+"/v1/x"), "the next request is the trial")
	granted, verdicts = fleet.counts()
	assert.Equal(t, 2, granted)
	assert.Equal(t, []bool{false, true}, verdicts)
	_, ok := fleet.Held(scope)
	assert.False(t, ok)
}

// A hold that reaches the replica while a request waits (out a shorter
// hold, or for its turn in a quota) keeps that request off the scope too:
// after its wait, the request looks again, and fails at once (or waits
// again, within MaxRetryWait) instead of sending into the new hold. Before,
// it was sent as soon as its wait ended, and collected the 429 the other
// replica had already shared.
func TestFleetHoldLearnedDuringTheWait(t *testing.T) {
	for name, quota := range map[string]bool{"waiting out a hold": false, "waiting its turn in a quota": true} {
		t.Run(name, func(t *testing.T) {
			srv := newScripted(t, jsonStep(200, okCoze))
			fleet := &mapFleet{}
			opts := []Option{WithMaxRetries(0)}
			if quota {
				opts = append(opts, WithQuota(srv.URL, Quota{Requests: 1, Per: 2 * time.Second}))
			}
			cs, clock, _ := replicas(t, 1, fleet, opts...)
			tr := cs[0].Transport()
			scope := canonicalHost(mustURL(t, srv.URL))
			if quota {
				require.NoError(t, getJSON(cs[0], context.Background(), srv.URL+"/v3/chat")) // the quota's place for now
			} else {
				fleet.Hold(scope, FleetHold{Until: clock.Now().Add(2 * time.Second), Kind: KindRateLimited, Vendor: Coze, Code: "4008"})
			}
			sent := srv.Hits()
			var waits []time.Duration
			tr.waitFor = func(d time.Duration) time.Duration {
				waits = append(waits, d)
				if len(waits) == 1 { // another replica's 429 arrives meanwhile
					fleet.Hold(scope, FleetHold{Until: clock.Now().Add(time.Minute), Kind: KindRateLimited, Vendor: Coze, Code: "4008"})
				}
				clock.Advance(d)
				return 0
			}

			err := getJSON(cs[0], context.Background(), srv.URL+"/v3/chat")
			var he *HoldError
			require.ErrorAs(t, err, &he, "the new hold, over MaxRetryWait, fails the request")
			assert.Equal(t, KindRateLimited, he.Kind)
			assert.Equal(t, "4008", he.Code)
			assert.Equal(t, sent, srv.Hits(), "not sent into the new hold")
			assert.Len(t, waits, 1)
		})
	}
}
