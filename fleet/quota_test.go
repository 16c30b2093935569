package memerrfleet

import (
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oneASecond is a quota of 60 requests a minute: one a second.
var oneASecond = memerr.Quota{Requests: 60, Per: time.Minute}

const cozeScope = "https://api.coze.com:443"

// frozenRedis is a miniredis whose clock (the scripts' TIME) stands still
// until the test moves it.
func frozenRedis(t *testing.T) (*miniredis.Miniredis, func(time.Duration)) {
	m := miniredis.RunT(t)
	now := time.Now()
	m.SetTime(now)
	return m, func(d time.Duration) { now = now.Add(d); m.SetTime(now) }
}

// quotaFleet is a replica whose Redis operations may take patient (3 s):
// the tests of the shared GCRA must not fall back to the local share when
// a loaded machine answers slowly.
func quotaFleet(t *testing.T, addr string) *Fleet {
	// patientFleet's client: newClient's read timeout (200 ms) would cut
	// each operation short of patient.
	return patientFleet(t, addr, WithQuotaTimeout(patient))
}

// Replicas share one GCRA: their requests are spaced as one replica's
// would be, and a request that cannot wait its turn takes nothing.
func TestQuotaShared(t *testing.T) {
	m, advance := frozenRedis(t)
	a, b := quotaFleet(t, m.Addr()), quotaFleet(t, m.Addr())
	var got []time.Duration
	for i := 0; i < 4; i++ {
		f := []*Fleet{a, b}[i%2]
		w, ok := f.Take(cozeScope, oneASecond, time.Minute)
		require.True(t, ok)
		got = append(got, w)
	}
	assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, got)

	w, ok := b.Take(cozeScope, oneASecond, 2*time.Second)
	assert.False(t, ok)
	assert.Equal(t, 4*time.Second, w)
	w, ok = a.Take(cozeScope, oneASecond, 4*time.Second)
	assert.True(t, ok, "the refused request took nothing")
	assert.Equal(t, 4*time.Second, w)

	advance(10 * time.Second)
	w, ok = b.Take(cozeScope, oneASecond, 0)
	assert.True(t, ok)
	assert.Zero(t, w)
	assert.True(t, m.Exists("memerr:quota:"+cozeScope), "one hash per scope under the prefix")
	assert.Greater(t, m.TTL("memerr:quota:"+cozeScope), 59*time.Minute, "it expires an hour after use")
}

// Several replicas taking at once never get more places than the rate
// allows: with Redis's clock still, places up to 10 s ahead are 11.
func TestQuotaCombinedRate(t *testing.T) {
	m, _ := frozenRedis(t)
	var fleets []*Fleet
	for i := 0; i < 4; i++ {
		fleets = append(fleets, quotaFleet(t, m.Addr()))
	}
	var mu sync.Mutex
	var waits []time.Duration
	var wg sync.WaitGroup
	for _, f := range fleets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if w, ok := f.Take(cozeScope, oneASecond, 10*time.Second); ok {
					mu.Lock()
					waits = append(waits, w)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Len(t, waits, 11)
	seen := map[time.Duration]bool{}
	for _, w := range waits {
		assert.False(t, seen[w], "one request per turn")
		seen[w] = true
	}
}

// rate reads the rate in force stored in Redis.
func rate(t *testing.T, m *miniredis.Miniredis) float64 {
	s := m.HGet("memerr:quota:"+cozeScope, "r")
	if s == "" {
		return 0
	}
	r, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return r
}

// A throttle observed by any replica halves the shared rate, once per
// cooldown; successes, reported each refresh period, raise it back by a
// sixtieth of the quota per second; the rate spaces every replica's
// requests.
func TestQuotaAIMD(t *testing.T) {
	m, advance := frozenRedis(t)
	q := memerr.Quota{Requests: 600, Per: time.Minute, Min: 100}
	a, b := quotaFleet(t, m.Addr()), quotaFleet(t, m.Addr())
	a.Take(cozeScope, q, 0)

	a.Observe(cozeScope, q, true)
	require.Eventually(t, func() bool { return rate(t, m) == 300 }, within, poll)
	b.Observe(cozeScope, q, true) // within the cooldown
	advance(memerr.QuotaCooldown / 2)
	a.Observe(cozeScope, q, true)
	time.Sleep(5 * testRefresh) // nothing to wait for: the rate must stay
	assert.Equal(t, 300.0, rate(t, m), "throttles within the cooldown are the same episode")
	advance(memerr.QuotaCooldown)
	b.Observe(cozeScope, q, true)
	require.Eventually(t, func() bool { return rate(t, m) == 150 }, within, poll)
	advance(memerr.QuotaCooldown)
	a.Observe(cozeScope, q, true)
	require.Eventually(t, func() bool { return rate(t, m) == 100 }, within, poll, "never below Min")

	// The shared rate spaces requests: 100/min is one per 600 ms.
	advance(time.Minute)
	a.Take(cozeScope, q, 0)
	w, ok := b.Take(cozeScope, q, time.Hour)
	require.True(t, ok)
	assert.Equal(t, 600*time.Millisecond, w)

	// Successes raise it: +10/min per second of Redis's clock, at most
	// two seconds' worth per report.
	b.Observe(cozeScope, q, false)
	require.Eventually(t, func() bool { return rate(t, m) > 100 }, within, poll)
	assert.Equal(t, 120.0, rate(t, m), "the first report after a minute counts two seconds")
	for i := 0; i < 40; i++ {
		advance(time.Second)
		a.Observe(cozeScope, q, false)
		want := min(600, 120+10*float64(i+1))
		require.Eventually(t, func() bool { return rate(t, m) == want }, within, poll)
	}
	assert.Equal(t, 520.0, rate(t, m))
	for i := 0; i < 10; i++ {
		advance(2 * time.Second)
		b.Observe(cozeScope, q, false)
		require.Eventually(t, func() bool { return rate(t, m) == min(600, 520+20*float64(i+1)) }, within, poll)
	}
	assert.Equal(t, 600.0, rate(t, m), "never above Requests")
}

// Whatever the quota's hash holds, Take answers at once, never with a
// wait beyond maxWait when it grants, and repairs the hash.
func TestQuotaCorruptValues(t *testing.T) {
	m, _ := frozenRedis(t)
	f := quotaFleet(t, m.Addr())
	key := "memerr:quota:" + cozeScope
	year := strconv.FormatInt(time.Now().Add(365*24*time.Hour).UnixMicro(), 10)
	for name, set := range map[string]func(){
		"tat garbage":          func() { m.HSet(key, "tat", "garbage", "r", "xyz") },
		"tat a year away":      func() { m.HSet(key, "tat", year) },
		"tat infinite":         func() { m.HSet(key, "tat", "1e400", "r", "1e400") },
		"rate negative":        func() { m.HSet(key, "r", "-5", "tat", "-1") },
		"rate nan":             func() { m.HSet(key, "r", "nan", "down", "nan", "up", "1e400") },
		"rate zero":            func() { m.HSet(key, "r", "0") },
		"a string, not hash":   func() { m.Del(key); m.Set(key, "v1|garbage") },
		"a list, not hash":     func() { m.Del(key); m.Lpush(key, "x") },
		"huge field":           func() { m.HSet(key, "tat", string(make([]byte, 1<<20))) },
		"rate below the floor": func() { m.HSet(key, "r", "0.0001") },
	} {
		t.Run(name, func(t *testing.T) {
			m.Del(key)
			set()
			start := time.Now()
			w, ok := f.Take(cozeScope, oneASecond, time.Second)
			assert.Less(t, time.Since(start), time.Second)
			if ok {
				assert.LessOrEqual(t, w, time.Second)
			}
			f.Observe(cozeScope, oneASecond, true)
			f.Observe(cozeScope, oneASecond, false)
			m.Del(key)
			w, ok = f.Take(cozeScope, oneASecond, 0)
			assert.True(t, ok, "a fresh hash grants at once")
			assert.Zero(t, w)
			assert.False(t, f.quota.local.Load(), "the script answered: no local fallback")
		})
	}
	assert.False(t, f.Stats().Degraded)
}

// Redis down: Take answers at once from this replica's share (the rate
// last read, divided by the replicas seen), and the degraded mode shows.
// When Redis returns, requests are taken from the shared GCRA again.
func TestQuotaRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	a, b := newFleet(t, m.Addr()), newFleet(t, m.Addr())
	q := memerr.Quota{Requests: 600, Per: time.Minute}
	a.Take(cozeScope, q, 0)
	b.Take(cozeScope, q, 0)
	require.Eventually(t, func() bool { return a.quota.replicas.Load() == 2 }, within, poll, "the replicas are counted")
	addr := m.Addr()
	m.Close()

	// 600/min shared by 2: 300/min each, one per 200 ms. The second
	// request goes 200 ms after the first: its wait is 200 ms longer than
	// the first's, less the time between the two calls. (The first may
	// wait too: a setup Take above that outran the quota's timeout, as on
	// a loaded machine, was taken locally.)
	start := time.Now()
	w1, ok := a.Take(cozeScope, q, time.Hour)
	require.True(t, ok)
	w2, ok := a.Take(cozeScope, q, time.Hour)
	require.True(t, ok)
	elapsed := time.Since(start)
	assert.LessOrEqual(t, w2-w1, 200*time.Millisecond)
	assert.GreaterOrEqual(t, w2-w1, 200*time.Millisecond-elapsed)
	assert.Less(t, elapsed, time.Second, "bounded by the quota's timeout")
	require.Eventually(t, func() bool { return a.Stats().Degraded }, within, poll)
	start = time.Now()
	for i := 0; i < 100; i++ {
		a.Take(cozeScope, q, time.Hour)
	}
	assert.Less(t, time.Since(start), time.Second, "no Redis in degraded mode")

	m2 := miniredis.NewMiniRedis()
	require.NoError(t, m2.StartAddr(addr))
	t.Cleanup(m2.Close)
	require.Eventually(t, func() bool { return !a.Stats().Degraded && !a.quota.local.Load() }, within, poll)
	// A Take that outruns the quota's timeout (50 ms) on a loaded machine
	// is taken locally once more: the next one, after a refresh, is not.
	require.Eventually(t, func() bool {
		_, ok := a.Take(cozeScope, q, 0)
		return ok && m2.Exists("memerr:quota:"+cozeScope)
	}, within, poll, "taken from Redis again")
}

// The share of a replica follows the rate in force and the replicas seen.
func TestQuotaShare(t *testing.T) {
	m := miniredis.RunT(t)
	f := newFleet(t, m.Addr())
	q := memerr.Quota{Requests: 600, Per: time.Minute}
	s := f.quota.scope(cozeScope, q)
	assert.Equal(t, time.Minute, f.share(s).Per, "alone, at the quota's rate")
	s.rate.Store(math.Float64bits(300))
	f.quota.replicas.Store(4)
	share := f.share(s)
	assert.Equal(t, 600, share.Requests)
	assert.Equal(t, 8*time.Minute, share.Per, "300/min among 4: 600 per 8 min")
}

// The replicas are counted on Redis's clock, as the quota is: a replica
// whose clock runs behind the others' by more than three refresh periods
// is still counted by them, so that each one's local share (while Redis
// is away) divides the quota by the real number of replicas. Before, each
// replica noted itself and dropped the others by its own clock, and a
// replica ten seconds behind was dropped by every other at every count:
// the others each took a share as if it did not exist.
func TestQuotaReplicasCountedOnRedisClock(t *testing.T) {
	m := miniredis.RunT(t)
	behind := &fakeClock{now: time.Now().Add(-10 * time.Second)}
	a := newFleet(t, m.Addr())
	b := newFleet(t, m.Addr(), withClock(behind))
	q := memerr.Quota{Requests: 600, Per: time.Minute}
	a.quota.scope(cozeScope, q) // a scope with a quota: the replicas are counted
	b.quota.scope(cozeScope, q)
	require.Eventually(t, func() bool {
		return a.quota.replicas.Load() == 2 && b.quota.replicas.Load() == 2
	}, within, poll, "each counts both")
}

// A place given back (Cancel) brings the scope's next place one interval
// nearer for every replica.
func TestQuotaCancel(t *testing.T) {
	var _ memerr.QuotaCanceler = (*Fleet)(nil)
	m, _ := frozenRedis(t)
	a, b := quotaFleet(t, m.Addr()), quotaFleet(t, m.Addr())
	for i := 0; i < 3; i++ {
		_, ok := a.Take(cozeScope, oneASecond, time.Minute) // places at 0, 1 s, 2 s
		require.True(t, ok)
	}
	a.Cancel(cozeScope, oneASecond) // the place at 2 s goes back
	require.Eventually(t, func() bool {
		w, _ := b.Take(cozeScope, oneASecond, 0) // takes nothing: it cannot wait
		return w == 2*time.Second
	}, within, poll, "the next place is 2 s ahead, not 3 s")

	// Redis away: the place goes back to this replica's local share,
	// where Take took it.
	m.Close()
	const other = "https://other.example:443"
	for i := 0; i < 2; i++ {
		_, ok := a.Take(other, oneASecond, time.Minute) // local places, one interval apart
		require.True(t, ok)
	}
	start := time.Now()
	last, ok := a.Take(other, oneASecond, time.Minute)
	require.True(t, ok)
	require.True(t, a.quota.local.Load() || a.isDegraded())
	a.Cancel(other, oneASecond) // the last place goes back
	w, ok := a.Take(other, oneASecond, time.Minute)
	require.True(t, ok)
	assert.LessOrEqual(t, w, last, "the place given back, not the one after it")
	assert.GreaterOrEqual(t, w, last-time.Since(start), "less the time between the two")
}
