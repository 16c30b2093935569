package memerrfleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run a real redis-server on a loopback port. Without the
// binary they are skipped, except in CI (CI=true), where they fail.

// realRedis is a redis-server process the test started.
type realRedis struct {
	t    *testing.T
	bin  string
	port int
	cmd  *exec.Cmd
}

func (r *realRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func startRedis(t *testing.T) *realRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/redis-server"); serr == nil {
			bin, err = "/usr/bin/redis-server", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is missing (CI installs the Debian package redis-server)")
		}
		t.Skip("redis-server is missing: install the Debian package redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &realRedis{t: t, bin: bin, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

// start runs the server and waits until it answers PING.
func (r *realRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--protected-mode", "yes", "--dir", r.t.TempDir())
	require.NoError(r.t, r.cmd.Start())
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer rdb.Close()
	require.Eventually(r.t, func() bool { return rdb.Ping(context.Background()).Err() == nil }, 10*time.Second, 5*time.Millisecond,
		"redis-server answers")
}

// kill ends the server at once (SIGKILL) and waits for it.
func (r *realRedis) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGCONT)
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

func (r *realRedis) signal(s syscall.Signal) { require.NoError(r.t, r.cmd.Process.Signal(s)) }

// vendor is a loopback vendor: 429 with Retry-After: 5 while limited is
// set, success otherwise; it counts requests.
type vendor struct {
	*httptest.Server
	hits    atomic.Int64
	limited atomic.Bool
}

func newVendor(t *testing.T) *vendor {
	v := &vendor{}
	v.Server = ownServer(t, func(w http.ResponseWriter, r *http.Request) {
		v.hits.Add(1)
		if v.limited.Load() {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":4008,"msg":"too many requests"}`))
			return
		}
		w.Write([]byte(`{"code":0,"msg":"","data":{}}`))
	})
	t.Cleanup(v.Close)
	return v
}

func (v *vendor) scope() string { return "http://" + v.Listener.Addr().String() }

// ownServer is a loopback server whose URL ends in a random path segment;
// h sees only the requests under it, the test's own. Another request (a
// process elsewhere on the machine retrying an address whose port was
// freed and has since gone to this server) is answered 404, logged, and
// never counted as one of the test's.
func ownServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	prefix := "/t" + strconv.FormatUint(rand.Uint64(), 36)
	var foreign atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			foreign.Add(1)
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	srv.URL += prefix
	t.Cleanup(func() {
		if n := foreign.Load(); n > 0 {
			t.Logf("%d requests from elsewhere reached the vendor's port; not counted", n)
		}
	})
	return srv
}

// replica is one "process": a Fleet of its own on the shared Redis and a
// Client using it. Requests never wait for a hold beyond a second.
type replica struct {
	fleet  *Fleet
	client *memerr.Client
}

func newReplica(t *testing.T, addr string, opts ...Option) *replica {
	f := newFleet(t, addr, opts...)
	return &replica{fleet: f, client: memerr.NewClient(memerr.WithFleet(f), memerr.WithMaxRetryWait(time.Second),
		memerr.WithBackoff(time.Millisecond, 5*time.Millisecond))}
}

func (r *replica) get(url string) (time.Duration, error) {
	start := time.Now()
	err := r.client.DoJSON(context.Background(), http.MethodGet, url, nil, nil)
	return time.Since(start), err
}

func eventuallyShared(t *testing.T, f *Fleet, scope string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool { _, ok := f.Held(scope); return ok }, within, 100*time.Microsecond)
	return time.Since(start)
}

// After replica A's 429 with Retry-After: 5, replica B does not send: it
// fails at once with the hold's rate limit. The propagation time from A's
// Hold to B's local copy is measured over many scopes.
func TestRealRedisTwoReplicas(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	a, b := newReplica(t, r.addr()), newReplica(t, r.addr())

	v.limited.Store(true)
	_, err := a.get(v.URL + "/v3/chat")
	require.ErrorIs(t, err, memerr.ErrRateLimited)
	require.Equal(t, int64(1), v.hits.Load())
	took := eventuallyShared(t, b.fleet, v.scope(), 2*time.Second)
	v.limited.Store(false)

	for i := 0; i < 5; i++ {
		d, err := b.get(v.URL + "/v3/chat")
		var e *memerr.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, memerr.KindRateLimited, e.Kind)
		assert.Equal(t, "4008", e.Code)
		assert.InDelta(t, 5*time.Second, e.RetryAfter, float64(time.Second))
		assert.Less(t, d, time.Second, "failed at once")
	}
	assert.Equal(t, int64(1), v.hits.Load(), "replica B sent nothing while held")

	// Propagation, Hold to the other replica's Held, over 50 scopes.
	var ds []time.Duration
	for i := 0; i < 50; i++ {
		scope := fmt.Sprintf("https://vendor%d.example:443", i)
		start := time.Now()
		a.fleet.Hold(scope, hold(time.Minute))
		require.Eventually(t, func() bool { _, ok := b.fleet.Held(scope); return ok }, 2*time.Second, 50*time.Microsecond)
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	t.Logf("fleet: propagation over real redis-server: first hold %v (transport 429 to replica B), 50 holds p50 %v p90 %v max %v",
		took.Round(time.Microsecond), ds[25].Round(time.Microsecond), ds[45].Round(time.Microsecond), ds[49].Round(time.Microsecond))
}

// Redis killed mid-run: requests keep succeeding on local state; a hold
// learned meanwhile stays local; when Redis runs again (empty) the hold
// is written again and shared, and new holds are shared.
func TestRealRedisKilledAndRestarted(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	held := newVendor(t)
	var degraded, recovered atomic.Int32
	hooks := WithHooks(Hooks{OnDegraded: func(error) { degraded.Add(1) }, OnRecovered: func() { recovered.Add(1) }})
	a, b := newReplica(t, r.addr(), hooks), newReplica(t, r.addr())

	r.kill()
	var worst time.Duration
	for i := 0; i < 50; i++ {
		for _, rep := range []*replica{a, b} {
			d, err := rep.get(v.URL + "/v1/ok")
			require.NoError(t, err, "fail open: Redis is not needed to succeed")
			worst = max(worst, d)
		}
	}
	require.Eventually(t, func() bool { return a.fleet.Stats().Degraded }, 3*time.Second, time.Millisecond)
	assert.Equal(t, int32(1), degraded.Load())

	held.limited.Store(true)
	_, err := a.get(held.URL + "/v3/chat")
	require.ErrorIs(t, err, memerr.ErrRateLimited)
	held.limited.Store(false)
	_, ok := b.fleet.Held(held.scope())
	assert.False(t, ok, "not shared while Redis is down")

	restarted := time.Now()
	r.start()
	require.Eventually(t, func() bool { _, ok := b.fleet.Held(held.scope()); return ok }, 3*time.Second, time.Millisecond,
		"the hold learned during the outage is shared once Redis is back")
	back := time.Since(restarted)
	// Recovered at least once, and never more often than degraded: on a
	// loaded machine an operation can time out again just after the
	// restart, which is one more degraded spell and one more recovery.
	assert.GreaterOrEqual(t, recovered.Load(), int32(1))
	assert.LessOrEqual(t, recovered.Load(), degraded.Load())
	_, err = b.get(held.URL + "/v3/chat")
	require.ErrorIs(t, err, memerr.ErrRateLimited)
	assert.Equal(t, int64(1), held.hits.Load())

	b.fleet.Hold("https://after.example:443", hold(time.Minute))
	after := eventuallyShared(t, a.fleet, "https://after.example:443", 3*time.Second)
	t.Logf("fleet: redis killed: 100 requests all succeeded, slowest %v; after restart (process start included) the outage's hold was shared in %v, a new hold in %v",
		worst.Round(time.Microsecond), back.Round(time.Millisecond), after.Round(time.Microsecond))
}

// Redis paused (SIGSTOP): it accepts connections and answers nothing.
// Requests, including one that records a hold, are not delayed by it;
// once resumed, holds are shared again.
func TestRealRedisPaused(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	held := newVendor(t)
	a, b := newReplica(t, r.addr()), newReplica(t, r.addr())

	r.signal(syscall.SIGSTOP)
	held.limited.Store(true)
	d, err := a.get(held.URL + "/v3/chat") // records a hold: the write waits on the fleet's goroutine
	require.ErrorIs(t, err, memerr.ErrRateLimited)
	held.limited.Store(false)
	ds := []time.Duration{d}
	for i := 0; i < 100; i++ {
		for _, rep := range []*replica{a, b} {
			d, err := rep.get(v.URL + "/v1/ok")
			require.NoError(t, err)
			ds = append(ds, d)
		}
		a.fleet.Hold(fmt.Sprintf("https://s%d.example:443", i), hold(time.Minute)) // queued, never blocking
	}
	slices.Sort(ds)
	worst := ds[len(ds)-1]
	assert.Less(t, worst, time.Second, "no request waits for a paused Redis")
	require.Eventually(t, func() bool { return a.fleet.Stats().Degraded }, 3*time.Second, time.Millisecond)

	r.signal(syscall.SIGCONT)
	resumed := time.Now()
	eventuallyShared(t, b.fleet, held.scope(), 3*time.Second)
	t.Logf("fleet: redis paused: %d requests, p50 %v p99 %v max %v; after SIGCONT the hold was shared in %v",
		len(ds), ds[len(ds)/2].Round(time.Microsecond), ds[len(ds)*99/100].Round(time.Microsecond), worst.Round(time.Microsecond),
		time.Since(resumed).Round(time.Millisecond))
}

// Corrupt and hostile values written under the prefix (and published) are
// ignored: no panic, no hold, no wait; a well-formed hold of 10 minutes,
// past MaxRetryWait, fails at once instead of waiting.
func TestRealRedisCorruptValues(t *testing.T) {
	r := startRedis(t)
	v := newVendor(t)
	long := newVendor(t)
	b := newReplica(t, r.addr())
	rdb := newClient(t, r.addr())
	ctx := context.Background()
	far := strconv.FormatInt(time.Now().Add(10*365*24*time.Hour).UnixMilli(), 10)
	for _, val := range []string{"\x00\xffgarbage", "v1|" + far + "|6|coze|4008", "v1|123|6|", "v1|" + far + "|7|x|y|z"} {
		require.NoError(t, rdb.Set(ctx, "memerr:hold:{"+v.scope()+"}", val, 0).Err())
		require.NoError(t, rdb.Publish(ctx, "memerr:holds", val+"|"+v.scope()).Err())
		ignored := b.fleet.Stats().Ignored
		require.Eventually(t, func() bool { return b.fleet.Stats().Ignored >= ignored+2 }, 3*time.Second, time.Millisecond)
		d, err := b.get(v.URL + "/v1/ok")
		require.NoError(t, err, "%q is ignored", val)
		assert.Less(t, d, time.Second)
	}
	require.NoError(t, rdb.Set(ctx, "memerr:hold:{"+v.scope()+"}", make([]byte, 1<<20), 0).Err())
	_, err := b.get(v.URL + "/v1/ok")
	require.NoError(t, err)

	ten := strconv.FormatInt(time.Now().Add(10*time.Minute).UnixMilli(), 10)
	require.NoError(t, rdb.Set(ctx, "memerr:hold:{"+long.scope()+"}", "v1|"+ten+"|6|coze|4008", time.Minute).Err())
	eventuallyShared(t, b.fleet, long.scope(), 3*time.Second)
	d, err := b.get(long.URL + "/v3/chat")
	require.ErrorIs(t, err, memerr.ErrRateLimited)
	assert.Less(t, d, time.Second, "fails at once: 10 minutes is past MaxRetryWait")
	assert.Zero(t, long.hits.Load())
}

// A replica whose breaker opens shares the open circuit through Redis: the
// other replica fails at once with ErrCircuitOpen without sending.
func TestRealRedisOpenCircuitShared(t *testing.T) {
	r := startRedis(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	var hits atomic.Int64
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		down.Config.Handler.ServeHTTP(w, r)
	}))
	defer counted.Close()
	breaker := memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 30 * time.Second})
	newOne := func() *replica {
		f := newFleet(t, r.addr())
		return &replica{fleet: f, client: memerr.NewClient(memerr.WithFleet(f), memerr.WithMaxRetries(0), breaker)}
	}
	a, b := newOne(), newOne()
	for i := 0; i < 3; i++ {
		_, err := a.get(counted.URL + "/v1/x")
		require.ErrorIs(t, err, memerr.ErrUnavailable)
	}
	took := eventuallyShared(t, b.fleet, "http://"+counted.Listener.Addr().String(), 2*time.Second)
	d, err := b.get(counted.URL + "/v1/x")
	require.ErrorIs(t, err, memerr.ErrCircuitOpen)
	assert.Less(t, d, time.Second, "failed at once")
	assert.Equal(t, int64(3), hits.Load(), "replica B sent nothing")
	t.Logf("fleet: an open circuit reached the other replica in %v over real redis-server", took.Round(time.Microsecond))
}
