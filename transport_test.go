package memerr

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// step is one scripted answer of a test server.
type step struct {
	status int
	header map[string]string
	body   string
	hijack bool // close the connection without answering
}

func jsonStep(status int, body string) step { return step{status: status, body: body} }

// scripted is an httptest server answering with its steps in order; the
// last step repeats. It records what it received.
type scripted struct {
	*httptest.Server
	hits  atomic.Int32
	conns atomic.Int32 // new connections

	mu     sync.Mutex
	steps  []step
	bodies [][]byte
	at     []time.Time
	reqs   []*http.Request
}

func newScripted(t testing.TB, steps ...step) *scripted {
	t.Helper()
	s := &scripted{steps: steps}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, cs http.ConnState) {
		if cs == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *scripted) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := int(s.hits.Add(1))
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.at = append(s.at, time.Now())
	s.reqs = append(s.reqs, r.Clone(context.Background()))
	st := s.steps[min(n, len(s.steps))-1]
	s.mu.Unlock()
	if st.hijack {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" && strings.HasPrefix(st.body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(st.status)
	io.WriteString(w, st.body)
}

func (s *scripted) Hits() int { return int(s.hits.Load()) }

func (s *scripted) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

func (s *scripted) Times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.at...)
}

// fast are the options of a transport that retries quickly.
func fast(opts ...Option) []Option {
	return append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)
}

func get(t testing.TB, rt http.RoundTripper, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	return rt.RoundTrip(req)
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return string(b)
}

const (
	okCoze    = `{"code":0,"msg":"","data":{"id":"1"}}`
	busyCoze  = `{"code":4009,"msg":"system busy","detail":{"logid":"2024"}}`
	okMemOS   = `{"code":0,"message":"ok","data":{"id":"1"}}`
	downMemOS = `{"code":50004,"message":"memory service unavailable","data":null}`
)

func TestRetryOn(t *testing.T) {
	tests := []struct {
		name   string
		vendor Vendor
		first  step
	}{
		{"network error", Auto, step{hijack: true}},
		{"429", Auto, jsonStep(429, `{"code":429,"msg":"Rate limit exceeded","data":null}`)},
		{"503", Auto, step{status: 503, body: "upstream down"}},
		{"500", Auto, jsonStep(500, `{"success":false,"error":{"code":"INTERNAL_ERROR","message":"boom"}}`)},
		{"coze 4009 in 200", Coze, jsonStep(200, busyCoze)},
		{"memos 50004 in 200", Auto, jsonStep(200, downMemOS)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScripted(t, tc.first, tc.first, jsonStep(200, okCoze))
			tr := NewTransport(nil, fast(WithVendor(tc.vendor))...)
			resp, err := get(t, tr, srv.URL+"/v1/x")
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			assert.Equal(t, okCoze, readAll(t, resp))
			assert.Equal(t, 3, srv.Hits())
		})
	}
}

func TestNoRetryOn(t *testing.T) {
	tests := []struct {
		name   string
		vendor Vendor
		first  step
		status int
		kind   Kind
	}{
		{"memos quota 40301 in 200", Auto, jsonStep(200, `{"code":40301,"message":"token quota used up","data":null}`), 200, KindQuotaExceeded},
		{"tensorheart daily quota 429", Auto, jsonStep(429, `{"success":false,"error":{"code":"DAILY_QUOTA_EXCEEDED","message":"daily quota exceeded"}}`), 429, KindQuotaExceeded},
		{"coze insufficient balance 4011", Coze, jsonStep(200, `{"code":4011,"msg":"insufficient balance"}`), 200, KindInsufficientBalance},
		{"400", Auto, jsonStep(400, `{"error":{"code":"VALIDATION_ERROR","message":"bad"},"meta":{"request_id":"r1"}}`), 400, KindInvalidRequest},
		{"401", Auto, jsonStep(401, `{"code":700012006,"msg":"access token invalid"}`), 401, KindUnauthenticated},
		{"403", Auto, step{status: 403, body: "forbidden"}, 403, KindPermissionDenied},
		{"404", Auto, step{status: 404, body: "not found"}, 404, KindNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScripted(t, tc.first, jsonStep(200, okCoze))
			tr := NewTransport(nil, fast(WithVendor(tc.vendor))...)
			resp, err := get(t, tr, srv.URL)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.first.body, readAll(t, resp), "body handed back intact")
			assert.Equal(t, 1, srv.Hits())

			// The same through a Client: the decoded failure.
			srv.hits.Store(0)
			c := &Client{t: tr, hc: &http.Client{Transport: tr}}
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			_, err = c.Do(req)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.kind, e.Kind)
			assert.Equal(t, 1, e.Attempts)
			assert.Equal(t, 1, srv.Hits())
		})
	}
}

func TestPostRules(t *testing.T) {
	rateLimited := jsonStep(429, `{"code":429,"msg":"slow down","data":null}`)
	tests := []struct {
		name    string
		method  string
		header  string // request header set to "k1"
		mark    bool   // wrapped by Idempotent
		first   step
		retried bool
	}{
		{"POST 429", "POST", "", false, rateLimited, true},
		{"POST 503", "POST", "", false, step{status: 503}, true},
		{"POST 500", "POST", "", false, step{status: 500}, false},
		{"POST 502", "POST", "", false, step{status: 502}, false},
		{"POST 504", "POST", "", false, step{status: 504}, false},
		{"POST dropped connection", "POST", "", false, step{hijack: true}, false},
		{"PATCH 500", "PATCH", "", false, step{status: 500}, false},
		{"POST Idempotency-Key 500", "POST", "Idempotency-Key", false, step{status: 500}, true},
		{"POST X-Idempotency-Key 502", "POST", "X-Idempotency-Key", false, step{status: 502}, true},
		{"POST Idempotency-Key dropped", "POST", "Idempotency-Key", false, step{hijack: true}, true},
		{"POST Idempotent 504", "POST", "", true, step{status: 504}, true},
		{"POST Idempotent dropped", "POST", "", true, step{hijack: true}, true},
		{"PUT 500", "PUT", "", false, step{status: 500}, true},
		{"PUT dropped", "PUT", "", false, step{hijack: true}, true},
		{"DELETE 502", "DELETE", "", false, step{status: 502}, true},
		{"GET 500", "GET", "", false, step{status: 500}, true},
		{"GET dropped", "GET", "", false, step{hijack: true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScripted(t, tc.first, jsonStep(200, okCoze))
			tr := NewTransport(nil, fast()...)
			req, err := http.NewRequest(tc.method, srv.URL, strings.NewReader(`{"q":1}`))
			require.NoError(t, err)
			if tc.header != "" {
				req.Header.Set(tc.header, "k1")
			}
			if tc.mark {
				req = Idempotent(req)
			}
			resp, err := tr.RoundTrip(req)
			if tc.retried {
				require.NoError(t, err)
				assert.Equal(t, 200, resp.StatusCode)
				readAll(t, resp)
				assert.Equal(t, 2, srv.Hits())
				for _, b := range srv.Bodies() {
					assert.Equal(t, `{"q":1}`, string(b))
				}
				return
			}
			if tc.first.hijack {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.first.status, resp.StatusCode)
				readAll(t, resp)
			}
			assert.Equal(t, 1, srv.Hits())
		})
	}
}

// closedPort returns the address of a port nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPostRetriedOnConnectionRefused(t *testing.T) {
	addr := closedPort(t)
	var events []RetryEvent
	tr := NewTransport(nil, fast(WithMaxRetries(2), WithoutBreaker(),
		WithHooks(Hooks{OnRetry: func(ev RetryEvent) { events = append(events, ev) }}))...)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/add", strings.NewReader("x"))
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.Error(t, err)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	assert.Equal(t, "dial", op.Op)
	assert.Len(t, events, 2, "a POST that never reached the server is retried")
	assert.Contains(t, err.Error(), "3 attempts")
}

func TestBodyReplay(t *testing.T) {
	payload := bytes.Repeat([]byte("memory-0123456789\x00\xff"), 300) // 6000 bytes, binary
	tests := []struct {
		name    string
		body    func() io.Reader
		limit   int64
		retried bool
	}{
		{"GetBody from bytes.Reader", func() io.Reader { return bytes.NewReader(payload) }, 10, true},
		{"no GetBody within bound", func() io.Reader { return io.NopCloser(bytes.NewReader(payload)) }, int64(len(payload)), true},
		{"no GetBody beyond bound", func() io.Reader { return io.NopCloser(bytes.NewReader(payload)) }, int64(len(payload)) - 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newScripted(t, step{status: 503}, step{status: 503}, jsonStep(200, okCoze))
			tr := NewTransport(nil, fast(WithMaxReplayBody(tc.limit))...)
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/m?x=1", tc.body())
			require.NoError(t, err)
			req.Header.Set("X-Test", "a")
			before := *req
			beforeHeader := req.Header.Clone()
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			readAll(t, resp)

			want := 3
			if !tc.retried {
				want = 1
				assert.Equal(t, 503, resp.StatusCode)
			}
			require.Equal(t, want, srv.Hits())
			for i, b := range srv.Bodies() {
				assert.True(t, bytes.Equal(payload, b), "attempt %d body differs", i+1)
			}

			// The caller's request is unchanged.
			assert.Equal(t, beforeHeader, req.Header)
			assert.True(t, before.Body == req.Body, "Body pointer")
			assert.True(t, before.URL == req.URL, "URL pointer")
			assert.Equal(t, "http", req.URL.Scheme)
			assert.Equal(t, "x=1", req.URL.RawQuery)
			assert.Equal(t, before.ContentLength, req.ContentLength)
			assert.Equal(t, before.Method, req.Method)
			assert.True(t, before.Context() == req.Context(), "context")
			assert.Equal(t, before.Host, req.Host)
			assert.Equal(t, before.TransferEncoding, req.TransferEncoding)
			assert.Equal(t, before.Close, req.Close)
		})
	}
}

func TestFinalResponseReadable(t *testing.T) {
	body := `{"code":50004,"message":"memory service unavailable","data":null}`
	srv := newScripted(t, jsonStep(503, body))
	base := &recordingBase{rt: http.DefaultTransport.(*http.Transport).Clone()}
	tr := NewTransport(base, fast(WithMaxRetries(2))...)
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err, "the last response comes back, not an error")
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, body, readAll(t, resp), "readable from the first byte")
	assert.Equal(t, 3, srv.Hits())
	// go-retryablehttp closes the whole pool when it gives up; we do not.
	assert.Zero(t, base.closeIdle.Load(), "CloseIdleConnections on giving up")
}

// recordingBase is a base transport that records CloseIdleConnections.
type recordingBase struct {
	rt        http.RoundTripper
	closeIdle atomic.Int32
}

func (b *recordingBase) RoundTrip(r *http.Request) (*http.Response, error) { return b.rt.RoundTrip(r) }
func (b *recordingBase) CloseIdleConnections()                             { b.closeIdle.Add(1) }

func TestCloseIdleConnectionsForwards(t *testing.T) {
	base := &recordingBase{rt: http.DefaultTransport}
	tr := NewTransport(base)
	tr.CloseIdleConnections()
	assert.Equal(t, int32(1), base.closeIdle.Load())
	// A base without the method is fine too.
	NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("x") })).CloseIdleConnections()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConnectionReusedAcrossRetries(t *testing.T) {
	big := fmt.Sprintf(`{"code":50004,"message":"unavailable","data":{"pad":%q}}`, strings.Repeat("x", 8<<10))
	srv := newScripted(t, jsonStep(503, big), jsonStep(503, big), jsonStep(503, big), jsonStep(200, okMemOS))
	tr := NewTransport(nil, fast()...)
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	assert.Equal(t, 4, srv.Hits())
	assert.Equal(t, int32(1), srv.conns.Load(), "one connection for all attempts")
}

func TestLargeSuccessBodyNotBuffered(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			release := make(chan struct{})
			first := bytes.Repeat([]byte("a"), PeekLimit+1024)
			rest := bytes.Repeat([]byte("b"), 1<<20)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if !chunked {
					w.Header().Set("Content-Length", fmt.Sprint(len(first)+len(rest)))
				}
				w.WriteHeader(200)
				w.Write(first)
				http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				w.Write(rest)
			}))
			defer srv.Close()
			defer close(release)

			tr := NewTransport(nil, WithVendor(Coze))
			done := make(chan *http.Response, 1)
			go func() {
				resp, err := get(t, tr, srv.URL)
				if err == nil {
					done <- resp
				}
				close(done)
			}()
			var resp *http.Response
			select {
			case resp = <-done:
			case <-time.After(2 * time.Second):
				t.Fatal("RoundTrip waited for the whole body")
			}
			require.NotNil(t, resp)
			release <- struct{}{}
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, len(first)+len(rest), len(b))
			assert.True(t, bytes.Equal(first, b[:len(first)]))
		})
	}
}

func TestEventStreamNotReadAhead(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, "event: message\ndata: {\"code\":0}\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	tr := NewTransport(nil, WithVendor(Coze))
	start := time.Now()
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Less(t, time.Since(start), time.Second)
	line := make([]byte, len("event: message\n"))
	_, err = io.ReadFull(resp.Body, line)
	require.NoError(t, err)
	assert.Equal(t, "event: message\n", string(line))
}

func TestRedirectsNotFollowedInside(t *testing.T) {
	var target atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusFound)
			return
		}
		target.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okCoze)
	}))
	defer srv.Close()
	tr := NewTransport(nil)

	noFollow := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(srv.URL + "/old")
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/new", resp.Header.Get("Location"))
	assert.Zero(t, target.Load())

	follow := &http.Client{Transport: tr}
	resp, err = follow.Get(srv.URL + "/old")
	require.NoError(t, err)
	assert.Equal(t, okCoze, readAll(t, resp))
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "/new", resp.Request.URL.Path)
	assert.Equal(t, int32(1), target.Load())
}

// countedBodies is a GetBody that opens a fresh body each call, as one
// that opens a file does, and counts the opened and the closed.
type countedBodies struct{ opened, closed atomic.Int32 }

func (c *countedBodies) get() (io.ReadCloser, error) {
	c.opened.Add(1)
	return &closeCounted{Reader: strings.NewReader(`{"text":"likes tea"}`), closed: &c.closed}, nil
}

type closeCounted struct {
	io.Reader
	closed *atomic.Int32
}

func (b *closeCounted) Close() error { b.closed.Add(1); return nil }

func TestRedirectResponsesHandedBackAsSent(t *testing.T) {
	// RoundTrip hands a 3xx back as the server sent it, as a bare
	// http.Transport does (a reverse proxy relays it): it neither opens a
	// body for a redirect it does not follow nor reads the Location.
	for _, tc := range []struct {
		status   int
		location string
	}{
		{http.StatusTemporaryRedirect, "/new"},
		{http.StatusPermanentRedirect, "https://other.example/new"},
		{http.StatusFound, "http://[::1"}, // unparsable
		{http.StatusSeeOther, "/%zz"},     // a bad escape
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.location), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header()["Location"] = []string{tc.location}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			var bodies countedBodies
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/old", strings.NewReader(`{"text":"likes tea"}`))
			req.GetBody = bodies.get
			resp, err := NewTransport(nil).RoundTrip(req)
			require.NoError(t, err)
			readAll(t, resp)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, []string{tc.location}, resp.Header["Location"])
			assert.Equal(t, bodies.opened.Load(), bodies.closed.Load(), "every body opened is closed")
		})
	}
}

func TestLoggingAndSecrets(t *testing.T) {
	const key = "sk-live-4f9a8b7c6d5e4f3a2b1c"
	const qkey = "qk9f8e7d6c5b4a39281"
	const pass = "hunter2pass"
	echo := fmt.Sprintf(`{"code":5000,"msg":"invalid key %s (query %s, pass %s)"}`, key, qkey, pass)
	srv := newScripted(t, jsonStep(503, echo))

	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	c := NewClient(fast(WithVendor(Coze), WithLogger(logger),
		WithBreaker(BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour}))...)

	u := strings.Replace(srv.URL, "http://", "http://user:"+pass+"@", 1) + "/v1/chat?api_key=" + qkey
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	_, err = c.Do(req)
	require.Error(t, err)

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	t.Log(out)
	assert.Contains(t, out, "memerr: retrying request")
	assert.Contains(t, out, "method=GET")
	assert.Contains(t, out, "url="+srv.URL+"/v1/chat ")
	assert.Contains(t, out, "status=503")
	assert.Contains(t, out, "code=5000")
	assert.Contains(t, out, "attempt=1")
	assert.Contains(t, out, "wait=")
	assert.Contains(t, out, "circuit breaker open")
	assert.Contains(t, out, "to=open")
	for _, secret := range []string{key, qkey, pass, "api_key"} {
		assert.NotContains(t, out, secret)
		assert.NotContains(t, err.Error(), secret)
	}

	// The breaker is now open: the error without a response is clean too.
	req2, _ := http.NewRequest(http.MethodGet, u, nil)
	req2.Header.Set("Authorization", "Bearer "+key)
	_, err = c.Do(req2)
	require.ErrorIs(t, err, ErrCircuitOpen)
	for _, secret := range []string{key, qkey, pass, "api_key"} {
		assert.NotContains(t, err.Error(), secret)
	}

	// A network error with credentials and a query in the URL: neither
	// the log nor the error quotes the URL's query.
	mu.Lock()
	buf.Reset()
	mu.Unlock()
	var events []RetryEvent
	c2 := NewClient(fast(WithMaxRetries(1), WithLogger(logger), WithHooks(Hooks{OnRetry: func(ev RetryEvent) { events = append(events, ev) }}))...)
	req3, _ := http.NewRequest(http.MethodGet, "http://user:"+pass+"@"+closedPort(t)+"/x?api_key="+qkey+"&q=private-words", nil)
	_, err = c2.Do(req3)
	require.Error(t, err)
	mu.Lock()
	out = buf.String()
	mu.Unlock()
	t.Log(out)
	assert.Contains(t, out, "connection refused")
	require.Len(t, events, 1)
	for _, secret := range []string{qkey, pass, "api_key", "private-words"} {
		assert.NotContains(t, err.Error(), secret)
		assert.NotContains(t, out, secret)
		assert.NotContains(t, events[0].Err.Error(), secret)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logRecorder is a logger at Debug level and a reader of the lines it has
// written so far, safe while the Transport logs from other goroutines.
func logRecorder() (*slog.Logger, func() string) {
	var buf bytes.Buffer
	var mu sync.Mutex
	l := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return l, func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

func TestHostHeaderAndResponseRequest(t *testing.T) {
	var hosts []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		w.WriteHeader(503)
	}))
	defer srv.Close()
	tr := NewTransport(nil, fast(WithMaxRetries(1))...)

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Host = "api.example.test"
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Same(t, req, resp.Request, "the response names the caller's request")
	assert.Equal(t, "api.example.test", req.Host)

	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err = tr.RoundTrip(req)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, srv.Listener.Addr().String(), req.Host, "caller's Host untouched")
	assert.Equal(t, []string{"api.example.test", "api.example.test", srv.Listener.Addr().String(), srv.Listener.Addr().String()}, hosts)
}

func TestSilentByDefault(t *testing.T) {
	tr := NewTransport(nil)
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
	c, err := tr.newCall(req)
	require.NoError(t, err)
	assert.Nil(t, c.rc.Logger, "go-retryablehttp's default logger prints to stderr")
	assert.Nil(t, tr.cfg.logger)
}

func TestConcurrentRequests(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1)%3 == 0 {
			w.WriteHeader(503)
			io.WriteString(w, downMemOS)
			return
		}
		io.WriteString(w, okMemOS)
	}))
	defer srv.Close()
	tr := NewTransport(nil, fast(WithMaxRetries(5), WithoutBreaker())...)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"n":%d}`, i)
			req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader(body))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != okMemOS {
				errs <- fmt.Errorf("status %d body %q", resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHostVendor(t *testing.T) {
	// {"code":4009,"msg":...} is detected as Coze's "system busy", retried;
	// declared as MemOS it is an unknown MemOS code, not retried.
	busy := jsonStep(200, `{"code":4009,"message":"no"}`)
	srv := newScripted(t, busy, jsonStep(200, okCoze))
	host := srv.Listener.Addr().String()

	tr := NewTransport(nil, fast()...)
	resp, err := get(t, tr, srv.URL)
	require.NoError(t, err)
	assert.Equal(t, okCoze, readAll(t, resp))
	assert.Equal(t, 2, srv.Hits(), "detected Coze: retried")

	srv.hits.Store(0)
	tr = NewTransport(nil, fast(WithHostVendor(host, MemOS))...)
	resp, err = get(t, tr, srv.URL)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, 1, srv.Hits(), "host declared MemOS: not retryable")

	srv.hits.Store(0)
	_, port, _ := net.SplitHostPort(host)
	tr = NewTransport(nil, fast(WithHostVendor("127.0.0.1", MemOS), WithHostVendor("other:"+port, Coze))...)
	resp, err = get(t, tr, srv.URL)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, 1, srv.Hits(), "host without port matches too")
}

func TestLogsWhyNotRetried(t *testing.T) {
	srv := newScripted(t, jsonStep(429, `{"code":429,"msg":"slow down","data":null}`))
	logger, logs := logRecorder()
	c := NewClient(fast(WithLogger(logger), WithRetryBudget(NewRetryBudget(4, 5)))...)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/x?api_key=sk-live-SECRET123456", nil)
	require.NoError(t, err)
	_, err = c.Do(req)
	require.ErrorIs(t, err, ErrRateLimited)
	out := logs()
	assert.Contains(t, out, "memerr: not retrying")
	assert.Contains(t, out, `reason="retry budget exhausted"`)
	assert.NotContains(t, out, "SECRET")
}

func TestReadAheadOnlyForVendorsWithErrorsIn2xx(t *testing.T) {
	const body = `{"code":4009,"msg":"busy","data":null}`
	for _, tc := range []struct {
		vendor    Vendor
		readAhead bool
	}{
		{Auto, true}, {Coze, true}, {MemOS, true},
		{Tensorheart, false}, {MemoryOS, false}, {MemoriesAI, false},
	} {
		t.Run(tc.vendor.String(), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			tr := NewTransport(nil, WithVendor(tc.vendor), WithMaxRetries(0))
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			require.NoError(t, err)
			_, inspected := resp.Body.(*inspectedBody)
			assert.Equal(t, tc.readAhead, inspected)
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, body, string(got), "the body is handed on intact either way")
			resp.Body.Close()

			// Client.Do still finds the in-body error, read ahead or not.
			c := NewClient(WithVendor(tc.vendor), WithMaxRetries(0))
			_, err = c.Do(req)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "4009", e.Code)
			assert.Equal(t, 1, e.Attempts)
		})
	}
}

// The faults below were found by an adversarial review (issue 12, item 8);
// each test failed before its fix.

func TestHugeLimitsWork(t *testing.T) {
	t.Run("WithMaxReplayBody(MaxInt64) sends the body", func(t *testing.T) {
		srv := newScripted(t, jsonStep(200, okCoze))
		tr := NewTransport(nil, WithMaxReplayBody(math.MaxInt64))
		req, _ := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("hello")))
		req.GetBody = nil
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		readAll(t, resp)
		require.Len(t, srv.Bodies(), 1)
		assert.Equal(t, "hello", string(srv.Bodies()[0]))
	})
	t.Run("WithMaxErrorBody(MaxInt64) decodes a 400", func(t *testing.T) {
		srv := newScripted(t, jsonStep(400, `{"code":4000,"msg":"bad parameter"}`))
		c := NewClient(WithMaxErrorBody(math.MaxInt64))
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		_, err := c.Do(req)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, KindInvalidRequest, e.Kind)
		assert.Equal(t, "bad parameter", e.Message)
	})
	t.Run("Decoder{MaxErrorBody: MaxInt64} decodes a 400", func(t *testing.T) {
		resp := &http.Response{StatusCode: 400, Header: http.Header{"Content-Type": {"application/json"}},
			ContentLength: -1, Body: io.NopCloser(strings.NewReader(`{"code":4000,"msg":"bad parameter"}`))}
		err := Decoder{MaxErrorBody: math.MaxInt64}.Decode(resp)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "bad parameter", e.Message)
	})
}

func TestCancelledDuringWaitGetsContextError(t *testing.T) {
	big := strings.Repeat("x", 3<<20)
	srv := newScripted(t, step{status: 503, header: map[string]string{"Retry-After": "2", "Content-Type": "text/plain"}, body: big})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel as the wait begins: no timing involved.
	tr := NewTransport(nil, WithHooks(Hooks{OnRetry: func(RetryEvent) { cancel() }}))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if resp != nil {
		got := readAll(t, resp)
		assert.Equal(t, len(big), len(got), "a body is never cut short")
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, resp)
	assert.Equal(t, 1, srv.Hits())
}

func TestGetBodyFailureKeepsLastResponse(t *testing.T) {
	srv := newScripted(t, step{status: 503, body: "down"}, jsonStep(200, okCoze))
	tr := NewTransport(nil, fast()...)
	req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("payload"))
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("body source gone") }
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err, "the server's response, not the rewind error")
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "down", readAll(t, resp))
	assert.Equal(t, 1, srv.Hits())
}

// failingReader fails after sending a few bytes, like a file on a bad disk.
type failingReader struct {
	sent bool
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "partial"), nil
	}
	return 0, r.err
}

func TestCallerBodyReadErrorIsTheCallers(t *testing.T) {
	diskErr := errors.New("disk read error")
	for _, withGetBody := range []bool{true, false} {
		t.Run(fmt.Sprintf("GetBody %v", withGetBody), func(t *testing.T) {
			srv := newScripted(t, jsonStep(200, okCoze))
			c := NewClient(fast(WithBreaker(BreakerSettings{ConsecutiveFailures: 2}))...)
			for i := 0; i < 5; i++ {
				req, _ := http.NewRequest(http.MethodPut, srv.URL, &failingReader{err: diskErr})
				req.ContentLength = 100
				if withGetBody {
					req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(&failingReader{err: diskErr}), nil }
				}
				_, err := c.Do(req)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.ErrorIs(t, err, diskErr)
				assert.NotErrorIs(t, err, ErrCircuitOpen)
				assert.Equal(t, KindUnknown, e.Kind, "the caller's own error says nothing of the server")
				assert.Equal(t, 1, e.Attempts, "never retried")
			}
			st, _ := c.Transport().BreakerState(srv.URL)
			assert.Equal(t, CircuitClosed, st, "never counted against the host")
		})
	}
}

func TestContentLengthMismatchIsTheCallers(t *testing.T) {
	// A body shorter than the request's ContentLength is the caller's
	// bug: net/http refuses to send it, every time. It is not a network
	// failure to retry, nor a failure of the host to count. (A longer one
	// fails too, but the server may answer after the declared bytes.)
	for _, withGetBody := range []bool{true, false} {
		t.Run(fmt.Sprintf("GetBody %v", withGetBody), func(t *testing.T) {
			srv := newScripted(t, jsonStep(200, okCoze))
			c := NewClient(fast(WithBreaker(BreakerSettings{ConsecutiveFailures: 2}))...)
			for i := 0; i < 3; i++ {
				req, _ := http.NewRequest(http.MethodPut, srv.URL, io.NopCloser(strings.NewReader("hello")))
				req.ContentLength = 10
				if withGetBody {
					req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("hello")), nil }
				}
				_, err := c.Do(req)
				var e *Error
				require.ErrorAs(t, err, &e)
				var be *BodyError
				assert.ErrorAs(t, err, &be)
				assert.NotErrorIs(t, err, ErrCircuitOpen)
				assert.Equal(t, KindUnknown, e.Kind, "the caller's own error says nothing of the server")
				assert.Equal(t, 1, e.Attempts, "never retried")
			}
			st, _ := c.Transport().BreakerState(srv.URL)
			assert.Equal(t, CircuitClosed, st, "never counted against the host")
		})
	}
}

func TestStreamingJSONNotHeldBack(t *testing.T) {
	for _, ct := range []string{"application/json", "Application/JSON; charset=UTF-8", "application/json-seq", "application/jsonl", "application/x-ndjson"} {
		t.Run(ct, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, `{"code":0,"msg":"","data":{"id":"1"}}`+"\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
				io.WriteString(w, `{"code":0,"msg":"","data":{"id":"2"}}`+"\n")
			}))
			defer srv.Close()
			defer close(release)
			tr := NewTransport(nil, WithVendor(Coze))
			type result struct {
				resp *http.Response
				err  error
			}
			done := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
				resp, err := tr.RoundTrip(req)
				done <- result{resp, err}
			}()
			select {
			case r := <-done:
				require.NoError(t, r.err)
				defer r.resp.Body.Close()
				line := make([]byte, 64)
				n, _ := io.ReadAtLeast(r.resp.Body, line, 10)
				assert.Contains(t, string(line[:n]), `"id":"1"`, "the first part reaches the caller while the stream is open")
			case <-time.After(10 * time.Second):
				t.Fatal("the response was held back until the stream ended")
			}
		})
	}
}

func TestSwitchingProtocolsAfterRetryKeepsWritableBody(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(503)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		buf := make([]byte, 4)
		n, _ := io.ReadFull(brw, buf)
		conn.Write(buf[:n])
	}))
	defer srv.Close()
	tr := NewTransport(nil, fast()...)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, int32(2), hits.Load())
	rw, ok := resp.Body.(io.ReadWriteCloser)
	require.True(t, ok, "the upgraded connection is writable")
	defer rw.Close()
	_, err = rw.Write([]byte("ping"))
	require.NoError(t, err)
	got := make([]byte, 4)
	_, err = io.ReadFull(rw, got)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(got))
}

func TestCallerGzipBodyNeverPrinted(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(busyCoze))
	zw.Close()
	srv := newScripted(t, step{status: 500, header: map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/json"}, body: zipped.String()})
	var attempts []AttemptEvent
	c := NewClient(fast(WithMaxRetries(1), WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) { attempts = append(attempts, ev) }}))...)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")

	resp, err := c.HTTPClient().Do(req)
	require.NoError(t, err)
	assert.Equal(t, zipped.String(), readAll(t, resp), "the caller gets the bytes the server sent")

	req, _ = http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	_, err = c.Do(req)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "system busy", e.Message, "the in-body error is found in the gzip body")
	assert.Equal(t, "4009", e.Code)
	require.NotEmpty(t, attempts)
	for _, ev := range attempts {
		assert.NotContains(t, ev.Err.Error(), "\x1f\x8b", "no gzip bytes in a message")
		assert.Contains(t, ev.Err.Error(), "system busy")
	}
}

// blackHole is a TCP listener that accepts connections and never answers.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestAttemptTimeout(t *testing.T) {
	t.Run("a black-holed host opens the circuit", func(t *testing.T) {
		addr := blackHole(t)
		c := NewClient(WithMaxRetries(0), WithAttemptTimeout(20*time.Millisecond))
		var last error
		for i := 0; i < 30; i++ {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			_, last = c.Do(req)
			require.Error(t, last)
			if i == 0 {
				var ate *AttemptTimeoutError
				require.ErrorAs(t, last, &ate)
				assert.ErrorIs(t, last, context.DeadlineExceeded)
				var e *Error
				require.ErrorAs(t, last, &e)
				assert.Equal(t, KindUnavailable, e.Kind, "the host did not answer: not the caller's doing")
			}
		}
		assert.ErrorIs(t, last, ErrCircuitOpen)
		state, _ := c.Transport().BreakerState("http://" + addr)
		assert.Equal(t, CircuitOpen, state)
	})

	t.Run("a timed-out attempt is retried", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				<-r.Context().Done() // the first attempt hangs until it is cut
				return
			}
			io.WriteString(w, okCoze)
		}))
		defer srv.Close()
		tr := NewTransport(nil, fast(WithAttemptTimeout(100*time.Millisecond))...)
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		assert.Equal(t, okCoze, readAll(t, resp), "the body outlives the attempt's timer")
		assert.GreaterOrEqual(t, hits.Load(), int32(2))
	})

	t.Run("a timeout while a 2xx body is read ahead is retried", func(t *testing.T) {
		// The headers come at once, the body stops after 10 bytes: the
		// read-ahead is part of the attempt, so the cut attempt is retried
		// instead of handing the caller a success whose body fails.
		srv, hits := stallFirst(t, okCoze, 10)
		var attempts []AttemptEvent
		tr := NewTransport(nil, fast(WithAttemptTimeout(100*time.Millisecond),
			WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) { attempts = append(attempts, ev) }}))...)
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		assert.Equal(t, okCoze, readAll(t, resp), "the body of the attempt that answered in time")
		assert.GreaterOrEqual(t, hits.Load(), int32(2))
		require.GreaterOrEqual(t, len(attempts), 2)
		var ate *AttemptTimeoutError
		assert.ErrorAs(t, attempts[0].Err, &ate, "the first attempt timed out")
	})

	t.Run("a timeout within the first bytes of a larger body is retried", func(t *testing.T) {
		// Coze named: the read-ahead stops after the first bytes when
		// they confirm the call, but the body stops before them.
		body := string(cozeBody(4096))
		srv, hits := stallFirst(t, body, 8)
		tr := NewTransport(nil, fast(WithVendor(Coze), WithAttemptTimeout(100*time.Millisecond))...)
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		assert.Equal(t, body, readAll(t, resp))
		assert.GreaterOrEqual(t, hits.Load(), int32(2))
	})

	t.Run("a POST that timed out is not retried", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			io.ReadAll(r.Body) // so that the server sees the client go
			<-r.Context().Done()
		}))
		defer srv.Close()
		tr := NewTransport(nil, fast(WithAttemptTimeout(20*time.Millisecond))...)
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
		_, err := tr.RoundTrip(req)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		// Sent once at most: it may have reached the server (or, on a
		// loaded machine, timed out before), and may have been applied.
		assert.LessOrEqual(t, hits.Load(), int32(1), "the server may have acted")
	})

	t.Run("a large body stays readable after the attempt", func(t *testing.T) {
		big := strings.Repeat("y", 64<<10)
		srv := newScripted(t, step{status: 200, header: map[string]string{"Content-Type": "application/octet-stream"}, body: big})
		tr := NewTransport(nil, WithAttemptTimeout(time.Minute))
		resp, err := get(t, tr, srv.URL)
		require.NoError(t, err)
		assert.Equal(t, len(big), len(readAll(t, resp)))
	})
}

func TestOnAttempt(t *testing.T) {
	srv := newScripted(t,
		step{status: 200, header: map[string]string{"X-Tt-Logid": "2024A"}, body: busyCoze},
		step{status: 200, header: map[string]string{"X-Tt-Logid": "2024B"}, body: okCoze})
	var mu sync.Mutex
	var events []AttemptEvent
	tr := NewTransport(nil, fast(WithVendor(Coze), WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}}))...)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/chat?api_key=sk-secret", nil)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	readAll(t, resp)
	require.Len(t, events, 2)
	host := canonicalHost(mustURL(t, srv.URL))
	first, second := events[0], events[1]
	assert.Equal(t, 1, first.Attempt)
	assert.Equal(t, 2, second.Attempt)
	for _, ev := range events {
		assert.Equal(t, http.MethodGet, ev.Method)
		assert.Equal(t, srv.URL+"/v1/chat", ev.URL, "no query")
		assert.Equal(t, host, ev.Host)
		assert.Equal(t, 200, ev.StatusCode)
		assert.GreaterOrEqual(t, ev.Duration, time.Duration(0))
	}
	var e *Error
	require.ErrorAs(t, first.Err, &e)
	assert.Equal(t, "4009", e.Code)
	assert.Equal(t, "2024", first.RequestID, "the decoded error's request id")
	assert.NoError(t, second.Err)
	assert.Equal(t, "2024B", second.RequestID, "the header's request id")

	t.Run("refused by the breaker", func(t *testing.T) {
		var got []AttemptEvent
		tr := NewTransport(nil, WithMaxRetries(0), WithBreaker(BreakerSettings{ConsecutiveFailures: 1}),
			WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) { got = append(got, ev) }}))
		srv := newScripted(t, step{status: 503, body: "down"})
		for i := 0; i < 2; i++ {
			resp, err := get(t, tr, srv.URL)
			if err == nil {
				readAll(t, resp)
			}
		}
		require.Len(t, got, 2)
		assert.Equal(t, 503, got[0].StatusCode)
		assert.Zero(t, got[1].StatusCode)
		assert.ErrorIs(t, got[1].Err, ErrCircuitOpen)
	})
}

func TestZeroTransport(t *testing.T) {
	srv := newScripted(t, step{status: 503, body: "down"}, jsonStep(200, okCoze))
	var tr Transport
	tr.rand = func(int64) int64 { return 0 }
	recorded := waits(&tr)
	resp, err := get(t, &tr, srv.URL)
	require.NoError(t, err)
	assert.Equal(t, okCoze, readAll(t, resp), "retried as NewTransport(nil) would")
	assert.Equal(t, []time.Duration{DefaultBackoffMin}, recorded())
	state, ok := tr.BreakerState(srv.URL)
	require.True(t, ok)
	assert.Equal(t, CircuitClosed, state)
	tr.CloseIdleConnections()
}

func TestOtherEncodingsClassifiedByStatus(t *testing.T) {
	srv := newScripted(t, step{status: 503, header: map[string]string{"Content-Encoding": "br", "Content-Type": "application/json"}, body: "\x1b\x2c\x00\xf8\xa5\x9c"})
	c := NewClient(WithMaxRetries(0))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "br")
	_, err := c.Do(req)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, KindUnavailable, e.Kind, "by its status")
	assert.NotContains(t, e.Error(), "\x1b\x2c", "compressed bytes are never a message")
}

// WithHostVendor compares host names without regard to case, as DNS
// does; a host given without its port matches it on any port.
func TestHostVendorIgnoresCase(t *testing.T) {
	c := config{}
	WithHostVendor("API.Coze.com", Coze)(&c)
	WithHostVendor("localhost:8080", MemOS)(&c)
	WithHostVendor("::1", Tensorheart)(&c)
	for raw, want := range map[string]Vendor{
		"https://api.coze.com/v3/chat":     Coze,
		"https://API.COZE.COM:443/v3/chat": Coze,
		"http://LocalHost:8080/x":          MemOS,
		"http://localhost:8081/x":          Auto,
		"http://[::1]:9000/x":              Tensorheart,
		"https://api.coze.cn/v3/chat":      Auto,
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		assert.Equal(t, want, c.vendorFor(u), raw)
	}
}

// TestLogsCarryTheRequestID: the lines that say a failed attempt is
// retried, or not, carry the vendor's request id, which its support asks
// for, scrubbed of the key a server may echo in it.
func TestLogsCarryTheRequestID(t *testing.T) {
	const key = "sk-live-4f9a8b7c6d5e4f3a2b1c"
	srv := newScripted(t,
		step{status: 503, header: map[string]string{"X-Tt-Logid": cozeLogID}, body: `{"code":4009,"msg":"busy"}`},
		step{status: 400, header: map[string]string{"X-Tt-Logid": "log-" + key}, body: `{"code":4000,"msg":"bad"}`})
	logger, logs := logRecorder()
	c := NewClient(fast(WithVendor(Coze), WithLogger(logger), WithoutBreaker())...)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v3/chat", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	_, err = c.Do(req)
	require.Error(t, err)

	out := logs()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	assert.Contains(t, lines[0], "memerr: retrying request")
	assert.Contains(t, lines[0], "request_id="+cozeLogID)
	assert.Contains(t, lines[1], "memerr: not retrying")
	assert.Contains(t, lines[1], "request_id=log-[redacted]")
	assert.NotContains(t, out, key)
}

// TestCancelWhileBufferingBody: a request body without GetBody is read
// ahead so it can be replayed; a caller who cancels while that read
// blocks (a pipe whose writer stalls) gets context.Canceled at once, as
// from net/http's own transport, instead of waiting on the reader.
func TestCancelWhileBufferingBody(t *testing.T) {
	srv := newScripted(t, jsonStep(200, `{}`))
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/memories", io.NopCloser(pr))
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	done := make(chan error, 1)
	go func() {
		resp, err := NewTransport(nil, WithoutBreaker()).RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, srv.hits.Load(), "nothing was sent")
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip still reads the body after its context was cancelled")
	}
}

// TestCutSuccessBodyIsRetried: a 2xx body that breaks while the Transport
// reads it ahead (the server closes the connection short of its
// Content-Length) fails the attempt as a broken connection does: a GET is
// retried and gets the whole body; a POST, which the server acted on, is
// not, and its caller gets the read error instead of a body that breaks.
func TestCutSuccessBodyIsRetried(t *testing.T) {
	cut := step{status: 200, header: map[string]string{"Content-Length": "500"}, body: `{"code":0,"msg":"","data":{"id":"m1","text":"the user likes green tea`}
	whole := jsonStep(200, `{"code":0,"msg":"","data":{"id":"m1"}}`)

	srv := newScripted(t, cut, whole)
	c := NewClient(fast()...)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories/m1", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, whole.body, string(body))
	assert.Equal(t, 2, srv.Hits())

	srv = newScripted(t, cut, whole)
	req, err = http.NewRequest(http.MethodPost, srv.URL+"/v1/memories", strings.NewReader(`{"text":"x"}`))
	require.NoError(t, err)
	_, err = c.Do(req)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, 1, srv.Hits(), "the server acted: not sent again")
}

// stallFirst is a server that sends body as JSON with its length; to the
// first request it sends only the first n bytes, then waits for the client
// to go. hits counts the requests.
func stallFirst(t *testing.T, body string, n int) (srv *httptest.Server, hits *atomic.Int32) {
	t.Helper()
	hits = new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if hits.Add(1) == 1 {
			io.WriteString(w, body[:n])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}
