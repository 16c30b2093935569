package memerrfleet

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tripBreaker trips on 5 failures in a row and stays open a minute: no
// test here reaches the end of an open period.
var tripBreaker = memerr.BreakerSettings{ConsecutiveFailures: 5, OpenTimeout: time.Minute}

// tripReplicas are n replicas on addr (each a Fleet of its own), without
// retries, whose breakers trip on s.
func tripReplicas(t *testing.T, addr string, n int, s memerr.BreakerSettings) []*replica {
	var rs []*replica
	for i := 0; i < n; i++ {
		f := patientFleet(t, addr)
		rs = append(rs, &replica{fleet: f, client: memerr.NewClient(memerr.WithFleet(f), memerr.WithMaxRetries(0), memerr.WithBreaker(s))})
	}
	subscribed(t, addr, n)
	return rs
}

// subscribed waits until n fleets listen on addr's channel: a count
// published before a replica subscribes does not reach it (the refresh
// repairs holds, not counts).
func subscribed(t *testing.T, addr string, n int) {
	t.Helper()
	rdb := newClient(t, addr)
	require.Eventually(t, func() bool {
		subs, err := rdb.PubSubNumSub(context.Background(), "memerr:holds").Result()
		return err == nil && subs["memerr:holds"] >= int64(n)
	}, slow, poll, "the replicas listen")
}

// failInTurn has replicas 0 to n-1 each send one request to url, which
// fails, each failure known by every replica before the next is sent.
func failInTurn(t *testing.T, rs []*replica, url, scope string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, err := rs[i].get(url)
		require.ErrorIs(t, err, memerr.ErrUnavailable)
		if i < n-1 {
			knowsCount(t, rs, scope, int64(i+1))
		}
	}
}

// knowsCount waits until every replica knows the fleet's count of scope
// as n (0: none).
func knowsCount(t *testing.T, rs []*replica, scope string, n int64) {
	t.Helper()
	for _, r := range rs {
		require.Eventually(t, func() bool {
			r.fleet.mu.RLock()
			defer r.fleet.mu.RUnlock()
			return r.fleet.counts[scope].n == n
		}, slow, poll, "every replica learns the count %d", n)
	}
}

// Eight replicas failing in turn open the circuit for all after five
// failures across the fleet, not five each: the fifth failure's replica
// opens it, and every replica then fails at once without sending.
func TestTripTogether(t *testing.T) {
	m := miniredis.RunT(t)
	v := newTrialVendor(t, http.StatusServiceUnavailable, false)
	rs := tripReplicas(t, m.Addr(), 8, tripBreaker)
	scope := v.scope()
	failInTurn(t, rs, v.URL+"/v1/x", scope, 5)
	for i, r := range rs {
		require.Eventually(t, func() bool { h, ok := r.fleet.Held(scope); return ok && h.Until.After(time.Now()) }, slow, poll,
			"replica %d learns the open circuit", i)
		h, _ := r.fleet.Held(scope)
		assert.Equal(t, memerr.KindUnavailable, h.Kind)
		assert.Equal(t, circuitOpen, h.Code)
		assert.Equal(t, time.Minute, h.Period)
		_, err := r.get(v.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrCircuitOpen, "replica %d fails at once", i)
	}
	assert.Equal(t, int64(5), v.hits.Load(), "five requests reached the vendor, not 8×5")
	var trips uint64
	for _, r := range rs {
		trips += r.fleet.Stats().Trips
	}
	assert.Equal(t, uint64(1), trips, "one replica opened the circuit")
	assert.Equal(t, uint64(1), rs[4].fleet.Stats().Trips, "the one whose failure reached five")
	assert.False(t, m.Exists("memerr:fails:"+scope), "the count is cleared by the trip")
}

// A success on any replica starts the fleet's count again, also on one
// that has not failed itself: it knows the count from the others'
// messages. A success while the count is zero asks nothing of Redis.
func TestTripSuccessResets(t *testing.T) {
	m := miniredis.RunT(t)
	v := newTrialVendor(t, http.StatusServiceUnavailable, false)
	s := tripBreaker
	s.ConsecutiveFailures = 3
	rs := tripReplicas(t, m.Addr(), 3, s)
	a, b, c, scope := rs[0], rs[1], rs[2], v.scope()

	assert.Zero(t, testing.AllocsPerRun(100, func() { b.fleet.Succeeded(scope) }), "a success with the count at zero")
	assert.Zero(t, len(b.fleet.queue), "and no Redis work queued")

	for i := 1; i <= 2; i++ {
		_, err := a.get(v.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrUnavailable)
		knowsCount(t, rs, scope, int64(i))
	}
	v.status.Store(http.StatusOK)
	_, err := b.get(v.URL + "/v1/x")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !m.Exists("memerr:fails:" + scope) }, slow, poll, "b's success clears the count")
	knowsCount(t, rs, scope, 0)

	v.status.Store(http.StatusServiceUnavailable)
	for i := 1; i <= 2; i++ { // c: a's own breaker would trip on its third failure in a row
		_, err := c.get(v.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrUnavailable)
		knowsCount(t, rs, scope, int64(i))
	}
	_, held := b.fleet.Held(scope)
	assert.False(t, held, "four failures, but not three in a row: no trip")
	_, err = b.get(v.URL + "/v1/x")
	require.ErrorIs(t, err, memerr.ErrUnavailable)
	require.Eventually(t, func() bool { _, ok := a.fleet.Held(scope); return ok }, slow, poll, "the third in a row trips")
}

// With Redis down, nothing is counted across the fleet: each replica's
// breaker trips on its own failures, as without a fleet, and no request
// waits for Redis.
func TestTripRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	v := newTrialVendor(t, http.StatusServiceUnavailable, false)
	var rs []*replica
	for i := 0; i < 3; i++ {
		f := newFleet(t, m.Addr())
		rs = append(rs, &replica{fleet: f, client: memerr.NewClient(memerr.WithFleet(f), memerr.WithMaxRetries(0),
			memerr.WithBreaker(tripBreaker))})
	}
	m.Close()
	for _, r := range rs {
		require.Eventually(t, func() bool { return r.fleet.Stats().Degraded }, slow, poll)
	}
	for i, r := range rs {
		for j := 0; j < 5; j++ {
			d, err := r.get(v.URL + "/v1/x")
			require.ErrorIs(t, err, memerr.ErrUnavailable, "replica %d, failure %d", i, j)
			assert.Less(t, d, testTimeout, "no request waits for Redis")
		}
		_, err := r.get(v.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrCircuitOpen, "replica %d's own breaker opens after its own five failures", i)
		st, _ := r.client.Transport().BreakerState(v.URL)
		assert.Equal(t, memerr.CircuitOpen, st)
	}
	assert.Equal(t, int64(15), v.hits.Load())
}

// A count in Redis that is not one the fleet writes (garbage, too large, a
// key of another type) is read as zero: a failure after it counts one and
// never trips. Malformed count messages are ignored, counted in
// Stats.Ignored.
func TestTripCorruptCount(t *testing.T) {
	m := miniredis.RunT(t)
	f := patientFleet(t, m.Addr())
	const scope = "https://api.coze.com:443"
	key := "memerr:fails:" + scope
	for _, bad := range []string{"garbage", "5", "99999999999999999999", "-3", "4.5", "", "1e3", " 4"} {
		require.NoError(t, m.Set(key, bad))
		f.Failed(scope, tripBreaker)
		require.Eventually(t, func() bool { got, _ := m.Get(key); return got == "1" }, slow, poll, "%q reads as zero", bad)
	}
	m.Del(key)
	m.HSet(key, "n", "4")
	f.Failed(scope, tripBreaker)
	require.Eventually(t, func() bool { got, _ := m.Get(key); return got == "1" }, slow, poll, "a hash reads as zero")
	_, held := f.Held(scope)
	assert.False(t, held, "garbage never trips")
	assert.Zero(t, f.Stats().Trips)

	ignored := f.Stats().Ignored
	for _, msg := range []string{"fails|abc|" + scope, "fails|-1|" + scope, "fails|7", "fails||" + scope, "fails|99999999999|" + scope} {
		m.Publish("memerr:holds", msg)
	}
	require.Eventually(t, func() bool { return f.Stats().Ignored == ignored+5 }, slow, poll)
	assert.False(t, f.Stats().Degraded, "a corrupt value is no Redis failure")
}

// The count expires the breaker's Window after the last failure, and a
// trip opens the circuit for the breaker's OpenTimeout.
func TestTripWindowAndPeriod(t *testing.T) {
	m := miniredis.RunT(t)
	f := patientFleet(t, m.Addr())
	const scope = "s"
	s := memerr.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: 3 * time.Second, Window: 30 * time.Second}
	f.Failed(scope, s)
	require.Eventually(t, func() bool { return m.Exists("memerr:fails:" + scope) }, slow, poll)
	assert.Equal(t, 30*time.Second, m.TTL("memerr:fails:"+scope))
	m.FastForward(31 * time.Second)
	f.Failed(scope, s)
	require.Eventually(t, func() bool { got, _ := m.Get("memerr:fails:" + scope); return got == "1" }, slow, poll,
		"the first failure has expired")

	start := time.Now()
	f.Failed(scope, s)
	require.Eventually(t, func() bool { _, ok := f.Held(scope); return ok }, slow, poll)
	h, _ := f.Held(scope)
	assert.Equal(t, 3*time.Second, h.Period)
	assert.WithinDuration(t, start.Add(3*time.Second), h.Until, time.Second)
	require.Eventually(t, func() bool { v, _ := m.Get("memerr:hold:{" + scope + "}"); return v == encode(h) }, slow, poll,
		"the open circuit is written for the others")
}
