package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// faultyUpstream serves a Coze-like API where a share of the requests
// fail: 503 with an empty body, 429 with a retry-after-ms hint, Coze's
// in-body 4009 on HTTP 200, a dropped connection, or a success whose body
// trickles. POSTs are applied (counted per X-Request-Seq) only when the
// answer is a success, or — the hard case — just before a dropped
// connection, where the client cannot know the write happened.
type faultyUpstream struct {
	srv            *httptest.Server
	fault          float64 // share of requests that fail
	conns          atomic.Int64
	served, faults atomic.Int64

	mu      sync.Mutex
	applied map[string]int
}

const soakOK = `{"code":0,"msg":"","data":{"id":"m_42","text":"likes green tea"}}`

func newFaultyUpstream(t testing.TB, fault float64) *faultyUpstream {
	u := &faultyUpstream{fault: fault, applied: map[string]int{}}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	u.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

func (u *faultyUpstream) apply(r *http.Request) {
	if r.Method != http.MethodPost {
		return
	}
	u.mu.Lock()
	u.applied[r.Header.Get("X-Request-Seq")]++
	u.mu.Unlock()
}

func (u *faultyUpstream) serve(w http.ResponseWriter, r *http.Request) {
	u.served.Add(1)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if rand.Float64() >= u.fault {
		u.apply(r)
		h.Set("Content-Length", strconv.Itoa(len(soakOK)))
		_, _ = w.Write([]byte(soakOK))
		return
	}
	u.faults.Add(1)
	switch rand.IntN(5) {
	case 0: // overloaded: 503, empty body
		h.Del("Content-Type")
		w.WriteHeader(http.StatusServiceUnavailable)
	case 1: // rate limited with a hint of a few milliseconds
		h.Set("retry-after-ms", strconv.Itoa(1+rand.IntN(4)))
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"code":4008,"msg":"too many requests"}`))
	case 2: // Coze's in-body error on HTTP 200
		body := `{"code":4009,"msg":"system busy","detail":{"logid":"20250101000000000ABCDEF"}}`
		h.Set("X-Tt-Logid", "20250101000000000ABCDEF")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write([]byte(body))
	case 3: // dropped connection; half the POSTs were applied first
		if rand.IntN(2) == 0 {
			u.apply(r)
		}
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
			return
		}
		panic(http.ErrAbortHandler)
	case 4: // slow body: success, in four chunks 1ms apart
		u.apply(r)
		h.Set("Content-Length", strconv.Itoa(len(soakOK)))
		rc := http.NewResponseController(w)
		for i := 0; i < 4; i++ {
			lo, hi := i*len(soakOK)/4, (i+1)*len(soakOK)/4
			_, _ = w.Write([]byte(soakOK[lo:hi]))
			_ = rc.Flush()
			time.Sleep(time.Millisecond)
		}
	}
}

func (u *faultyUpstream) doubles() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.applied {
		if c > 1 {
			n++
		}
	}
	return n
}

// soakRun is what one run of the soak measured.
type soakRun struct {
	requests, gets, getOK, posts, postOK int
	retries                              int64
	latencies                            []time.Duration // of successful requests
	elapsed                              time.Duration
	conns                                int64
	served, faults                       int64
	doubles                              int
	errKinds                             map[string]int
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// soak sends n requests (a quarter of them POSTs) from workers goroutines
// through one Client to an upstream failing a share fault of the time.
func soak(t *testing.T, n, workers, pool int, fault float64) soakRun {
	up := newFaultyUpstream(t, fault)
	defer up.srv.Close()
	tr := newBase(t, pool)
	defer tr.CloseIdleConnections()
	var retries atomic.Int64
	c := memerr.NewClient(
		memerr.WithLogger(captureLogger()),
		memerr.WithBaseTransport(tr),
		memerr.WithHeader("Authorization", "Bearer "+fakeKey),
		memerr.WithMaxRetries(10),
		memerr.WithBackoff(time.Millisecond, 4*time.Millisecond),
		memerr.WithRetryBudget(memerr.NewRetryBudget(1_000_000, 1)),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 1000, OpenTimeout: 50 * time.Millisecond}),
		memerr.WithHooks(memerr.Hooks{OnRetry: func(memerr.RetryEvent) { retries.Add(1) }}),
	)
	defer c.Transport().CloseIdleConnections()
	url := secretURL(t, up.srv.URL, "/v1/memories")

	var next atomic.Int64
	run := soakRun{requests: n, errKinds: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local soakRun
			local.errKinds = map[string]int{}
			for {
				i := next.Add(1)
				if i > int64(n) {
					break
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				post := i%4 == 0
				t0 := time.Now()
				var err error
				if post {
					req, rerr := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
					require.NoError(t, rerr)
					req.Header.Set("X-Request-Seq", strconv.FormatInt(i, 10))
					_, err = do(c, req)
					local.posts++
				} else {
					var out map[string]any
					err = c.DoJSON(ctx, http.MethodGet, url, nil, &out)
					local.gets++
				}
				d := time.Since(t0)
				cancel()
				if err != nil {
					secrets.noteErr(err)
					e := asError(t, err)
					local.errKinds[fmt.Sprintf("%s %s %s", e.Vendor, e.Code, e.Kind)]++
					continue
				}
				local.latencies = append(local.latencies, d)
				if post {
					local.postOK++
				} else {
					local.getOK++
				}
			}
			mu.Lock()
			run.gets += local.gets
			run.getOK += local.getOK
			run.posts += local.posts
			run.postOK += local.postOK
			run.latencies = append(run.latencies, local.latencies...)
			for k, v := range local.errKinds {
				run.errKinds[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	run.retries = retries.Load()
	run.conns = up.conns.Load()
	run.served, run.faults = up.served.Load(), up.faults.Load()
	run.doubles = up.doubles()
	slices.Sort(run.latencies)
	return run
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSoak: 20,480 requests from 32 goroutines through one Client against
// an upstream failing 20% of the time, compared with a fault-free run.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak takes about a minute; run without -short")
	}
	const workers, pool = 32, 64
	n := 20_480
	if v, err := strconv.Atoi(os.Getenv("MEMERR_SOAK_REQUESTS")); err == nil && v > 0 {
		n = v
	}
	ignore := goleak.IgnoreCurrent()
	goroutinesBefore := runtime.NumGoroutine()

	base := soak(t, n/4, workers, pool, 0)
	require.Equal(t, base.requests, base.getOK+base.postOK, "the fault-free run must not fail: %v", base.errKinds)

	heapBefore := heapAlloc()
	run := soak(t, n, workers, pool, 0.20)
	heapAfter := heapAlloc()

	// Every goroutine started by the client, the transport and the servers
	// is gone once the servers closed and idle connections were dropped.
	var leakErr error
	for i := 0; i < 100; i++ { // up to 1s for connections' goroutines to exit
		if leakErr = goleak.Find(ignore); leakErr == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	leaked := runtime.NumGoroutine() - goroutinesBefore
	if leakErr == nil {
		leaked = 0
	}

	getRate := float64(run.getOK) / float64(run.gets)
	postRate := float64(run.postOK) / float64(run.posts)
	p50, p99 := pct(run.latencies, 0.50), pct(run.latencies, 0.99)
	b50, b99 := pct(base.latencies, 0.50), pct(base.latencies, 0.99)
	heapGrowth := int64(heapAfter) - int64(heapBefore)
	lines := []string{
		fmt.Sprintf("soak: %d requests (%d GET, %d POST) from %d goroutines in %v, upstream served %d attempts, %d faults (%.1f%%)",
			run.requests, run.gets, run.posts, workers, run.elapsed.Round(time.Millisecond), run.served, run.faults, 100*float64(run.faults)/float64(run.served)),
		fmt.Sprintf("soak: idempotent GET success %.3f%% (%d/%d); POST success %.2f%% (%d/%d); writes applied twice: %d",
			100*getRate, run.getOK, run.gets, 100*postRate, run.postOK, run.posts, run.doubles),
		fmt.Sprintf("soak: latency p50 %v p99 %v vs fault-free p50 %v p99 %v: added p50 %v p99 %v",
			p50.Round(time.Microsecond), p99.Round(time.Microsecond), b50.Round(time.Microsecond), b99.Round(time.Microsecond),
			(p50 - b50).Round(time.Microsecond), (p99 - b99).Round(time.Microsecond)),
		fmt.Sprintf("soak: retries per request %.3f (%d retries); connections opened %d for a pool of %d (fault-free run: %d for %d requests)",
			float64(run.retries)/float64(run.requests), run.retries, run.conns, pool, base.conns, base.requests),
		fmt.Sprintf("soak: goroutines leaked %d; heap growth %+.1f KiB (HeapAlloc after GC %d -> %d bytes)",
			leaked, float64(heapGrowth)/1024, heapBefore, heapAfter),
		fmt.Sprintf("soak: failures by vendor/code/kind: %v", run.errKinds),
	}
	for _, l := range lines {
		if raceOn {
			l = strings.Replace(l, "soak:", "soak (race detector on, timings not comparable):", 1)
		}
		t.Log(l)
		fmt.Println(l)
	}

	assert.GreaterOrEqual(t, run.requests, 20_000, "the soak is at least 20,000 requests")
	assert.Zero(t, run.doubles, "writes applied twice")
	assert.NoError(t, leakErr, "goroutines leaked")
	assert.GreaterOrEqual(t, getRate, 0.999, "idempotent requests ride out 20%% faults with 10 retries")
	assert.Positive(t, run.retries, "the soak exercised retries")
	assert.Less(t, heapGrowth, int64(16<<20), "heap growth")
	// Each dropped connection costs one; the rest reuse the pool.
	assert.LessOrEqual(t, run.conns, int64(pool)+run.faults/5*2+int64(workers), "connections opened")
}
