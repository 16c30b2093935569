package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/memerr/memerr"
)

// successBody is a Coze success envelope of about 200 bytes; it is also a
// MemOS success envelope (code 0), so both vendors inspect and accept it.
var successBody = []byte(`{"code":0,"msg":"","data":{"id":"7382941203847561","memories":[{"id":"m_01","text":"likes green tea","score":0.93},{"id":"m_02","text":"lives in Lisbon","score":0.81}],"has_more":false}}`)

// newServer serves successBody as application/json with a Content-Length.
func newServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	n := strconv.Itoa(len(successBody))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json; charset=utf-8"}
		h["Content-Length"] = []string{n}
		_, _ = w.Write(successBody)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// newBase is the http.Transport under every contender: a clone of
// http.DefaultTransport with room for one idle connection per goroutine,
// so that no contender pays for new connections.
func newBase() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 1024
	return t
}

// contenders are the round trippers compared, each over its own newBase.
var contenders = []struct {
	name string
	new  func(base *http.Transport) http.RoundTripper
}{
	{"bare", func(base *http.Transport) http.RoundTripper { return base }},
	{"memerr", func(base *http.Transport) http.RoundTripper { return memerr.NewTransport(base) }},
	{"memerr-coze", func(base *http.Transport) http.RoundTripper {
		return memerr.NewTransport(base, memerr.WithVendor(memerr.Coze))
	}},
	{"memerr-memos", func(base *http.Transport) http.RoundTripper {
		return memerr.NewTransport(base, memerr.WithVendor(memerr.MemOS))
	}},
	{"retryablehttp", func(base *http.Transport) http.RoundTripper {
		c := retryablehttp.NewClient()
		c.HTTPClient = &http.Client{Transport: base}
		c.Logger = nil
		return &retryablehttp.RoundTripper{Client: c}
	}},
	{"failsafe", func(base *http.Transport) http.RoundTripper {
		retry := failsafehttp.NewRetryPolicyBuilder().
			WithBackoff(250*time.Millisecond, 8*time.Second).
			WithMaxRetries(3).
			Build()
		breaker := circuitbreaker.NewBuilder[*http.Response]().
			HandleIf(func(r *http.Response, err error) bool { return err != nil || r.StatusCode >= 500 }).
			WithFailureThreshold(5).
			WithDelay(30 * time.Second).
			Build()
		return failsafehttp.NewRoundTripper(base, retry, breaker)
	}},
}

// BenchmarkSuccess sends parallel GETs that succeed, on loopback, through
// each contender in the same run. Each op is one round trip with its body
// read to the end and closed. cpu-ns/op is the CPU time per op of the
// whole process (client and server), less disturbed than ns/op by other
// processes on a loaded machine.
//
// memerr is the default Transport (vendor Auto: a JSON body of at most
// PeekLimit is read ahead and its envelope inspected); memerr-coze and
// memerr-memos name the vendor. retryablehttp is go-retryablehttp's
// RoundTripper with its defaults and no logger; failsafe is failsafe-go's
// failsafehttp RoundTripper with its HTTP retry policy (3 retries, backoff
// 250ms–8s, as memerr's defaults) and a circuit breaker on errors and 5xx
// (5 failures in a row, open 30s; memerr's breaker now opens for 10s by
// default, which costs nothing on this success-only path).
func BenchmarkSuccess(b *testing.B) {
	srv := newServer(b)
	for _, c := range contenders {
		b.Run("rt="+c.name, func(b *testing.B) {
			base := newBase()
			defer base.CloseIdleConnections()
			rt := c.new(base)
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil)
				if err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					if err := roundTrip(rt, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportCPU(b, cpu)
		})
	}
}

func roundTrip(rt http.RoundTripper, req *http.Request) error {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = &statusError{resp.StatusCode}
	}
	return err
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "unexpected status " + strconv.Itoa(e.code) }

// BenchmarkSuccessRatio sends the same GETs as BenchmarkSuccess through
// every contender in alternating blocks: a round sends one block through
// each contender in turn (the order rotates every round) from
// 2·GOMAXPROCS goroutines. The machine's load, which moves ns/op by
// ±10–30 % between runs on a shared VM, then falls on all contenders alike,
// and each round gives a ratio to bare measured under the same load.
//
// It reports, per contender, ns/req (wall) and cpu-ns/req (the process's
// CPU time, client and server together), and for each contender but bare
// the median over rounds of its block time divided by bare's in the same
// round, wall (<name>/bare) and CPU (<name>/bare-cpu). b.N is the number of
// requests per contender. Run with
//
//	go test -run '^$' -bench SuccessRatio -benchtime 200000x ./bench
func BenchmarkSuccessRatio(b *testing.B) {
	const block = 256 // requests per contender per round
	srv := newServer(b)
	workers := 2 * runtime.GOMAXPROCS(0)
	// bare-again, a second bare transport, is the control: how far its
	// ratio to bare strays from 1 is the method's own error.
	contenders := append(contenders[:1:1], contenders...)
	contenders[1].name = "bare-again"
	rts := make([]http.RoundTripper, len(contenders))
	for i, c := range contenders {
		base := newBase()
		defer base.CloseIdleConnections()
		rts[i] = c.new(base)
	}
	reqs := make([]*http.Request, workers)
	for i := range reqs {
		var err error
		if reqs[i], err = http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil); err != nil {
			b.Fatal(err)
		}
	}
	var failed atomic.Value
	runBlock := func(rt http.RoundTripper) (wall, cpu time.Duration) {
		var wg sync.WaitGroup
		c0, t0 := cpuTime(), time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(req *http.Request, n int) {
				defer wg.Done()
				for ; n > 0; n-- {
					if err := roundTrip(rt, req); err != nil {
						failed.Store(err)
						return
					}
				}
			}(reqs[w], (block+w)/workers)
		}
		wg.Wait()
		return time.Since(t0), cpuTime() - c0
	}
	for _, rt := range rts {
		runBlock(rt) // open the connections before measuring
	}

	rounds := max(1, (b.N+block-1)/block)
	wall := make([][]time.Duration, len(rts))
	cpu := make([][]time.Duration, len(rts))
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for k := range rts {
			i := (r + k) % len(rts)
			w, c := runBlock(rts[i])
			wall[i] = append(wall[i], w)
			cpu[i] = append(cpu[i], c)
		}
	}
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	n := float64(rounds * block)
	for i, c := range contenders {
		var sw, sc time.Duration
		for r := range wall[i] {
			sw += wall[i][r]
			sc += cpu[i][r]
		}
		b.ReportMetric(float64(sw)/n, c.name+"-ns/req")
		if sc > 0 {
			b.ReportMetric(float64(sc)/n, c.name+"-cpu-ns/req")
		}
		if i == 0 {
			continue
		}
		b.ReportMetric(medianRatio(wall[i], wall[0]), c.name+"/bare")
		if sc > 0 {
			b.ReportMetric(medianRatio(cpu[i], cpu[0]), c.name+"/bare-cpu")
		}
	}
	b.ReportMetric(0, "ns/op") // a round's time says nothing; the ratios do
}

// medianRatio is the median over rounds of a[r]/b[r].
func medianRatio(a, b []time.Duration) float64 {
	rs := make([]float64, 0, len(a))
	for r := range a {
		if b[r] > 0 {
			rs = append(rs, float64(a[r])/float64(b[r]))
		}
	}
	if len(rs) == 0 {
		return 0
	}
	sort.Float64s(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}
