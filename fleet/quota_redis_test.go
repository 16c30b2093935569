package memerrfleet

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quotaReplica is a replica whose requests to v's scope are under q.
func quotaReplica(t *testing.T, addr string, v *vendor, q memerr.Quota, opts ...memerr.Option) *replica {
	return quotaReplicaOf(t, newFleet(t, addr), v, q, opts...)
}

func quotaReplicaOf(t *testing.T, f *Fleet, v *vendor, q memerr.Quota, opts ...memerr.Option) *replica {
	return &replica{fleet: f, client: memerr.NewClient(append([]memerr.Option{memerr.WithFleet(f), memerr.WithQuota(v.URL, q),
		memerr.WithMaxRetries(0), memerr.WithMaxRetryWait(200 * time.Millisecond)}, opts...)...)}
}

// p99 is the 99th percentile of ds (sorted in place).
func p99(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)*99/100]
}

// Four replicas, eight goroutines each sending as fast as they can, share a quota of 20 requests
// a second: the vendor receives at most what the quota allows over the
// run (an upper bound, which load cannot break), and the requests over
// it fail at once without being sent.
func TestRealRedisQuotaCombinedRate(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	q := memerr.Quota{Requests: 20, Per: time.Second}
	var reps []*replica
	for i := 0; i < 4; i++ {
		// Round trips may take patient (3 s): this test is of the shared
		// GCRA, not of the local share a slow Redis falls back to.
		f := newFleet(t, r.addr(), WithTimeout(patient), WithQuotaTimeout(patient))
		reps = append(reps, quotaReplicaOf(t, f, v, q))
	}
	var sent, refused atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 8*len(reps); i++ {
		rep := reps[i%len(reps)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 1500*time.Millisecond {
				_, err := rep.get(v.URL + "/v1/ok")
				if err != nil {
					assert.ErrorIs(t, err, memerr.ErrRateLimited)
					refused.Add(1)
					continue
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	allowed := int64(elapsed.Seconds()*20) + 1 // the first request of the run goes at once
	assert.LessOrEqual(t, v.hits.Load(), allowed, "the fleet keeps to the quota")
	assert.Equal(t, sent.Load(), v.hits.Load())
	assert.Greater(t, refused.Load(), int64(0), "the replicas offered more than the quota")
	assert.Greater(t, v.hits.Load(), int64(0))
	for _, rep := range reps {
		assert.False(t, rep.fleet.Stats().Degraded)
		assert.False(t, rep.fleet.quota.local.Load())
	}
	t.Logf("fleet: quota 20/s shared by 4 replicas on real redis-server: %d sent in %v (the quota allows %d), %d refused at once",
		v.hits.Load(), elapsed.Round(time.Millisecond), allowed, refused.Load())
}

// A vendor's 429 lowers the shared rate for every replica; successes
// raise it back.
func TestRealRedisQuotaAIMD(t *testing.T) {
	r := startRedis(t)
	var throttle atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if throttle.Load() {
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":4008,"msg":"too many requests"}`))
			return
		}
		w.Write([]byte(`{"code":0,"msg":"","data":{}}`))
	}))
	defer srv.Close()
	v := &vendor{Server: srv}
	q := memerr.Quota{Requests: 6000, Per: time.Minute}
	a, b := quotaReplica(t, r.addr(), v, q), quotaReplica(t, r.addr(), v, q)
	rdb := newClient(t, r.addr())
	key := "memerr:quota:" + v.scope()
	rate := func() float64 {
		f, _ := rdb.HGet(context.Background(), key, "r").Float64()
		return f
	}

	throttle.Store(true)
	_, err := a.get(v.URL + "/v3/chat")
	require.ErrorIs(t, err, memerr.ErrRateLimited)
	require.Eventually(t, func() bool { return rate() == 3000 }, 3*time.Second, time.Millisecond, "halved: %v", rdb.HGetAll(context.Background(), key).Val())
	throttle.Store(false)
	_, err = b.get(v.URL + "/v3/chat")
	require.NoError(t, err)
	s := b.fleet.quota.lookup(v.scope())
	require.NotNil(t, s)
	assert.InDelta(t, 3000, math.Float64frombits(s.rate.Load()), 200, "the other replica took its turn at the lowered rate")

	require.Eventually(t, func() bool {
		_, err := b.get(v.URL + "/v3/chat")
		require.NoError(t, err)
		return rate() > 3000
	}, 5*time.Second, 10*time.Millisecond, "successes raise it")
	t.Logf("fleet: AIMD on real redis-server: 6000/min halved to 3000 by one 429, raised to %.0f by successes", rate())
}

// Redis killed mid-run: requests under a quota keep succeeding on the
// replica's local share, at once; when Redis runs again they are taken
// from the shared GCRA again.
func TestRealRedisQuotaKilled(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	q := memerr.Quota{Requests: 100000, Per: time.Second}
	a := quotaReplica(t, r.addr(), v, q)
	plain := memerr.NewClient(memerr.WithMaxRetries(0))
	for i := 0; i < 20; i++ { // warm up both
		_, err := a.get(v.URL + "/v1/ok")
		require.NoError(t, err)
		require.NoError(t, plain.DoJSON(context.Background(), http.MethodGet, v.URL+"/v1/ok", nil, nil))
	}

	r.kill()
	var with, without []time.Duration
	for i := 0; i < 300; i++ {
		d, err := a.get(v.URL + "/v1/ok")
		require.NoError(t, err, "fail open: Redis is not needed to succeed")
		with = append(with, d)
		start := time.Now()
		require.NoError(t, plain.DoJSON(context.Background(), http.MethodGet, v.URL+"/v1/ok", nil, nil))
		without = append(without, time.Since(start))
	}
	require.Eventually(t, func() bool { return a.fleet.Stats().Degraded }, 3*time.Second, time.Millisecond)
	worst := slices.Max(with)
	assert.Less(t, worst, time.Second)

	r.start()
	require.Eventually(t, func() bool {
		_, err := a.get(v.URL + "/v1/ok")
		require.NoError(t, err)
		n, _ := newClient(t, r.addr()).Exists(context.Background(), "memerr:quota:"+v.scope()).Result()
		return n == 1
	}, 3*time.Second, 5*time.Millisecond, "taken from Redis again")
	t.Logf("fleet: redis killed, quota on: 300 requests all succeeded, p99 %v (no fleet, same vendor: p99 %v), slowest %v",
		p99(with).Round(time.Microsecond), p99(without).Round(time.Microsecond), worst.Round(time.Microsecond))
}

// Redis paused (SIGSTOP): a request under a quota waits at most the
// quota's timeout for it, once, and the next ones go at once on the
// local share; after SIGCONT they are taken from Redis again.
func TestRealRedisQuotaPaused(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	q := memerr.Quota{Requests: 100000, Per: time.Second}
	a := quotaReplica(t, r.addr(), v, q)
	_, err := a.get(v.URL + "/v1/ok")
	require.NoError(t, err)

	r.signal(syscall.SIGSTOP)
	var ds []time.Duration
	for i := 0; i < 200; i++ {
		d, err := a.get(v.URL + "/v1/ok")
		require.NoError(t, err)
		ds = append(ds, d)
	}
	worst := slices.Max(ds)
	assert.Less(t, worst, time.Second, "bounded by the quota's timeout")
	r.signal(syscall.SIGCONT)
	require.Eventually(t, func() bool { return !a.fleet.Stats().Degraded && !a.fleet.quota.local.Load() }, 5*time.Second, time.Millisecond)
	t.Logf("fleet: redis paused, quota on: 200 requests, p50 %v p99 %v max %v (the quota's timeout: %v)",
		ds[len(ds)/2].Round(time.Microsecond), p99(ds).Round(time.Microsecond), worst.Round(time.Microsecond), DefaultQuotaTimeout)
}

// A hostile or corrupt quota hash: no panic, no request waits beyond
// MaxRetryWait; a turn an hour away fails at once, unsent; a value past
// any real turn is read as absent.
func TestRealRedisQuotaCorrupt(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	a := quotaReplica(t, r.addr(), v, memerr.Quota{Requests: 10, Per: time.Second})
	rdb := newClient(t, r.addr())
	ctx := context.Background()
	key := "memerr:quota:" + v.scope()
	micros := func(d time.Duration) string { return strconv.FormatInt(time.Now().Add(d).UnixMicro(), 10) }

	for name, fields := range map[string][]string{
		"garbage":         {"tat", "\x00\xff", "r", "nan", "up", "x", "down", "-"},
		"ten years ahead": {"tat", micros(10 * 365 * 24 * time.Hour)},
		"rate huge":       {"r", "1e308", "tat", "1e400"},
		"rate zero":       {"r", "0"},
	} {
		require.NoError(t, rdb.Del(ctx, key).Err())
		require.NoError(t, rdb.HSet(ctx, key, fields).Err())
		d, err := a.get(v.URL + "/v1/ok")
		require.NoError(t, err, name)
		assert.Less(t, d, time.Second, name)
	}
	require.NoError(t, rdb.Del(ctx, key).Err())
	require.NoError(t, rdb.Set(ctx, key, "not a hash", 0).Err())
	_, err := a.get(v.URL + "/v1/ok")
	require.NoError(t, err, "a key of another type is replaced")

	hits := v.hits.Load()
	require.NoError(t, rdb.HSet(ctx, key, "tat", micros(time.Hour)).Err())
	start := time.Now()
	_, err = a.get(v.URL + "/v1/ok")
	var e *memerr.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, memerr.KindRateLimited, e.Kind)
	assert.InDelta(t, time.Hour, e.RetryAfter, float64(time.Minute))
	assert.Less(t, time.Since(start), time.Second, "fails at once, past MaxRetryWait")
	assert.Equal(t, hits, v.hits.Load(), "not sent")
	assert.False(t, a.fleet.Stats().Degraded)
}
