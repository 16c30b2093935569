package memerr

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/memerr/memerr/internal/paired"
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

// BenchmarkTransportRatio runs BenchmarkTransport's contenders in
// alternating blocks (internal/paired), so that the machine's load, which
// on a shared VM moves ns/op by ±10–30 % from one run to the next, falls on
// all of them alike. b.N counts requests per contender.
//
// It reports, per contender, ns/req (wall) and cpu-ns/req (the process's
// CPU time, client and server), and for the others the median over rounds
// of their time divided by bare's in the same round: memerr/bare,
// retryablehttp/bare (wall) and the -cpu forms. bare-again is a second
// bare transport, a control: how far bare-again/bare strays from 1 is the
// method's own error. Run with
//
//	go test -run '^$' -bench TransportRatio -benchtime 200000x .
func BenchmarkTransportRatio(b *testing.B) {
	srv := benchServer("application/json")
	defer srv.Close()
	rc := benchRetryable()
	reqs := make([]*http.Request, paired.Workers())
	for i := range reqs {
		var err error
		reqs[i], err = http.NewRequest(http.MethodGet, srv.URL+"/v1/memories/1", nil)
		require.NoError(b, err)
	}
	var cs []paired.Contender
	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", benchBase()},
		{"bare-again", benchBase()},
		{"memerr", NewTransport(benchBase(), WithVendor(Coze))},
		{"retryablehttp", rc.StandardClient().Transport},
	} {
		rt := c.rt
		cs = append(cs, paired.Contender{Name: c.name, Do: func(w int) error {
			n, err := paired.Get(rt, reqs[w])
			if err == nil && n != int64(len(benchBody)) {
				err = fmt.Errorf("read %d bytes of %d", n, len(benchBody))
			}
			return err
		}})
	}
	paired.Run(b, cs, 256)
}
