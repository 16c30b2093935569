package memerrfleet

import (
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Over a real redis-server: a replica's breaker opens (for 200 ms) and
// the open circuit is shared; when it ends, one replica of four sends the
// trial while the others fail at once; its success reaches them all.
func TestRealRedisOneTrial(t *testing.T) {
	r := startRedis(t)
	v := newTrialVendor(t, http.StatusServiceUnavailable, true)
	breaker := memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: 200 * time.Millisecond})
	const n = 4
	var rs []*replica
	for i := 0; i < n; i++ {
		f := patientFleet(t, r.addr())
		rs = append(rs, &replica{fleet: f, client: memerr.NewClient(memerr.WithFleet(f), memerr.WithMaxRetries(0), breaker)})
	}
	_, err := rs[0].get(v.URL + "/v1/x")
	require.ErrorIs(t, err, memerr.ErrUnavailable)
	for _, r := range rs {
		require.Eventually(t, func() bool { h, ok := r.fleet.Held(v.scope()); return ok && h.Until.Before(time.Now()) }, slow, poll,
			"every replica knows the open circuit, which has ended")
	}
	v.status.Store(http.StatusOK)

	errs := make(chan error, n)
	for _, r := range rs {
		go func() { _, err := r.get(v.URL + "/v1/x"); errs <- err }()
	}
	for i := 0; i < n-1; i++ {
		select {
		case err := <-errs:
			require.ErrorIs(t, err, memerr.ErrCircuitOpen, "all but the trial fail at once")
		case <-time.After(slow):
			t.Fatalf("%d requests reached the vendor", v.hits.Load())
		}
	}
	require.Eventually(t, func() bool { return v.hits.Load() == 2 }, slow, poll)
	v.open()
	require.NoError(t, <-errs, "the trial succeeds")
	closed := time.Now()
	var reached []time.Duration
	for _, r := range rs {
		require.Eventually(t, func() bool { _, err := r.get(v.URL + "/v1/x"); return err == nil }, slow, 100*time.Microsecond)
		reached = append(reached, time.Since(closed))
	}
	assert.Equal(t, int64(2+n), v.hits.Load(), "one trial, then one request per replica")
	assert.Equal(t, uint64(1), trials(rs))
	t.Logf("fleet: one trial among %d replicas over real redis-server; every replica had sent again %v after its success",
		n, slices.Max(reached).Round(time.Microsecond))
}

// Redis paused (SIGSTOP) when an open circuit ends: each replica sends a
// trial of its own once its lease request has timed out (WithTimeout
// 200 ms), and the degraded mode is reported.
func TestRealRedisTrialPaused(t *testing.T) {
	r := startRedis(t)
	v := newTrialVendor(t, http.StatusOK, false)
	var rs []*replica
	for i := 0; i < 4; i++ {
		f := newFleet(t, r.addr())
		rs = append(rs, &replica{fleet: f, client: memerr.NewClient(memerr.WithFleet(f), memerr.WithMaxRetries(0))})
	}
	shareEnded(t, rs, v.scope(), endedCircuit(time.Second))

	r.signal(syscall.SIGSTOP)
	var ds []time.Duration
	for _, r := range rs {
		d, err := r.get(v.URL + "/v1/x")
		require.NoError(t, err, "Redis is not needed to send the trial")
		assert.Less(t, d, 5*time.Second, "bounded by WithTimeout")
		ds = append(ds, d)
		assert.True(t, r.fleet.Stats().Degraded)
	}
	assert.Equal(t, int64(len(rs)), v.hits.Load(), "one trial per replica")
	r.signal(syscall.SIGCONT)
	t.Logf("fleet: redis paused at the end of an open circuit: each of %d replicas sent its own trial, slowest after %v (WithTimeout %v)",
		len(rs), slices.Max(ds).Round(time.Millisecond), testTimeout)
}
