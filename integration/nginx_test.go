package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nginxBin finds nginx: on PATH or in /usr/sbin, where Debian puts it.
// Missing, it fails the test in CI and skips it elsewhere.
func nginxBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if inCI() {
		t.Fatal("nginx is missing: install the Debian package nginx (.ci/integration does it with apt-get)")
	}
	t.Skip("nginx is missing: install the Debian package nginx to run this test (CI fails instead of skipping)")
	return ""
}

// nginxConf is the generated configuration: one server on listen proxying
// to upstream, with a short read timeout and a rate-limited location that
// adds Retry-After to its 429.
const nginxConf = `
daemon off;
master_process off;
worker_processes 1;
error_log {{dir}}/error.log warn;
pid {{dir}}/nginx.pid;
events { worker_connections 256; }
http {
	access_log {{dir}}/access.log;
	client_body_temp_path {{dir}}/body;
	proxy_temp_path {{dir}}/proxy;
	fastcgi_temp_path {{dir}}/fastcgi;
	uwsgi_temp_path {{dir}}/uwsgi;
	scgi_temp_path {{dir}}/scgi;
	limit_req_zone $binary_remote_addr zone=perclient:1m rate=1r/s;
	upstream vendor {
		server {{upstream}} max_fails=0;
	}
	server {
		listen {{listen}};
		proxy_connect_timeout 200ms;
		proxy_read_timeout 200ms;
		proxy_next_upstream off;
		location / {
			proxy_pass http://vendor;
		}
		location /limited/ {
			limit_req zone=perclient nodelay;
			limit_req_status 429;
			add_header Retry-After 1 always;
			proxy_pass http://vendor;
		}
	}
}
`

// startNginx runs nginx in the foreground as a child process with a
// generated configuration in a temporary directory, proxying to upstream
// (host:port). It returns nginx's base URL and stops nginx when the test
// ends.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	bin := nginxBin(t)
	dir := t.TempDir()
	listen := freePort(t)
	conf := strings.NewReplacer("{{dir}}", dir, "{{upstream}}", upstream, "{{listen}}", listen).Replace(nginxConf)
	confPath := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))

	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	require.NoError(t, cmd.Start(), "starting nginx")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited at start (%v): %s", err, log)
		default:
		}
		if c, err := net.DialTimeout("tcp", listen, 100*time.Millisecond); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 5s", listen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "http://" + listen
}

// gate is a TCP forwarder on a fixed loopback address that can be taken
// down (connections refused) and brought back up, counting the connections
// it forwarded: an upstream that goes away and returns on the same port.
type gate struct {
	addr, target string
	accepted     atomic.Int64

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newGate(t *testing.T, target string) *gate {
	g := &gate{addr: freePort(t), target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(g.down)
	return g
}

// up starts listening on the gate's address.
func (g *gate) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", g.addr)
	require.NoError(t, err)
	g.mu.Lock()
	g.ln = ln
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.accepted.Add(1)
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				g.forward(c)
			}()
		}
	}()
}

func (g *gate) track(c net.Conn, add bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if add {
		if g.ln == nil {
			return false
		}
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
	return true
}

func (g *gate) forward(c net.Conn) {
	defer c.Close()
	u, err := net.DialTimeout("tcp", g.target, time.Second)
	if err != nil {
		return
	}
	defer u.Close()
	if !g.track(c, true) || !g.track(u, true) {
		return
	}
	defer g.track(c, false)
	defer g.track(u, false)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
}

// down closes the listener and every forwarded connection, and waits for
// the forwarding goroutines.
func (g *gate) down() {
	g.mu.Lock()
	if g.ln != nil {
		g.ln.Close()
		g.ln = nil
	}
	for c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

func hostOf(rawURL string) string { return strings.TrimPrefix(rawURL, "http://") }

// TestNginxUpstreamDownBreaker: the vendor behind nginx is down, nginx
// answers with its own HTML 502; memerr decodes it as Generic/Unavailable,
// retries it, opens the breaker; while open, the vendor (back up) sees no
// traffic; after the open timeout a half-open trial closes the breaker.
func TestNginxUpstreamDownBreaker(t *testing.T) {
	vendor := memerrtest.NewServer(memerrtest.WithVendor(memerr.Coze))
	t.Cleanup(vendor.Close)
	g := newGate(t, hostOf(vendor.URL))
	base := startNginx(t, g.addr)

	var changes []string
	var mu sync.Mutex
	c := newClient(t,
		memerr.WithMaxRetries(2),
		memerr.WithBackoff(2*time.Millisecond, 10*time.Millisecond),
		memerr.WithBreaker(memerr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 400 * time.Millisecond}),
		memerr.WithHooks(memerr.Hooks{OnBreakerChange: func(ch memerr.BreakerChange) {
			mu.Lock()
			changes = append(changes, ch.From.String()+"->"+ch.To.String())
			mu.Unlock()
		}}),
	)
	ctx := context.Background()

	// 1. Upstream down: three attempts, each nginx's HTML 502.
	_, err := do(c, newRequest(ctx, t, http.MethodGet, base, "/v1/memories", nil))
	e := asError(t, err)
	assert.Equal(t, memerr.Generic, e.Vendor)
	assert.Equal(t, memerr.KindUnavailable, e.Kind)
	assert.Equal(t, http.StatusBadGateway, e.StatusCode)
	assert.Equal(t, "502", e.Code)
	assert.Equal(t, 3, e.Attempts, "retried twice")
	assert.Contains(t, e.Message, "502 Bad Gateway", "the title of nginx's page")
	assert.ErrorIs(t, err, memerr.ErrUnavailable)
	st, ok := c.Transport().BreakerState(base)
	require.True(t, ok)
	require.Equal(t, memerr.CircuitOpen, st, "three consecutive 502s open the breaker")

	// 2. The vendor is back, but the breaker is open: no traffic reaches it.
	g.up(t)
	for i := 0; i < 5; i++ {
		_, err := do(c, newRequest(ctx, t, http.MethodGet, base, "/v1/memories", nil))
		require.ErrorIs(t, err, memerr.ErrCircuitOpen)
		require.ErrorIs(t, err, gobreaker.ErrOpenState)
		var be *memerr.BreakerError
		require.ErrorAs(t, err, &be)
		assert.Greater(t, be.Remaining, time.Duration(0))
		assert.Equal(t, 1, asError(t, err).Attempts, "an open breaker is not retried")
	}
	assert.Zero(t, g.accepted.Load(), "upstream connections while open")
	assert.Zero(t, vendor.RequestCount(), "upstream requests while open: %s", dumpRequests(vendor.Requests()))

	// 3. After the open timeout, one trial request goes through and closes it.
	waitFor(t, 2*time.Second, "the breaker to turn half-open", func() bool {
		st, _ := c.Transport().BreakerState(base)
		return st == memerr.CircuitHalfOpen
	})
	status, err := do(c, newRequest(ctx, t, http.MethodGet, base, "/v1/memories", nil))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	st, _ = c.Transport().BreakerState(base)
	assert.Equal(t, memerr.CircuitClosed, st)
	assert.Equal(t, 1, vendor.RequestCount())
	mu.Lock()
	assert.Equal(t, []string{"closed->open", "open->half-open", "half-open->closed"}, changes)
	mu.Unlock()
	reqs := vendor.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer "+fakeKey, reqs[0].Header.Get("Authorization"), "the request itself carries the key")
}

// TestNginxGatewayTimeout: the vendor is slower than nginx's
// proxy_read_timeout; nginx answers 504; a GET is retried, a POST is not
// (a gateway timeout may come after the vendor acted).
func TestNginxGatewayTimeout(t *testing.T) {
	vendor := memerrtest.NewServer()
	t.Cleanup(vendor.Close)
	base := startNginx(t, hostOf(vendor.URL))
	c := newClient(t, memerr.WithMaxRetries(1), memerr.WithBackoff(time.Millisecond, 5*time.Millisecond), memerr.WithoutBreaker())
	slow := memerrtest.Success(memerr.Coze, map[string]any{}).WithDelay(time.Second)

	vendor.Enqueue(slow, slow)
	start := time.Now()
	_, err := do(c, newRequest(context.Background(), t, http.MethodGet, base, "/v1/slow", nil))
	e := asError(t, err)
	assert.Equal(t, http.StatusGatewayTimeout, e.StatusCode)
	assert.Equal(t, memerr.Generic, e.Vendor)
	assert.Equal(t, memerr.KindUnavailable, e.Kind)
	assert.Equal(t, 2, e.Attempts)
	assert.Less(t, time.Since(start), 900*time.Millisecond, "two 200ms timeouts, not the vendor's delay")

	vendor.Enqueue(slow)
	_, err = do(c, newRequest(context.Background(), t, http.MethodPost, base, "/v1/slow", []byte(`{"text":"x"}`)))
	e = asError(t, err)
	assert.Equal(t, http.StatusGatewayTimeout, e.StatusCode)
	assert.Equal(t, 1, e.Attempts, "a non-idempotent POST is not retried after a 504")
	waitFor(t, 2*time.Second, "the vendor to see 3 requests", func() bool { return vendor.RequestCount() == 3 })
}

// TestNginxRateLimitRetryAfter: nginx's limit_req answers 429 with a
// Retry-After: 1 added by configuration; memerr waits that long and the
// retry passes.
func TestNginxRateLimitRetryAfter(t *testing.T) {
	vendor := memerrtest.NewServer()
	t.Cleanup(vendor.Close)
	base := startNginx(t, hostOf(vendor.URL))
	var waits []time.Duration
	var statuses []int
	var mu sync.Mutex
	c := newClient(t, memerr.WithMaxRetries(2), memerr.WithHooks(memerr.Hooks{OnRetry: func(ev memerr.RetryEvent) {
		mu.Lock()
		waits = append(waits, ev.Wait)
		statuses = append(statuses, ev.StatusCode)
		mu.Unlock()
	}}))
	ctx := context.Background()

	// Without memerr, nginx's answer to a second request within the second.
	plain := &http.Client{Transport: newBase(t, 2)}
	resp, err := plain.Get(base + "/limited/a")
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = plain.Get(base + "/limited/a")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))

	// Through memerr: the 429 is waited out and retried.
	waitFor(t, 3*time.Second, "the rate window to reopen", func() bool {
		r, err := plain.Get(base + "/limited/b")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == http.StatusOK
	})
	start := time.Now()
	status, err := do(c, newRequest(ctx, t, http.MethodGet, base, "/limited/c", nil))
	elapsed := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, waits, 1, "one 429, then success")
	assert.Equal(t, http.StatusTooManyRequests, statuses[0])
	assert.GreaterOrEqual(t, waits[0], time.Second, "Retry-After: 1 honoured")
	assert.LessOrEqual(t, waits[0], 1100*time.Millisecond, "hint plus at most 10% jitter")
	assert.GreaterOrEqual(t, elapsed, time.Second)
	assert.Less(t, elapsed, 1500*time.Millisecond)
	t.Logf("nginx: 429 Retry-After: 1 -> waited %v, request took %v", waits[0].Round(time.Millisecond), elapsed.Round(time.Millisecond))

	// A hint longer than MaxRetryWait is not waited for: the *Error carries it.
	c2 := newClient(t, memerr.WithMaxRetryWait(500*time.Millisecond))
	var e *memerr.Error
	start = time.Now()
	for i := 0; i < 3 && e == nil; i++ {
		_, err = do(c2, newRequest(ctx, t, http.MethodGet, base, "/limited/d", nil))
		errors.As(err, &e)
	}
	require.NotNil(t, e, "a request inside the window must be limited")
	assert.Equal(t, memerr.KindRateLimited, e.Kind)
	assert.Equal(t, time.Second, e.RetryAfter)
	assert.Equal(t, 1, e.Attempts)
	assert.Less(t, time.Since(start), 500*time.Millisecond)
	assert.Contains(t, e.Error(), "retry after 1s")
	t.Log(fmt.Sprint("nginx: a 1s hint past MaxRetryWait 500ms, the caller sees: ", e))
}
