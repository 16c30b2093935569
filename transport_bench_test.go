package memerr

import (
	"fmt"
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

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/require"
)

// BenchmarkTransport compares parallel GETs of a small (~200 B) Coze JSON
// success body on loopback through:
//
//   - bare: a clone of http.DefaultTransport;
//   - memerr: NewTransport on the same kind of base with WithVendor(Coze),
//     so every 2xx body is read ahead and checked for an in-body error,
//     with the retry loop, budget and per-host breaker on the path;
//   - retryablehttp: go-retryablehttp's client (Logger nil) on the same kind
//     of base, through its StandardClient.
//
// Each GET reads the body to the end and closes it. Run with
//
//	go test -run '^$' -bench 'Transport' -benchmem -count=5 -cpu 2 .
func BenchmarkTransport(b *testing.B) {
	body := benchBody
	srv := benchServer("application/json")
	defer srv.Close()
	base := benchBase
	rc := benchRetryable()

	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", base()},
		{"memerr", NewTransport(base(), WithVendor(Coze))},
		{"retryablehttp", rc.StandardClient().Transport},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories/1", nil)
				if err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					resp, err := bc.rt.RoundTrip(req)
					if err != nil {
						b.Error(err)
						return
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || n != int64(len(body)) || resp.StatusCode != http.StatusOK {
						b.Errorf("status %d, %d bytes, %v", resp.StatusCode, n, err)
						return
					}
				}
			})
		})
	}
}

// benchBody is a ~200 B Coze success envelope, the body of the transport
// benchmarks.
var benchBody = []byte(`{"code":0,"msg":"","data":{"id":"7389001234567890123","content":"the user prefers green tea in the afternoon","created_at":1720000000,"tags":["preference","drink"]},"detail":{"logid":"20240708143040790E78F9318B35A2"}}`)

// benchServer serves benchBody with a Content-Length and content type ct.
func benchServer(ct string) *httptest.Server {
	size := []string{strconv.Itoa(len(benchBody))}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{ct}
		h["Content-Length"] = size
		_, _ = w.Write(benchBody)
	}))
}

// benchRetryable is go-retryablehttp's client on benchBase, silent.
func benchRetryable() *retryablehttp.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil
	rc.HTTPClient = &http.Client{Transport: benchBase()}
	return rc
}

// BenchmarkTransportRatio runs BenchmarkTransport's three contenders in
// alternating blocks, so that the machine's load, which on a shared VM
// moves ns/op by ±10–30 % from one run to the next, falls on all three
// alike. A round sends one block of GETs through each contender in turn
// (the order rotates every round), from 2·GOMAXPROCS goroutines; b.N
// counts rounds' requests per contender.
//
// It reports, per contender, ns/req (wall) and cpu-ns/req (the process's
// CPU time, client and server), and for the others the median over rounds
// of their time divided by bare's in the same round: memerr/bare,
// retryablehttp/bare (wall) and the -cpu forms. bare-again is a second
// bare transport, a control: how far bare-again/bare strays from 1 is the
// method's own error. Run with
//
//	go test -run '^$' -bench TransportRatio -benchtime 60000x .
func BenchmarkTransportRatio(b *testing.B) {
	const block = 256 // requests per contender per round
	body := benchBody
	srv := benchServer("application/json")
	defer srv.Close()
	rc := benchRetryable()
	contenders := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", benchBase()},
		{"bare-again", benchBase()}, // the control: its ratio to bare shows the method's own error
		{"memerr", NewTransport(benchBase(), WithVendor(Coze))},
		{"retryablehttp", rc.StandardClient().Transport},
	}
	workers := 2 * runtime.GOMAXPROCS(0)
	reqs := make([]*http.Request, workers)
	for i := range reqs {
		var err error
		reqs[i], err = http.NewRequest(http.MethodGet, srv.URL+"/v1/memories/1", nil)
		require.NoError(b, err)
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
					resp, err := rt.RoundTrip(req)
					if err != nil {
						failed.Store(err)
						return
					}
					m, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || m != int64(len(body)) || resp.StatusCode != http.StatusOK {
						failed.Store(fmt.Errorf("status %d, %d bytes, %v", resp.StatusCode, m, err))
						return
					}
				}
			}(reqs[w], (block+w)/workers)
		}
		wg.Wait()
		return time.Since(t0), cpuTime() - c0
	}
	for _, c := range contenders {
		runBlock(c.rt) // open the connections before measuring
	}

	rounds := max(1, (b.N+block-1)/block)
	wall := make([][]time.Duration, len(contenders))
	cpu := make([][]time.Duration, len(contenders))
	b.ResetTimer()
	for r := 0; r < rounds; r++ {
		for k := range contenders {
			i := (r + k) % len(contenders)
			w, c := runBlock(contenders[i].rt)
			wall[i] = append(wall[i], w)
			cpu[i] = append(cpu[i], c)
		}
	}
	b.StopTimer()
	if err := failed.Load(); err != nil {
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
