package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/memerr/memerr"
	"github.com/memerr/memerr/internal/paired"
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

// newBase is the http.Transport under every contender.
var newBase = paired.Base

// contenders are the round trippers compared, each over its own newBase.
var contenders = []struct {
	name string
	new  func(base http.RoundTripper) http.RoundTripper
}{
	{"bare", func(base http.RoundTripper) http.RoundTripper { return base }},
	{"memerr", func(base http.RoundTripper) http.RoundTripper { return memerr.NewTransport(base) }},
	{"memerr-coze", func(base http.RoundTripper) http.RoundTripper {
		return memerr.NewTransport(base, memerr.WithVendor(memerr.Coze))
	}},
	{"memerr-memos", func(base http.RoundTripper) http.RoundTripper {
		return memerr.NewTransport(base, memerr.WithVendor(memerr.MemOS))
	}},
	{"retryablehttp", func(base http.RoundTripper) http.RoundTripper {
		c := retryablehttp.NewClient()
		c.HTTPClient = &http.Client{Transport: base}
		c.Logger = nil
		return &retryablehttp.RoundTripper{Client: c}
	}},
	{"failsafe", func(base http.RoundTripper) http.RoundTripper {
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
			cpu := paired.CPUTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil)
				if err != nil {
					b.Error(err)
					return
				}
				for pb.Next() {
					if _, err := paired.Get(rt, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if c := paired.CPUTime() - cpu; c > 0 {
				b.ReportMetric(float64(c)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkSuccessRatio sends the same GETs as BenchmarkSuccess through
// every contender in alternating blocks (memerr's internal/paired): a round
// sends one block through each contender in turn, the order rotating every
// round. The machine's load, which moves ns/op by ±10–30 % between runs on
// a shared VM, then falls on all contenders alike, and each round gives a
// ratio to bare measured under the same load.
//
// It reports, per contender, ns/req (wall) and cpu-ns/req (the process's
// CPU time, client and server together), and for each contender but bare
// the median over rounds of its block time divided by bare's in the same
// round, wall (<name>/bare) and CPU (<name>/bare-cpu). bare-again, a second
// bare transport, is the control: how far its ratio to bare strays from 1
// is the method's own error. b.N is the number of requests per contender.
// Run with
//
//	go test -run '^$' -bench SuccessRatio -benchtime 200000x ./bench
func BenchmarkSuccessRatio(b *testing.B) {
	srv := newServer(b)
	cs := pairedContenders(func() http.RoundTripper {
		base := newBase()
		b.Cleanup(base.CloseIdleConnections)
		return base
	}, requests(b, srv.URL+"/v1/memories"))
	paired.Run(b, cs, 256)
}

// pairedContenders are the contenders for paired.Run, each over its own
// base from newBase, with a second bare one, bare-again, after bare as the
// control. Worker w sends reqs[w] and checks that it read successBody's
// length.
func pairedContenders(newBase func() http.RoundTripper, reqs []*http.Request) []paired.Contender {
	all := append(contenders[:1:1], contenders...)
	cs := make([]paired.Contender, len(all))
	for i, c := range all {
		name := c.name
		if i == 1 {
			name = "bare-again"
		}
		rt := c.new(newBase())
		cs[i] = paired.Contender{Name: name, Do: func(w int) error {
			n, err := paired.Get(rt, reqs[w])
			if err == nil && n != int64(len(successBody)) {
				err = fmt.Errorf("read %d bytes of %d", n, len(successBody))
			}
			return err
		}}
	}
	return cs
}

// requests are GETs of url, one per worker of paired.Run.
func requests(b *testing.B, url string) []*http.Request {
	reqs := make([]*http.Request, paired.Workers())
	for i := range reqs {
		var err error
		if reqs[i], err = http.NewRequest(http.MethodGet, url, nil); err != nil {
			b.Fatal(err)
		}
	}
	return reqs
}
