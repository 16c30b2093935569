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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Transport given no vendor remembers the vendor it detects for sure in
// a scope's responses: 2xx bodies of a vendor that never reports errors
// inside them are then handed on unread, and the others are read as that
// vendor's.
func TestTransportRemembersTheDetectedVendor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		first    string // the first response's body
		want     Vendor // remembered; "" for none
		readMore bool   // later 2xx JSON bodies are still read ahead
	}{
		{"tensorheart", `{"success":true,"data":{"id":"m1"},"meta":{"request_id":"req_1"}}`, Tensorheart, false},
		{"memory os", `{"data":{"id":"m1"},"meta":{"request_id":"req_1"}}`, MemoryOS, false},
		{"memories.ai", `{"code":200,"msg":"success","data":{}}`, MemoriesAI, false},
		{"memos", `{"code":200,"message":"ok","data":{}}`, MemOS, true},
		{"coze", `{"code":0,"msg":"","data":{}}`, Coze, true},
		{"ambiguous: no vendor's own signal wins", `{"code":0}`, "", true},
		{"a plain resource", `{"id":"m1","data":{}}`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &switchRT{body: tc.first}
			tr := NewTransport(rt)
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/v1/x", nil)
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			readAll(t, resp)
			assert.Equal(t, tc.want, tr.vendorForRequest(req))

			rt.body = `{"items":[1,2,3]}`
			resp, err = tr.RoundTrip(req)
			require.NoError(t, err)
			_, read := resp.Body.(*inspectedBody)
			assert.Equal(t, tc.readMore, read, "a later 2xx JSON body read ahead")
			readAll(t, resp)
		})
	}
}

// A remembered vendor still sees its own in-body errors, and a body it
// does not describe is still detected.
func TestRememberedVendorStillFindsErrors(t *testing.T) {
	rt := &switchRT{body: `{"code":200,"message":"ok","data":{}}`}
	tr := NewTransport(rt, WithMaxRetries(0))
	c := &http.Client{Transport: tr}
	req, _ := http.NewRequest(http.MethodGet, "http://api.example/v1/x", nil)
	resp, err := c.Do(req)
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, MemOS, tr.vendorForRequest(req))

	for _, body := range []string{`{"code":50004,"message":"down","data":null}`, `{"data":null,"message":"down","code":50004}`} {
		rt.body = body
		resp, err = c.Do(req)
		require.NoError(t, err)
		e, ok := Decode(resp).(*Error)
		require.True(t, ok, body)
		assert.Equal(t, MemOSMemoryServiceUnavailable, Code{e.Vendor, e.Code})
	}
	rt.body = `{"error":{"code":"RATE_LIMITED","message":"slow"},"meta":{"request_id":"r1"}}` // another service behind the host, say
	resp, err = c.Do(req)
	require.NoError(t, err)
	e, ok := Decode(resp).(*Error)
	require.True(t, ok)
	assert.Equal(t, MemoryOSRateLimited, Code{e.Vendor, e.Code}, "not MemOS's shape: detected")
}

// switchRT answers with its current body.
type switchRT struct{ body string }

func (s *switchRT) RoundTrip(r *http.Request) (*http.Response, error) {
	return paired.Memory("application/json", []byte(s.body)).RoundTrip(r)
}

// BenchmarkAutoSuccessCheck measures what checking a 2xx success body
// adds under Auto once a host's vendor is known, for bodies shaped like
// each vendor's success envelope, up to 16 KiB: every contender sends
// through the same in-memory base. "memerr-unchecked" is the baseline: a
// Transport told the host is Memory OS, which reports no error in a 2xx,
// so it never looks at the body or its type. "memerr-json" gets the body
// as application/json under Auto: its added figure is the check.
// "memerr-text" gets it as text/plain (never read ahead; parsing that
// media type has a cost of its own). go-retryablehttp's cost over a bare
// transport is retryablehttp-added less bare-added. Read the
// <name>-added-cpu-ns/req figures (the CPU time of the process, less
// disturbed by other processes than the wall time):
//
//	go test -run '^$' -bench AutoSuccessCheck -cpu 1 .
func BenchmarkAutoSuccessCheck(b *testing.B) {
	for _, tc := range benchSuccessBodies {
		b.Run(tc.name, func(b *testing.B) {
			unchecked := NewTransport(paired.Memory("application/json", tc.body), WithoutBreaker(), WithVendor(MemoryOS))
			text := NewTransport(paired.Memory("text/plain", tc.body), WithoutBreaker())
			jsonT := NewTransport(paired.Memory("application/json", tc.body), WithoutBreaker())
			bare := paired.Memory("application/json", tc.body)
			rc := retryablehttp.NewClient()
			rc.Logger = nil
			rc.HTTPClient.Transport = bare
			rhttp := rc.StandardClient().Transport
			req, _ := http.NewRequest(http.MethodGet, "http://api.example/v1/memories", nil)
			for _, rt := range []http.RoundTripper{text, jsonT} {
				if _, err := paired.Get(rt, req); err != nil { // the first response teaches the vendor
					b.Fatal(err)
				}
			}
			do := func(rt http.RoundTripper) func(int) error {
				return func(int) error {
					n, err := paired.Get(rt, req)
					if err == nil && n != int64(len(tc.body)) {
						err = fmt.Errorf("read %d bytes of %d", n, len(tc.body))
					}
					return err
				}
			}
			paired.Run(b, []paired.Contender{
				{Name: "memerr-unchecked", Do: do(unchecked)},
				{Name: "memerr-text", Do: do(text)},
				{Name: "memerr-json", Do: do(jsonT)},
				{Name: "bare", Do: do(bare)},
				{Name: "retryablehttp", Do: do(rhttp)},
			}, 2000)
		})
	}
}

// BenchmarkAutoSuccessCheckEach runs each contender of
// BenchmarkAutoSuccessCheck as a benchmark of its own, for counting
// instructions, which do not depend on the machine's load: the check is
// json less unchecked, go-retryablehttp's own cost retryablehttp less bare.
// Anchor every level of the name, as sub-benchmark names match by prefix:
//
//	.ci/instructions '^BenchmarkAutoSuccessCheckEach$/^memos-code-last$/^json$'
func BenchmarkAutoSuccessCheckEach(b *testing.B) {
	for _, tc := range benchSuccessBodies {
		b.Run(tc.name, func(b *testing.B) {
			contenders := map[string]func() http.RoundTripper{
				"unchecked": func() http.RoundTripper {
					return NewTransport(paired.Memory("application/json", tc.body), WithoutBreaker(), WithVendor(MemoryOS))
				},
				"json": func() http.RoundTripper {
					return NewTransport(paired.Memory("application/json", tc.body), WithoutBreaker())
				},
				"bare": func() http.RoundTripper { return paired.Memory("application/json", tc.body) },
				"retryablehttp": func() http.RoundTripper {
					rc := retryablehttp.NewClient()
					rc.Logger = nil
					rc.HTTPClient.Transport = paired.Memory("application/json", tc.body)
					return rc.StandardClient().Transport
				},
			}
			for _, name := range []string{"unchecked", "json", "bare", "retryablehttp"} {
				b.Run(name, func(b *testing.B) {
					rt := contenders[name]()
					req, _ := http.NewRequest(http.MethodGet, "http://api.example/v1/memories", nil)
					if _, err := paired.Get(rt, req); err != nil { // the first response teaches the vendor
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						n, err := paired.Get(rt, req)
						if err == nil && n != int64(len(tc.body)) {
							err = fmt.Errorf("read %d bytes of %d", n, len(tc.body))
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkAutoSuccessCheckLoopback is BenchmarkAutoSuccessCheckEach over a
// real connection: one loopback server per body answers every request with
// it (application/json, its length declared), and every contender gets a
// base http.Transport of its own that keeps its connection alive. In memory
// the bare path hands the body to io.Copy's writer without a copy, which a
// code-last body, read ahead whole, cannot; over a connection every path
// copies the body out of the socket. Two consumers read the body: "copy"
// (io.Copy to io.Discard: memerr's replaying body writes its buffer without
// a copy) and "readall" (io.ReadAll: the bytes read ahead are copied once
// more). The check is json less unchecked, go-retryablehttp's own cost
// retryablehttp less bare; the server's work, in the same process, is the
// same for every contender. Count one contender at a time, every level of
// the name anchored:
//
//	.ci/instructions '^BenchmarkAutoSuccessCheckLoopback$/^memos-code-last-16k$/^copy$/^json$'
func BenchmarkAutoSuccessCheckLoopback(b *testing.B) {
	consumers := []struct {
		name string
		read func(io.Reader) (int64, error)
	}{
		{"copy", func(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }},
		{"readall", func(r io.Reader) (int64, error) {
			p, err := io.ReadAll(r)
			return int64(len(p)), err
		}},
	}
	contenders := map[string]func(base *http.Transport) http.RoundTripper{
		"unchecked": func(base *http.Transport) http.RoundTripper {
			return NewTransport(base, WithoutBreaker(), WithVendor(MemoryOS))
		},
		"json": func(base *http.Transport) http.RoundTripper { return NewTransport(base, WithoutBreaker()) },
		"bare": func(base *http.Transport) http.RoundTripper { return base },
		"retryablehttp": func(base *http.Transport) http.RoundTripper {
			rc := retryablehttp.NewClient()
			rc.Logger = nil
			rc.HTTPClient.Transport = base
			return rc.StandardClient().Transport
		},
	}
	for _, tc := range benchSuccessBodies {
		b.Run(tc.name, func(b *testing.B) {
			length := []string{strconv.Itoa(len(tc.body))}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				h := w.Header()
				h["Content-Type"] = []string{"application/json"}
				h["Content-Length"] = length
				w.Write(tc.body)
			}))
			defer srv.Close()
			for _, c := range consumers {
				b.Run(c.name, func(b *testing.B) {
					for _, name := range []string{"unchecked", "json", "bare", "retryablehttp"} {
						b.Run(name, func(b *testing.B) {
							base := paired.Base()
							defer base.CloseIdleConnections()
							rt := contenders[name](base)
							req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil)
							get := func() error {
								resp, err := rt.RoundTrip(req)
								if err != nil {
									return err
								}
								n, err := c.read(resp.Body)
								resp.Body.Close()
								if err == nil && (resp.StatusCode != http.StatusOK || n != int64(len(tc.body))) {
									err = fmt.Errorf("status %d, read %d bytes of %d", resp.StatusCode, n, len(tc.body))
								}
								return err
							}
							if err := get(); err != nil { // the first response teaches the vendor and opens the connection
								b.Fatal(err)
							}
							b.ResetTimer()
							for i := 0; i < b.N; i++ {
								if err := get(); err != nil {
									b.Fatal(err)
								}
							}
						})
					}
				})
			}
		})
	}
}
