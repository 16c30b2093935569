package memerr

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tripFleet is a mapFleet that also counts breaker failures across its
// replicas (FleetTripper), as memerrfleet does in Redis: failures in a
// row, a success starting again from zero, and at ConsecutiveFailures a
// circuit hold of OpenTimeout for every replica.
type tripFleet struct {
	mapFleet
	count     map[string]uint32
	failed    int
	succeeded int
	settings  BreakerSettings // of the last failure
}

func (f *tripFleet) Failed(scope string, s BreakerSettings) {
	f.mu.Lock()
	if f.count == nil {
		f.count = map[string]uint32{}
	}
	f.failed++
	f.settings = s
	f.count[scope]++
	trip := f.count[scope] >= s.ConsecutiveFailures
	if trip {
		f.count[scope] = 0
	}
	f.mu.Unlock()
	if trip {
		f.Hold(scope, FleetHold{Until: timeNow().Add(s.OpenTimeout), Kind: KindUnavailable, Code: circuitOpenCode, Period: s.OpenTimeout})
	}
}

func (f *tripFleet) Succeeded(scope string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.succeeded++
	delete(f.count, scope)
}

func (f *tripFleet) reports() (failed, succeeded int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed, f.succeeded
}

// Replicas whose failures the fleet counts together trip together: the
// first ConsecutiveFailures failures across the fleet, not each replica's
// own, open the circuit for every replica.
func TestFleetTripsTogether(t *testing.T) {
	srv := newScripted(t, step{status: 503})
	fleet := &tripFleet{}
	cs, clock, _ := replicas(t, 4, fleet, WithMaxRetries(0),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 5, OpenTimeout: 10 * time.Second}))
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		require.ErrorIs(t, getJSON(cs[i%4], ctx, srv.URL+"/v1/memories"), ErrUnavailable)
	}
	for _, c := range cs {
		st, _ := c.Transport().BreakerState(srv.URL)
		assert.Equal(t, CircuitClosed, st, "no replica's own breaker has tripped (at most 2 failures each)")
		err := getJSON(c, ctx, srv.URL+"/v1/memories")
		require.ErrorIs(t, err, ErrCircuitOpen, "every replica stops after 5 failures across the fleet")
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 10*time.Second, e.RetryAfter)
	}
	assert.Equal(t, 5, srv.Hits(), "5 requests reached the vendor, not 4×5")
	failed, _ := fleet.reports()
	assert.Equal(t, 5, failed)
	assert.Equal(t, uint32(5), fleet.settings.ConsecutiveFailures)
	assert.Equal(t, time.Minute, fleet.settings.MaxOpenTimeout, "the settings come with their defaults")

	clock.Advance(11 * time.Second)
	assert.ErrorIs(t, getJSON(cs[3], ctx, srv.URL+"/v1/memories"), ErrUnavailable, "after the open period it sends again")
}

// A success on any replica starts the fleet's count again; rate limits
// and the caller's own cancellation count as neither.
func TestFleetTripCountsOutcomes(t *testing.T) {
	srv := newScripted(t, step{status: 503}, step{status: 503}, jsonStep(200, thOK), step{status: 429, body: thRateLimited},
		step{status: 503})
	fleet := &tripFleet{}
	cs, _, _ := replicas(t, 2, fleet, WithMaxRetries(0), WithBreaker(BreakerSettings{ConsecutiveFailures: 3}))
	ctx := context.Background()
	u := srv.URL + "/v1/memories"
	getJSON(cs[0], ctx, u)
	getJSON(cs[1], ctx, u)
	require.NoError(t, getJSON(cs[0], ctx, u))
	require.ErrorIs(t, getJSON(cs[1], ctx, u), ErrRateLimited)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, getJSON(cs[1], cancelled, u))
	getJSON(cs[0], ctx, u)
	getJSON(cs[1], ctx, u)
	failed, succeeded := fleet.reports()
	assert.Equal(t, 4, failed)
	assert.Equal(t, 1, succeeded, "the 429 and the cancelled request are not reported")
	_, held := fleet.Held(canonicalHost(mustURL(t, srv.URL)))
	assert.False(t, held, "two failures since the success: below 3")
	require.ErrorIs(t, getJSON(cs[0], ctx, u), ErrUnavailable)
	_, held = fleet.Held(canonicalHost(mustURL(t, srv.URL)))
	assert.True(t, held, "the third in a row trips the fleet")
}

// Without breakers, nothing is counted.
func TestFleetTripWithoutBreaker(t *testing.T) {
	srv := newScripted(t, step{status: http.StatusServiceUnavailable})
	fleet := &tripFleet{}
	cs, _, _ := replicas(t, 1, fleet, WithMaxRetries(0), WithoutBreaker())
	for i := 0; i < 3; i++ {
		getJSON(cs[0], context.Background(), srv.URL+"/v1/memories")
	}
	failed, succeeded := fleet.reports()
	assert.Zero(t, failed+succeeded)
}
