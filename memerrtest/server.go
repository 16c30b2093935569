package memerrtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memerr/memerr"
)

// Server is a fake vendor API on a local address, built on
// net/http/httptest. It serves scripted Responses in order: for each
// request, the next Response queued for the request's exact URL path
// (EnqueuePath), else the next of the default queue (Enqueue), else the
// fallback (SetFallback). It records every request it receives.
//
// All methods are safe for concurrent use. Close it when done.
type Server struct {
	// URL is the base URL of the server, "http://127.0.0.1:port" (https
	// for NewTLSServer), without a trailing slash.
	URL string

	ts       *httptest.Server
	ids      idSource
	stopped  context.Context // canceled by Close: ends every wait and every read or write
	stop     context.CancelFunc
	closed   sync.Once
	conns    atomic.Int64
	handlers sync.WaitGroup // running handlers, hijacked connections included

	mu       sync.Mutex
	queue    []Response
	paths    map[string][]Response
	fallback Response
	requests []Request
}

// Request is one request a Server received, copied: changing it changes
// nothing in the Server. It holds the request's credentials as sent (so a
// test can check them); printed with %v or %s it shows none of them.
type Request struct {
	Method     string      // the request's method
	Path       string      // the URL path, as in http.Request.URL.Path
	Query      url.Values  // the parsed query string; empty, not nil, when there is none
	Header     http.Header // the request's headers, credentials included
	Body       []byte      // the whole request body; empty, not nil, when there is none
	Host       string      // the Host header, as http.Request.Host
	RemoteAddr string      // the client's address: the same value means the same connection
	Time       time.Time   // when the request's body had been read

	// Fallback is true when no queued Response was left for the request
	// and the fallback answered it: a test that enqueued too few finds
	// the requests it did not script here. Printed, the request says
	// "served the fallback".
	Fallback bool
}

// Option configures NewServer and NewTLSServer.
type Option func(*config)

type config struct {
	fallback    Response
	fallbackSet bool
	vendor      memerr.Vendor
}

// WithVendor makes the default fallback v's success envelope with an empty
// object as data: Success(v, map[string]any{}). Without it the server's
// vendor is memerr.Coze.
func WithVendor(v memerr.Vendor) Option {
	return func(c *config) { c.vendor = v }
}

// WithFallback sets the Response served when the queues are empty, as
// SetFallback does. It overrides WithVendor's default fallback.
func WithFallback(r Response) Option {
	return func(c *config) { c.fallback, c.fallbackSet = r, true }
}

// NewServer starts a Server on a local loopback address, speaking HTTP/1.1.
// With no option its fallback is Success(memerr.Coze, map[string]any{}):
// {"code":0,"msg":"","data":{}}, which every memerr decoder reads as
// success.
func NewServer(opts ...Option) *Server {
	return start(false, opts)
}

// NewTLSServer is NewServer over TLS with a self-signed certificate; the
// *http.Client returned by Client trusts it.
func NewTLSServer(opts ...Option) *Server {
	return start(true, opts)
}

func start(tls bool, opts []Option) *Server {
	cfg := config{vendor: memerr.Coze}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.fallbackSet {
		cfg.fallback = Success(cfg.vendor, map[string]any{})
	}
	s := &Server{
		paths:    map[string][]Response{},
		fallback: cfg.fallback,
		ids:      idSource{prefix: rand.Uint32()},
	}
	s.stopped, s.stop = context.WithCancel(context.Background())
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if tls {
		s.ts.StartTLS()
	} else {
		s.ts.Start()
	}
	s.URL = s.ts.URL
	return s
}

// Client returns an *http.Client configured for the server (trusting its
// certificate for NewTLSServer). Close closes its idle connections.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close ends every request in flight at once, closing its connection:
// a delayed or trickling response, a response body the client does not
// read, a request body still arriving. It shuts the server down and waits
// until every handler has returned. It leaves no goroutine behind.
// Calling it again does nothing.
func (s *Server) Close() {
	s.closed.Do(func() {
		s.stop()
		s.ts.Close()
		// httptest forgets hijacked connections: wait for their handlers
		// (a dropped or truncated response) too. No request can start
		// any more, so Wait does not race with Add.
		s.handlers.Wait()
	})
}

// Enqueue appends rs to the default queue, served in order to requests
// of any path that has nothing queued of its own.
func (s *Server) Enqueue(rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, rs...)
}

// EnqueuePath appends rs to the queue of one URL path ("/v1/memories",
// compared exactly with the request's URL.Path, without the query). A
// request to that path is served from this queue first, then from the
// default queue, then the fallback. It panics on a path no request can
// have (one not starting with "/", or holding a query), which would
// otherwise stay queued while the fallback answered.
func (s *Server) EnqueuePath(path string, rs ...Response) {
	if !strings.HasPrefix(path, "/") || strings.Contains(path, "?") {
		panic(fmt.Sprintf("memerrtest: EnqueuePath: %q is not a URL path (one starting with /, without a query)", path))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paths[path] = append(s.paths[path], rs...)
}

// SetFallback sets the Response served when no queue has one left.
func (s *Server) SetFallback(r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = r
}

// Pending returns how many queued Responses have not been served yet,
// over all queues: 0 means the script was played to its end.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.queue)
	for _, q := range s.paths {
		n += len(q)
	}
	return n
}

// Requests returns copies of the requests received so far, in the order
// they were served. A request whose body did not arrive whole (the client
// gave up sending it, or Close cut it) is not among them and took no
// queued Response.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// RequestCount returns how many requests were received.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Conns returns how many TCP connections clients opened to the server.
// Retries that reuse a keep-alive connection do not add to it.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// Reset empties every queue, forgets the recorded requests and sets the
// connection count back to zero. The fallback stays, and open
// connections stay open (they are not counted again).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = nil
	s.paths = map[string][]Response{}
	s.requests = nil
	s.conns.Store(0)
}

// next records req and returns the Response to serve it.
func (s *Server) next(req Request) Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.dequeue(req.Path)
	req.Fallback = !ok
	s.requests = append(s.requests, req)
	if !ok {
		return s.fallback
	}
	return r
}

// dequeue takes the next queued Response for path; ok is false when none
// is left. s.mu is held.
func (s *Server) dequeue(path string) (r Response, ok bool) {
	if q := s.paths[path]; len(q) > 0 {
		r := q[0]
		q[0] = Response{}
		if len(q) == 1 {
			delete(s.paths, path)
		} else {
			s.paths[path] = q[1:]
		}
		return r, true
	}
	if len(s.queue) > 0 {
		r := s.queue[0]
		s.queue[0] = Response{}
		s.queue = s.queue[1:]
		return r, true
	}
	return Response{}, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	// Close cuts whatever this handler waits for on its connection:
	// reading a body still arriving, writing to a client that does not
	// read.
	rc := http.NewResponseController(w)
	defer context.AfterFunc(s.stopped, func() {
		now := time.Now()
		_ = rc.SetReadDeadline(now)
		_ = rc.SetWriteDeadline(now)
	})()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// The request never arrived whole (the client gave up, or Close):
		// it is not recorded and takes no queued Response.
		panic(http.ErrAbortHandler)
	}
	query := r.URL.Query()
	resp := s.next(Request{
		Method:     r.Method,
		Path:       r.URL.Path,
		Query:      query,
		Header:     r.Header.Clone(),
		Body:       append([]byte{}, body...),
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Time:       time.Now(),
	})
	ctx := r.Context()
	if resp.delay > 0 && !s.wait(ctx, resp.delay) {
		panic(http.ErrAbortHandler) // closes the connection, logs nothing
	}
	if resp.kind == kindDrop || resp.kind == kindReset {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if resp.kind == kindReset {
			conn = resetting(conn)
		}
		conn.Close()
		return
	}
	out := resp.render(&s.ids)
	if !bodyAllowed(out.status) {
		out.body = nil
	}
	if resp.truncSet && len(out.body) > 0 {
		s.serveTruncated(w, r, out, resp)
		return
	}
	h := w.Header()
	for k, v := range out.header {
		h[k] = v
	}
	if bodyAllowed(out.status) {
		setHeader(h, "Content-Length", strconv.Itoa(len(out.body)))
	}
	w.WriteHeader(out.status)
	if r.Method == http.MethodHead || len(out.body) == 0 {
		return
	}
	if resp.chunk > 0 {
		_ = rc.Flush() // the headers go out now; the body trickles
	}
	if !s.writeBody(ctx, w, rc.Flush, out.body, resp.chunk, resp.every) {
		panic(http.ErrAbortHandler)
	}
}

// serveTruncated writes the response itself on the hijacked connection:
// the full Content-Length, part of the body, then a close.
func (s *Server) serveTruncated(w http.ResponseWriter, r *http.Request, out rendered, resp Response) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	defer context.AfterFunc(s.stopped, func() { _ = conn.SetWriteDeadline(time.Now()) })()
	h := out.header.Clone()
	setHeader(h, "Date", time.Now().UTC().Format(http.TimeFormat))
	setHeader(h, "Content-Length", strconv.Itoa(len(out.body)))
	bw := buf.Writer
	if bw == nil {
		bw = bufio.NewWriter(conn)
	}
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", out.status, http.StatusText(out.status))
	if err := h.Write(bw); err != nil {
		return
	}
	bw.WriteString("\r\n")
	if bw.Flush() != nil || r.Method == http.MethodHead {
		return
	}
	n := min(resp.truncate, len(out.body)-1)
	s.writeBody(context.Background(), bw, bw.Flush, out.body[:n], resp.chunk, resp.every)
	bw.Flush()
}

// resetting returns the TCP connection under conn (a TLS connection's
// too: closing that would send a close alert first), set so that Close
// sends a reset rather than a close: a linger of zero seconds.
func resetting(conn net.Conn) net.Conn {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	return conn
}

// writeBody writes body at once, or chunk bytes at a time each after a
// pause of every. It reports false when a write failed or the wait was
// ended by ctx or Close.
func (s *Server) writeBody(ctx context.Context, w io.Writer, flush func() error, body []byte, chunk int, every time.Duration) bool {
	if chunk <= 0 {
		_, err := w.Write(body)
		return err == nil
	}
	for len(body) > 0 {
		if !s.wait(ctx, every) {
			return false
		}
		n := min(chunk, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return false
		}
		if err := flush(); err != nil {
			return false
		}
		body = body[n:]
	}
	return true
}

// wait sleeps for d; it reports false when ctx or Close ended it first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		select {
		case <-s.stopped.Done():
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.stopped.Done():
		return false
	}
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func (r Request) clone() Request {
	r.Query = cloneValues(r.Query)
	r.Header = r.Header.Clone()
	r.Body = append([]byte{}, r.Body...)
	return r
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// idSource makes request ids unique within a server (a counter) and, very
// likely, across servers (a random prefix).
type idSource struct {
	prefix uint32
	n      atomic.Uint64
}

// req returns a request id: "req_" and 16 hex digits.
func (s *idSource) req() string {
	return fmt.Sprintf("req_%08x%08x", s.prefix, uint32(s.n.Add(1)))
}

// String describes the request without credentials (a key in its path is
// redacted, as memerr.Redact does), query values, header values or body:
// "POST /v1/memories?api_key=… (headers: Authorization,
// Content-Type; body 17 bytes)", with "; served the fallback" before the
// closing parenthesis when the fallback answered it. Failing tests may
// print it safely.
func (r Request) String() string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(memerr.Redact(r.Path)) // a key in the path, as some APIs take it
	if len(r.Query) > 0 {
		keys := make([]string, 0, len(r.Query))
		for k := range r.Query {
			keys = append(keys, url.QueryEscape(k)+"=…")
		}
		sort.Strings(keys)
		b.WriteString("?" + strings.Join(keys, "&"))
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, " (headers: %s; body %d bytes", strings.Join(names, ", "), len(r.Body))
	if r.Fallback {
		b.WriteString("; served the fallback")
	}
	b.WriteByte(')')
	return b.String()
}
