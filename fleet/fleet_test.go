package memerrfleet

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Short periods keep the tests fast; waits poll, they do not sleep.
const (
	testRefresh = 50 * time.Millisecond
	testTimeout = 200 * time.Millisecond
	within      = 3 * time.Second // how long a test polls for a shared hold
	poll        = 5 * time.Millisecond
)

func newClient(t testing.TB, addr string) redis.UniversalClient {
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: testTimeout,
		ReadTimeout: testTimeout, WriteTimeout: testTimeout, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func newFleet(t *testing.T, addr string, opts ...Option) *Fleet {
	f := New(newClient(t, addr), append([]Option{WithRefresh(testRefresh), WithTimeout(testTimeout)}, opts...)...)
	t.Cleanup(func() { f.Close() })
	return f
}

func hold(d time.Duration) memerr.FleetHold {
	return memerr.FleetHold{Until: time.Now().Add(d).Truncate(time.Millisecond), Kind: memerr.KindRateLimited, Vendor: memerr.Coze, Code: "4008"}
}

func eventuallyHeld(t *testing.T, f *Fleet, scope string, want memerr.FleetHold) {
	t.Helper()
	require.Eventually(t, func() bool {
		h, ok := f.Held(scope)
		return ok && h.Until.Equal(want.Until)
	}, within, poll, "the hold reaches the other replica")
	h, _ := f.Held(scope)
	assert.Equal(t, want.Kind, h.Kind)
	assert.Equal(t, want.Vendor, h.Vendor)
	assert.Equal(t, want.Code, h.Code)
}

// A hold recorded by one replica reaches another; the later of two holds
// wins in Redis and in both replicas.
func TestHoldShared(t *testing.T) {
	m := miniredis.RunT(t)
	a, b := newFleet(t, m.Addr()), newFleet(t, m.Addr())
	const scope = "https://api.coze.com:443"

	h := hold(10 * time.Second)
	a.Hold(scope, h)
	got, ok := a.Held(scope)
	require.True(t, ok, "held locally at once")
	assert.Equal(t, h, got)
	eventuallyHeld(t, b, scope, h)

	b.Hold(scope, hold(5*time.Second)) // earlier: neither Redis nor a changes
	later := hold(20 * time.Second)
	b.Hold(scope, later)
	eventuallyHeld(t, a, scope, later)
	v, err := m.Get("memerr:hold:{" + scope + "}")
	require.NoError(t, err)
	assert.Equal(t, encode(later), v)
	assert.InDelta(t, 20*time.Second, m.TTL("memerr:hold:{"+scope+"}"), float64(time.Second), "the key expires with the hold")
}

// A replica that missed the message (it started later) learns the hold
// from the periodic refresh.
func TestRefreshRepairsMissedMessage(t *testing.T) {
	m := miniredis.RunT(t)
	a := newFleet(t, m.Addr())
	h := hold(time.Minute)
	a.Hold("s", h)
	require.Eventually(t, func() bool { return m.Exists("memerr:hold:{s}") }, within, poll)
	eventuallyHeld(t, newFleet(t, m.Addr()), "s", h)
}

// The prefix namespaces keys and channel: fleets with another prefix do
// not see each other.
func TestPrefix(t *testing.T) {
	m := miniredis.RunT(t)
	a := newFleet(t, m.Addr(), WithPrefix("svc1:"))
	b := newFleet(t, m.Addr(), WithPrefix("svc2:"))
	c := newFleet(t, m.Addr(), WithPrefix("svc1:"))
	h := hold(time.Minute)
	a.Hold("s", h)
	eventuallyHeld(t, c, "s", h)
	require.True(t, m.Exists("svc1:hold:{s}"))
	_, ok := b.Held("s")
	assert.False(t, ok)
}

// Corrupt, hostile or oversized values and messages under the prefix are
// ignored and counted, never applied, never a panic.
func TestCorruptValuesIgnored(t *testing.T) {
	m := miniredis.RunT(t)
	f := newFleet(t, m.Addr())
	now := time.Now()
	far := strconv.FormatInt(now.Add(365*24*time.Hour).UnixMilli(), 10)
	soon := strconv.FormatInt(now.Add(time.Minute).UnixMilli(), 10)
	bad := map[string]string{
		"garbage":     "\x00\xff not a hold",
		"year":        "v1|" + far + "|6|coze|4008",
		"kind":        "v1|" + soon + "|10|coze|4008",
		"unavailable": "v1|" + soon + "|9|coze|4008", // only an open circuit may be KindUnavailable
		"kindtext":    "v1|" + soon + "|x|coze|4008",
		"negative":    "v1|-5|6|coze|4008",
		"overflow":    "v1|99999999999999999999999|6|coze|4008",
		"fields":      "v1|" + soon + "|6|coze",
		"version":     "v2|" + soon + "|6|coze|4008",
		"long":        "v1|" + soon + "|6|coze|" + strings.Repeat("9", 5000),
		"controlled":  "v1|" + soon + "|6|co\nze|4008",
	}
	for k, v := range bad {
		require.NoError(t, m.Set("memerr:hold:{"+k+"}", v))
	}
	m.Publish("memerr:holds", "v1|"+far+"|6|coze|4008|scope")
	m.Publish("memerr:holds", "garbage")
	m.Publish("memerr:holds", strings.Repeat("|", 100000))
	require.Eventually(t, func() bool { return f.Stats().Ignored >= uint64(len(bad)+3) }, within, poll)
	for k := range bad {
		_, ok := f.Held(k)
		assert.False(t, ok, k)
	}
	_, ok := f.Held("scope")
	assert.False(t, ok)

	// An open circuit shared by another replica is a hold like the others.
	circuit := memerr.FleetHold{Until: now.Add(time.Minute).Truncate(time.Millisecond), Kind: memerr.KindUnavailable, Code: "circuit_open"}
	got, ok := decode(encode(circuit), now)
	require.True(t, ok)
	assert.Equal(t, circuit.Kind, got.Kind)
	assert.Equal(t, circuit.Code, got.Code)
	assert.True(t, circuit.Until.Equal(got.Until))

	// A corrupt value does not block a real hold from being written over it.
	require.NoError(t, m.Set("memerr:hold:{year2}", "v1|"+far+"|6|coze|4008"))
	h := hold(time.Minute)
	f.Hold("year2", h)
	require.Eventually(t, func() bool { v, _ := m.Get("memerr:hold:{year2}"); return v == encode(h) }, within, poll)
}

// The refresh reads the hold keys one by one: a key of another type under
// the prefix is ignored, it does not fail the refresh (the fleet stays
// shared), and a key without braces, written by a replica of a previous
// release (<prefix>hold:<scope>), is read too.
func TestRefreshKeys(t *testing.T) {
	m := miniredis.RunT(t)
	var degraded atomic.Int32
	f := newFleet(t, m.Addr(), WithHooks(Hooks{OnDegraded: func(error) { degraded.Add(1) }}))
	m.HSet("memerr:hold:{hash}", "v", "1")
	_, err := m.Lpush("memerr:hold:{list}", "x")
	require.NoError(t, err)
	h, old := hold(time.Minute), hold(2*time.Minute)
	require.NoError(t, m.Set("memerr:hold:{new}", encode(h)))
	require.NoError(t, m.Set("memerr:hold:old", encode(old)))
	eventuallyHeld(t, f, "new", h)
	eventuallyHeld(t, f, "old", old)
	require.Eventually(t, func() bool { return f.Stats().Ignored >= 2 }, within, poll)
	_, ok := f.Held("{hash}")
	assert.False(t, ok)
	assert.False(t, f.Stats().Degraded)
	assert.Zero(t, degraded.Load(), "a key of another type does not fail the refresh")
}

// With Redis gone, Hold and Held keep working on local state, the degraded
// mode is reported, a full queue drops instead of blocking; when Redis
// returns, the local holds are written again and shared.
func TestRedisDownAndBack(t *testing.T) {
	m := miniredis.RunT(t)
	var degraded, recovered atomic.Int32
	a := newFleet(t, m.Addr(), withQueue(16), WithHooks(Hooks{
		OnDegraded:  func(error) { degraded.Add(1) },
		OnRecovered: func() { recovered.Add(1) },
	}))
	m.Close()
	require.Eventually(t, func() bool { return a.Stats().Degraded }, within, poll)
	assert.Equal(t, int32(1), degraded.Load(), "reported once")

	h := hold(time.Minute)
	const n = 100
	for i := 0; i < n; i++ {
		a.Hold("s"+strconv.Itoa(i), h) // never blocks: the queue drops what does not fit
	}
	assert.Positive(t, a.Stats().Dropped)
	got, ok := a.Held("s0")
	require.True(t, ok)
	assert.Equal(t, h, got)

	require.NoError(t, m.Restart())
	require.Eventually(t, func() bool { return !a.Stats().Degraded }, within, poll)
	assert.Equal(t, int32(1), recovered.Load())
	b := newFleet(t, m.Addr())
	for i := 0; i < n; i++ {
		eventuallyHeld(t, b, "s"+strconv.Itoa(i), h)
	}
}

// OnRecovered runs when Redis answers again, not when an operation Redis
// answered before an outage reports its success after the outage began
// (its goroutine held up in between), nor when a write asks nothing of
// Redis (its hold ended while it waited in the queue).
func TestLateSuccessIsNoRecovery(t *testing.T) {
	m := miniredis.RunT(t)
	var degraded, recovered atomic.Int32
	f := newFleet(t, m.Addr(), WithHooks(Hooks{OnDegraded: func(error) { degraded.Add(1) }, OnRecovered: func() { recovered.Add(1) }}))
	require.NoError(t, f.Close()) // its goroutines report no more: the test reports for them

	seen := f.outages()       // an operation starts; Redis answers it
	f.fail(errors.New("EOF")) // Redis goes away: another operation fails
	assert.False(t, f.result(seen, nil), "answered before the outage, reported after it began")
	assert.True(t, f.Stats().Degraded)
	assert.ErrorIs(t, f.write(write{scope: "s", hold: hold(-time.Second)}), errNotLive, "an ended hold is not written")

	seen = f.outages()        // an operation starts during the outage
	f.fail(errors.New("EOF")) // and another fails: the same outage
	assert.True(t, f.result(seen, nil), "answered during the outage: Redis is back")
	assert.False(t, f.Stats().Degraded)
	assert.Equal(t, int32(1), degraded.Load())
	assert.Equal(t, int32(1), recovered.Load())
}

// Two Transports, each with its own Fleet on one Redis: after replica A
// receives a 429 with Retry-After: 5, replica B fails at once without
// sending.
func TestTwoReplicas(t *testing.T) {
	m := miniredis.RunT(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":4008,"msg":"too many requests"}`))
			return
		}
		w.Write([]byte(`{"code":0,"msg":"","data":{}}`))
	}))
	defer srv.Close()
	fa, fb := newFleet(t, m.Addr()), newFleet(t, m.Addr())
	a := memerr.NewClient(memerr.WithFleet(fa), memerr.WithMaxRetryWait(time.Second))
	b := memerr.NewClient(memerr.WithFleet(fb), memerr.WithMaxRetryWait(time.Second))
	ctx := context.Background()

	require.ErrorIs(t, a.DoJSON(ctx, http.MethodGet, srv.URL+"/v3/chat", nil, nil), memerr.ErrRateLimited)
	scope := "http://" + srv.Listener.Addr().String()
	require.Eventually(t, func() bool { _, ok := fb.Held(scope); return ok }, within, poll)

	err := b.DoJSON(ctx, http.MethodGet, srv.URL+"/v3/chat", nil, nil)
	var e *memerr.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, memerr.KindRateLimited, e.Kind)
	assert.Equal(t, memerr.Coze, e.Vendor)
	assert.Equal(t, "4008", e.Code)
	assert.InDelta(t, 5*time.Second, e.RetryAfter, float64(time.Second))
	assert.Equal(t, int32(1), hits.Load(), "replica B never sent")
}

// withQueue sets the size of the write queue.
func withQueue(n int) Option { return func(f *Fleet) { f.queue = make(chan write, n) } }

func TestEncodeDecode(t *testing.T) {
	h := memerr.FleetHold{Until: time.UnixMilli(time.Now().Add(time.Hour).UnixMilli()), Kind: memerr.KindQuotaExceeded, Vendor: memerr.Tensorheart, Code: "DAILY_QUOTA_EXCEEDED"}
	got, ok := decode(encode(h), time.Now())
	require.True(t, ok)
	assert.Equal(t, h, got)
	odd := memerr.FleetHold{Until: h.Until, Kind: memerr.KindRateLimited, Vendor: "v|x", Code: "a b\n|c"}
	got, ok = decode(encode(odd), time.Now())
	require.True(t, ok, "encode cleans what decode would refuse")
	assert.Equal(t, memerr.Vendor("vx"), got.Vendor)
	assert.Equal(t, "abc", got.Code)
}

// FuzzDecode: whatever Redis holds, decode does not panic, and what it
// accepts is a rate limit or quota hold ending within MaxHint (and the
// skew allowance) of now.
func FuzzDecode(f *testing.F) {
	now := time.Now()
	f.Add(encode(hold(time.Minute)))
	f.Add("v1|1|6|coze|4008")
	f.Add("v1|99999999999999|7||")
	f.Add("garbage")
	f.Add("v1|1|9||circuit_open")
	f.Fuzz(func(t *testing.T, v string) {
		h, ok := decode(v, now)
		if !ok {
			return
		}
		if h.Kind != memerr.KindRateLimited && h.Kind != memerr.KindQuotaExceeded &&
			(h.Kind != memerr.KindUnavailable || h.Code != "circuit_open") {
			t.Fatalf("kind %v (code %q) accepted", h.Kind, h.Code)
		}
		if h.Until.After(now.Add(memerr.MaxHint + skewSlack)) {
			t.Fatalf("until %v accepted", h.Until)
		}
	})
}

// Holds learned from Redis are kept for at most maxHolds scopes, so a
// flood of published scopes cannot grow memory without bound; the
// replica's own holds and later holds of known scopes are still kept.
func TestRemoteHoldsBounded(t *testing.T) {
	f := &Fleet{holds: map[string]memerr.FleetHold{}, now: time.Now}
	h := hold(time.Minute)
	for i := 0; i < maxHolds; i++ {
		assert.True(t, f.keep("s"+strconv.Itoa(i), h, true))
	}
	assert.False(t, f.keep("one-more", h, true), "a new scope from Redis beyond the bound")
	assert.True(t, f.keep("s1", hold(2*time.Minute), true), "a later hold of a known scope")
	assert.True(t, f.keep("own", h, false), "the replica's own hold")
	assert.Len(t, f.holds, maxHolds+1)
	assert.Equal(t, maxHolds+1, f.Active())
	f.holds["ended"] = memerr.FleetHold{Until: time.Now().Add(-time.Second), Kind: memerr.KindRateLimited}
	assert.Equal(t, maxHolds+1, f.Active(), "an ended hold is not active")
}
