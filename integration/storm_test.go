package integration

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/memerr/memerr"
	"github.com/stretchr/testify/assert"
)

// stormServer answers 503 until healthyAt, then 200, and counts the
// attempts that reach it during the outage.
type stormServer struct {
	*httptest.Server
	healthyAt    time.Time
	outageHits   atomic.Int64
	recoveryHits atomic.Int64
}

func newStormServer(healthyAt time.Time) *stormServer {
	s := &stormServer{healthyAt: healthyAt}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(s.healthyAt) {
			s.outageHits.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "upstream down")
			return
		}
		s.recoveryHits.Add(1)
		io.WriteString(w, `{"code":0,"msg":"","data":{}}`)
	}))
	return s
}

// stormResult is what one contender's workers saw.
type stormResult struct {
	outageRequests   int64 // requests started during the outage
	recoverySuccess  int64 // 200s received after the recovery
	refusedAfterHeal int64 // requests refused by a breaker after the recovery
}

// storm runs workers that each send a GET every tick until end, through hc.
func storm(hc *http.Client, url string, workers int, tick time.Duration, healthyAt, end time.Time) stormResult {
	var res stormResult
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(tick)
			defer t.Stop()
			for now := range t.C {
				if now.After(end) {
					return
				}
				if now.Before(healthyAt) {
					atomic.AddInt64(&res.outageRequests, 1)
				}
				resp, err := hc.Get(url)
				if err != nil {
					if errors.Is(err, memerr.ErrCircuitOpen) && time.Now().After(healthyAt) {
						atomic.AddInt64(&res.refusedAfterHeal, 1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && time.Now().After(healthyAt) {
					atomic.AddInt64(&res.recoverySuccess, 1)
				}
			}
		}()
	}
	wg.Wait()
	return res
}

// breakerLog records a breaker's changes with the time each happened.
type breakerLog struct {
	mu      sync.Mutex
	changes []string
	at      []time.Time
}

func (l *breakerLog) hook(ch memerr.BreakerChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, ch.From.String()+"->"+ch.To.String())
	l.at = append(l.at, time.Now())
}

// TestStormRecovery: 32 goroutines send a GET every 50 ms to a server that
// answers 503 for 2 s and is healthy after, through memerr (defaults) and,
// at the same time against a server of its own, go-retryablehttp. memerr's
// breaker must keep the load on the failing server to the requests in
// flight when it tripped plus its half-open trials, however many requests
// the workers start, and let traffic back as the server recovers: it ends
// closed, having closed once, after the recovery, and never reopened.
// Counts, not rates: how many requests a worker starts in a second depends
// on the machine's load, so the rates (amplification, successes against
// go-retryablehttp's) are printed as figures, not asserted.
func TestStormRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the storm runs for 8 s")
	}
	const (
		workers = 32
		tick    = 50 * time.Millisecond
		outage  = 2 * time.Second
		healthy = 6 * time.Second
	)
	start := time.Now()
	healthyAt, end := start.Add(outage), start.Add(outage+healthy)
	ms, rs := newStormServer(healthyAt), newStormServer(healthyAt)
	defer ms.Close()
	defer rs.Close()

	var blog breakerLog
	mt := memerr.NewTransport(nil, memerr.WithHooks(memerr.Hooks{OnBreakerChange: blog.hook}))
	mc := &http.Client{Transport: mt}
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	var mres, rres stormResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); mres = storm(mc, ms.URL, workers, tick, healthyAt, end) }()
	go func() { defer wg.Done(); rres = storm(rc.StandardClient(), rs.URL, workers, tick, healthyAt, end) }()
	wg.Wait()
	mc.CloseIdleConnections()
	rc.HTTPClient.CloseIdleConnections()

	amp := func(s *stormServer, r stormResult) float64 {
		return float64(s.outageHits.Load()) / float64(max(r.outageRequests, 1))
	}
	blog.mu.Lock()
	defer blog.mu.Unlock()
	var timeline []string
	trials, closes, closedAt := 0, 0, time.Time{}
	for i, ch := range blog.changes {
		timeline = append(timeline, fmt.Sprintf("%s at %.2fs", ch, blog.at[i].Sub(start).Seconds()))
		switch ch {
		case "open->half-open":
			trials++
		case "half-open->closed":
			closes++
			closedAt = blog.at[i]
		}
	}
	t.Logf("storm: %d workers, GET every %v, 503 for %v then healthy for %v", workers, tick, outage, healthy)
	t.Logf("storm: memerr: outage requests %d, attempts at the server %d (amplification %.3f); successes after recovery %d, refused by the breaker after recovery %d",
		mres.outageRequests, ms.outageHits.Load(), amp(ms, mres), mres.recoverySuccess, mres.refusedAfterHeal)
	t.Logf("storm: memerr's breaker: %s", strings.Join(timeline, ", "))
	t.Logf("storm: go-retryablehttp: outage requests %d, attempts at the server %d (amplification %.3f); successes after recovery %d",
		rres.outageRequests, rs.outageHits.Load(), amp(rs, rres), rres.recoverySuccess)
	t.Logf("storm: memerr's successes after recovery / go-retryablehttp's: %.3f",
		float64(mres.recoverySuccess)/float64(max(rres.recoverySuccess, 1)))

	// The load on the failing server: the first wave (at most one attempt
	// per worker in flight when the breaker tripped, and their retries
	// already under way) and one attempt per half-open trial; without a
	// breaker it grows with every request the workers start.
	assert.LessOrEqual(t, ms.outageHits.Load(), int64(2*workers+trials),
		"attempts at the failing server: the breaker keeps them to the first wave and its trials (%d requests started)", mres.outageRequests)
	// Traffic comes back: the breaker closed once, after the recovery, and
	// stayed closed; memerr's requests succeeded after it.
	assert.Equal(t, 1, closes, "the breaker closes once the server is back: %s", timeline)
	assert.False(t, closedAt.Before(healthyAt), "the breaker closed before the server recovered: %s", timeline)
	if n := len(blog.changes); assert.Positive(t, n) {
		assert.Equal(t, "half-open->closed", blog.changes[n-1], "the breaker stays closed after the recovery: %s", timeline)
	}
	st, _ := mt.BreakerState(ms.URL)
	assert.Equal(t, memerr.CircuitClosed, st)
	assert.Positive(t, mres.recoverySuccess, "memerr's requests succeed after the recovery")
}
