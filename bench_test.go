package memerr

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"

	"github.com/memerr/memerr/internal/paired"
	"github.com/stretchr/testify/require"
)

// Benchmarks of memerr alone; the comparisons with go-retryablehttp and
// failsafe-go are in integration/bench, the failure path in
// integration/cmd/failpath. BENCHMARKS.md has the figures and commands.

// cozeBody returns a Coze success envelope of exactly n bytes (n ≥ 64).
func cozeBody(n int) []byte {
	const head, tail = `{"code":0,"msg":"","data":{"blob":"`, `"}}`
	b := make([]byte, 0, n)
	b = append(b, head...)
	b = append(b, bytes.Repeat([]byte("x"), n-len(head)-len(tail))...)
	return append(b, tail...)
}

// serveBody serves body as application/json; with a Content-Length when
// sized, else chunked (the first write is flushed before the header could
// carry a length).
func serveBody(tb testing.TB, body []byte, sized bool) *httptest.Server {
	tb.Helper()
	n := strconv.Itoa(len(body))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		if sized {
			w.Header()["Content-Length"] = []string{n}
			_, _ = w.Write(body)
			return
		}
		half := len(body) / 2
		_, _ = w.Write(body[:half])
		w.(http.Flusher).Flush()
		_, _ = w.Write(body[half:])
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// benchBase is the transport under every benchmark's contenders.
var benchBase = paired.Base

// BenchmarkBodySize sends GETs whose 2xx Coze success bodies are 200 B,
// 4 KiB, 64 KiB and 1 MiB, with a Content-Length (sized) and without one
// (chunked), through a bare http.Transport and through a Transport with
// WithVendor(Coze), which reads ahead JSON bodies of at most PeekLimit to
// look for an in-body error. B/op shows what is buffered: nothing for a
// sized body above PeekLimit, at most PeekLimit+1 bytes for a chunked one.
func BenchmarkBodySize(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"200B", 200}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		body := cozeBody(size.n)
		for _, sized := range []bool{true, false} {
			framing := "sized"
			if !sized {
				framing = "chunked"
			}
			srv := serveBody(b, body, sized)
			for _, rt := range []string{"bare", "memerr"} {
				b.Run("size="+size.name+"/body="+framing+"/rt="+rt, func(b *testing.B) {
					base := benchBase()
					defer base.CloseIdleConnections()
					var t http.RoundTripper = base
					if rt == "memerr" {
						t = NewTransport(base, WithVendor(Coze))
					}
					req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
					if err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(size.n))
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := paired.Get(t, req); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkContention sends GETs from 1, 16 and 256 goroutines through one
// transport to one host: a bare http.Transport against a default Transport
// (breaker and retry budget on, vendor detected from each body). With more
// goroutines than cores, ns/op is the wall time per request of the whole
// group; memerr's should grow no faster than bare's.
func BenchmarkContention(b *testing.B) {
	srv := serveBody(b, cozeBody(200), true)
	for _, g := range []int{1, 16, 256} {
		for _, rt := range []string{"bare", "memerr"} {
			b.Run("goroutines="+strconv.Itoa(g)+"/rt="+rt, func(b *testing.B) {
				base := benchBase()
				defer base.CloseIdleConnections()
				var t http.RoundTripper = base
				if rt == "memerr" {
					t = NewTransport(base)
				}
				b.ReportAllocs()
				if g == 1 {
					req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
					if err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := paired.Get(t, req); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				// RunParallel starts parallelism·GOMAXPROCS goroutines.
				b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
					if err != nil {
						b.Error(err)
						return
					}
					for pb.Next() {
						if _, err := paired.Get(t, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkSerial sends GETs one at a time, for instruction counts under
// valgrind --tool=callgrind (see BENCHMARKS.md), which do not depend on the
// machine's load: bare; memerr reading ahead a JSON body (Coze, and the
// vendor left to detection); memerr on a text/plain body, and on a JSON body
// of a vendor it does not read ahead (Tensorheart); go-retryablehttp.
func BenchmarkSerial(b *testing.B) {
	body := benchBody
	js, text := benchServer("application/json"), benchServer("text/plain")
	defer js.Close()
	defer text.Close()
	base := benchBase
	rc := benchRetryable()
	for _, bc := range []struct {
		name, url string
		rt        http.RoundTripper
	}{
		{"bare", js.URL, base()},
		{"memerr", js.URL, NewTransport(base(), WithVendor(Coze))},
		{"memerr-auto", js.URL, NewTransport(base())},
		{"memerr-text", text.URL, NewTransport(base(), WithVendor(Coze))},
		{"memerr-tensorheart", js.URL, NewTransport(base(), WithVendor(Tensorheart))},
		{"retryablehttp", js.URL, rc.StandardClient().Transport},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			req, err := http.NewRequest(http.MethodGet, bc.url+"/v1/memories/1", nil)
			require.NoError(b, err)
			for i := 0; i < b.N; i++ {
				resp, err := bc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if n != int64(len(body)) {
					b.Fatalf("read %d bytes", n)
				}
			}
		})
	}
}
