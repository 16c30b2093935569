package memerr

import (
	"context"
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
