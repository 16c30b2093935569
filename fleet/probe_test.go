package memerrfleet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trialVendor is a loopback vendor answering status; while its gate is
// shut (not closed), requests it answers with 200 wait for it. It counts
// only the test's own requests (ownServer).
type trialVendor struct {
	*httptest.Server
	hits   atomic.Int64
	status atomic.Int64
	gate   chan struct{}
	once   sync.Once
}

func newTrialVendor(t *testing.T, status int, gated bool) *trialVendor {
	v := &trialVendor{}
	v.status.Store(int64(status))
	if gated {
		v.gate = make(chan struct{})
	}
	v.Server = ownServer(t, func(w http.ResponseWriter, _ *http.Request) {
		v.hits.Add(1)
		if v.gate != nil && v.status.Load() == http.StatusOK {
			<-v.gate
		}
		w.WriteHeader(int(v.status.Load()))
		w.Write([]byte(`{"code":0,"msg":"","data":{}}`))
	})
	t.Cleanup(v.Close)
	t.Cleanup(v.open) // first: a failed test leaves no request waiting
	return v
}

// open lets the waiting requests through.
func (v *trialVendor) open() {
	if v.gate != nil {
		v.once.Do(func() { close(v.gate) })
	}
}

func (v *trialVendor) scope() string { return "http://" + v.Listener.Addr().String() }

// patient bounds the Redis operations of the trial tests: under load (and
// -race), a shorter bound sends replicas into the degraded mode, where
// each sends its own trial, as it should.
const patient = 3 * time.Second

// slow is how long a trial test polls for what Redis carries.
const slow = 10 * time.Second

// trialReplica is a replica whose breaker opens at the first failure, for
// ten seconds at first, on a Fleet of its own.
func trialReplica(t *testing.T, addr string, opts ...Option) *replica {
	f := patientFleet(t, addr, opts...)
	return &replica{fleet: f, client: memerr.NewClient(memerr.WithFleet(f), memerr.WithMaxRetries(0),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, MaxOpenTimeout: time.Minute}))}
}

// patientFleet is newFleet with Redis operations bounded by patient.
func patientFleet(t *testing.T, addr string, opts ...Option) *Fleet {
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: patient,
		ReadTimeout: patient, WriteTimeout: patient, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	f := New(rdb, append([]Option{WithRefresh(testRefresh), WithTimeout(patient)}, opts...)...)
	t.Cleanup(func() { f.Close() })
	return f
}

// endedCircuit is an open circuit of period p that ended a moment ago.
func endedCircuit(p time.Duration) memerr.FleetHold {
	return memerr.FleetHold{Until: time.Now().Add(-time.Millisecond).Truncate(time.Millisecond), Kind: memerr.KindUnavailable,
		Code: circuitOpen, Period: p}
}

// shareEnded records an ended open circuit on rs[0] and waits until every
// replica knows it.
func shareEnded(t *testing.T, rs []*replica, scope string, h memerr.FleetHold) {
	t.Helper()
	rs[0].fleet.Hold(scope, h)
	for _, r := range rs {
		require.Eventually(t, func() bool { got, ok := r.fleet.Held(scope); return ok && got.Until.Equal(h.Until) }, slow, poll)
	}
}

func trials(rs []*replica) (n uint64) {
	for _, r := range rs {
		n += r.fleet.Stats().Trials
	}
	return n
}

// When a shared open circuit ends, one replica of the fleet sends the
// trial; the others fail at once while it is in flight; its success
// reaches them all, and they send again.
func TestOneTrialPerFleet(t *testing.T) {
	m := miniredis.RunT(t)
	v := newTrialVendor(t, http.StatusOK, true)
	const n = 5
	var rs []*replica
	for i := 0; i < n; i++ {
		rs = append(rs, trialReplica(t, m.Addr()))
	}
	shareEnded(t, rs, v.scope(), endedCircuit(10*time.Second))

	errs := make(chan error, n)
	for _, r := range rs {
		go func() { _, err := r.get(v.URL + "/v1/x"); errs <- err }()
	}
	for i := 0; i < n-1; i++ {
		var err error
		select {
		case err = <-errs:
		case <-time.After(slow):
			for _, r := range rs {
				t.Logf("%+v", r.fleet.Stats())
			}
			t.Fatalf("%d requests reached the vendor", v.hits.Load())
		}
		require.ErrorIs(t, err, memerr.ErrCircuitOpen, "all but the trial fail at once")
		var e *memerr.Error
		require.ErrorAs(t, err, &e)
		assert.Zero(t, e.RetryAfter)
	}
	require.Eventually(t, func() bool { return v.hits.Load() == 1 }, slow, poll)
	v.open()
	require.NoError(t, <-errs, "the trial succeeds")
	assert.Equal(t, int64(1), v.hits.Load(), "one trial for the fleet")
	assert.Equal(t, uint64(1), trials(rs))

	for _, r := range rs {
		// Until the success reaches it, a replica fails fast without sending.
		require.Eventually(t, func() bool { _, err := r.get(v.URL + "/v1/x"); return err == nil }, slow, poll,
			"the success reaches every replica")
	}
	assert.Equal(t, int64(1+n), v.hits.Load())
	assert.False(t, m.Exists("memerr:hold:{"+v.scope()+"}"), "the ended hold is gone from Redis")
	assert.Equal(t, uint64(1), trials(rs), "no lease asked for on the success path")
}

// A failed trial opens the circuit again for every replica, for twice the
// period: they keep failing fast without sending.
func TestFailedTrialReopensForAll(t *testing.T) {
	m := miniredis.RunT(t)
	v := newTrialVendor(t, http.StatusServiceUnavailable, false)
	rs := []*replica{trialReplica(t, m.Addr()), trialReplica(t, m.Addr()), trialReplica(t, m.Addr())}
	shareEnded(t, rs, v.scope(), endedCircuit(10*time.Second))

	_, err := rs[1].get(v.URL + "/v1/x")
	require.ErrorIs(t, err, memerr.ErrUnavailable, "the trial fails")
	require.Equal(t, int64(1), v.hits.Load())
	for _, r := range rs {
		require.Eventually(t, func() bool {
			h, ok := r.fleet.Held(v.scope())
			return ok && h.Period == 20*time.Second && h.Until.After(time.Now().Add(15*time.Second))
		}, slow, poll, "the new open circuit reaches every replica")
	}
	for _, r := range rs {
		_, err := r.get(v.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrCircuitOpen)
		var e *memerr.Error
		require.ErrorAs(t, err, &e)
		assert.InDelta(t, 20*time.Second, e.RetryAfter, float64(5*time.Second))
	}
	assert.Equal(t, int64(1), v.hits.Load(), "nobody sends while it is open again")
	require.Eventually(t, func() bool { return !m.Exists("memerr:lease:{" + v.scope() + "}") }, slow, poll, "the lease is given up")
}

// fakeClock is a replica's clock under the test's control.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func withClock(c *fakeClock) Option { return func(f *Fleet) { f.now = c.Now } }

// A replica that takes the lease and dies holds the others off only until
// the lease expires; then another replica sends the trial.
func TestLeaseExpiresWhenProberVanishes(t *testing.T) {
	m := miniredis.RunT(t)
	v := newTrialVendor(t, http.StatusOK, false)
	clock := &fakeClock{now: time.Now().Add(time.Second)} // the circuit has ended on its clock too
	ghost := patientFleet(t, m.Addr(), withClock(clock), WithLease(5*time.Second))
	rs := []*replica{trialReplica(t, m.Addr(), withClock(clock), WithLease(5*time.Second)),
		trialReplica(t, m.Addr(), withClock(clock), WithLease(5*time.Second))}
	shareEnded(t, append([]*replica{{fleet: ghost}}, rs...), v.scope(), endedCircuit(10*time.Second))

	require.True(t, ghost.Probe(context.Background(), v.scope()), "the ghost takes the lease")
	require.NoError(t, ghost.Close()) // and dies without a verdict
	for _, r := range rs {
		_, err := r.get(v.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrCircuitOpen)
	}
	assert.Zero(t, v.hits.Load())

	m.FastForward(5 * time.Second)
	clock.Advance(5 * time.Second)
	_, err := rs[1].get(v.URL + "/v1/x")
	require.NoError(t, err, "the lease expired: this replica sends the trial")
	assert.Equal(t, int64(1), v.hits.Load())
	require.Eventually(t, func() bool { _, ok := rs[0].fleet.Held(v.scope()); return !ok }, slow, poll)
	_, err = rs[0].get(v.URL + "/v1/x")
	require.NoError(t, err)
}

// With Redis down, each replica sends a trial of its own (fail-open), and
// reports the degraded mode once: nothing that happens while Redis is away
// reads as Redis answering again (such as the late report of a write Redis
// answered just before it went), and no copy of the circuit read before
// the trial brings it back after.
func TestTrialFailOpenRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	v := newTrialVendor(t, http.StatusOK, false)
	const n = 3
	var degraded, recovered [n]atomic.Int32
	var rs []*replica
	for i := range n {
		rs = append(rs, trialReplica(t, m.Addr(), WithHooks(Hooks{OnDegraded: func(error) { degraded[i].Add(1) },
			OnRecovered: func() { recovered[i].Add(1) }})))
	}
	shareEnded(t, rs, v.scope(), endedCircuit(10*time.Second))
	m.Close()

	for _, r := range rs {
		_, err := r.get(v.URL + "/v1/x")
		require.NoError(t, err, "Redis is not needed to send the trial")
		assert.Equal(t, uint64(1), r.fleet.Stats().Trials)
		_, ok := r.fleet.Held(v.scope())
		assert.False(t, ok, "closed locally")
	}
	assert.Equal(t, int64(n), v.hits.Load(), "one trial per replica")
	for i, r := range rs {
		// Stats reads the degraded mode before its hook has run: wait for the hook.
		require.Eventually(t, func() bool { return degraded[i].Load() > 0 }, slow, poll)
		assert.True(t, r.fleet.Stats().Degraded)
		assert.Equal(t, int32(1), degraded[i].Load(), "replica %d: one outage, reported once", i)
		assert.Zero(t, recovered[i].Load(), "replica %d: Redis never answered again", i)
	}
}

// A trial's success is not undone by an older copy of the circuit it
// closed, read from Redis or published before the verdict and arriving
// after it; a newer circuit (a failed trial elsewhere) is still learned.
func TestClosedCircuitNotLearnedAgain(t *testing.T) {
	m := miniredis.RunT(t)
	f := patientFleet(t, m.Addr())
	const scope = "https://api.example:443"
	ended := endedCircuit(10 * time.Second)
	f.Hold(scope, ended)
	require.Eventually(t, func() bool { return m.Exists("memerr:hold:{" + scope + "}") }, slow, poll)
	require.True(t, f.Probe(context.Background(), scope))
	f.Verdict(scope, true)
	require.Eventually(t, func() bool { return !m.Exists("memerr:hold:{" + scope + "}") }, slow, poll, "the close reached Redis")
	require.Eventually(t, func() bool { return m.PubSubNumSub("memerr:holds")["memerr:holds"] == 1 }, slow, poll)

	// Messages arrive in order: once the marker is known, the stale copy was applied or refused.
	m.Publish("memerr:holds", encode(ended)+"|"+scope)
	marker := hold(time.Minute)
	m.Publish("memerr:holds", encode(marker)+"|marker")
	require.Eventually(t, func() bool { _, ok := f.Held("marker"); return ok }, slow, poll)
	_, ok := f.Held(scope)
	assert.False(t, ok, "the closed circuit stays closed")

	again := memerr.FleetHold{Until: time.Now().Add(20 * time.Second).Truncate(time.Millisecond), Kind: memerr.KindUnavailable,
		Code: circuitOpen, Period: 20 * time.Second}
	m.Publish("memerr:holds", encode(again)+"|"+scope)
	require.Eventually(t, func() bool { h, ok := f.Held(scope); return ok && h == again }, slow, poll)
}

// A replica that missed a failed trial's new open circuit learns it when
// it asks for the lease, and does not send.
func TestLeaseFindsNewerHold(t *testing.T) {
	m := miniredis.RunT(t)
	f := patientFleet(t, m.Addr())
	const scope = "https://api.example:443"
	f.Hold(scope, endedCircuit(10*time.Second))
	require.Eventually(t, func() bool { return m.Exists("memerr:hold:{" + scope + "}") }, slow, poll)
	again := memerr.FleetHold{Until: time.Now().Add(20 * time.Second).Truncate(time.Millisecond), Kind: memerr.KindUnavailable,
		Code: circuitOpen, Period: 20 * time.Second}
	require.NoError(t, m.Set("memerr:hold:{"+scope+"}", encode(again))) // stored, its message missed

	assert.False(t, f.Probe(context.Background(), scope))
	h, ok := f.Held(scope)
	require.True(t, ok)
	assert.Equal(t, again, h)
	assert.False(t, m.Exists("memerr:lease:{"+scope+"}"))
}

// Corrupt or hostile leases never block a trial for longer than a lease:
// one without expiry or with a longer one is taken over; any other value
// with a lease's expiry is another replica's lease, waited out only until
// it expires.
func TestCorruptLeases(t *testing.T) {
	m := miniredis.RunT(t)
	clock := &fakeClock{now: time.Now()}
	f := patientFleet(t, m.Addr(), WithLease(5*time.Second), withClock(clock))
	for name, tc := range map[string]struct {
		value string
		ttl   time.Duration
		won   bool
	}{
		"no expiry":   {value: "garbage", won: true},
		"a year":      {value: "x", ttl: 365 * 24 * time.Hour, won: true},
		"binary":      {value: "\x00\xff", ttl: time.Hour, won: true},
		"huge closed": {value: "closed|" + strconv.Itoa(1<<62), ttl: time.Second, won: true},
		"bad closed":  {value: "closed|x", ttl: time.Second},
		"binary, 1s":  {value: "\x00\xff", ttl: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			scope := "https://" + strconv.Quote(name) + ":443"
			key := "memerr:lease:{" + scope + "}"
			require.NoError(t, m.Set(key, tc.value))
			if tc.ttl > 0 {
				m.SetTTL(key, tc.ttl)
			}
			require.Equal(t, tc.won, f.Probe(context.Background(), scope))
			if tc.won {
				assert.LessOrEqual(t, m.TTL(key), 5*time.Second)
				f.Verdict(scope, false)
				return
			}
			clock.Advance(tc.ttl) // the lease has expired
			m.FastForward(tc.ttl)
			assert.True(t, f.Probe(context.Background(), scope))
			f.Verdict(scope, false)
		})
	}
	assert.False(t, f.Stats().Degraded)
}
