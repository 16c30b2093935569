package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memerr/memerr"
	"github.com/memerr/memerr/memerrtest"
	"github.com/stretchr/testify/require"
)

// The credentials every request of the suite carries, in the three places
// a key travels: the Authorization header, a query parameter and the URL's
// user information. None may appear in anything the suite captures.
const (
	fakeKey      = "sk-live-SECRET123456"
	fakeUser     = "alice-user-7731"
	fakePassword = "hunter2-PASS-9981"
	fakeQuery    = "api_key=" + fakeKey
)

// forbidden are the strings whose presence in captured output is a leak.
var forbidden = []string{fakeKey, "SECRET123456", fakePassword, fakeUser, "Bearer sk-", "api_key=sk", "hunter2"}

// collector gathers what the suite would show a human: slog output of every
// client, error strings, and request records printed by failures.
type collector struct {
	mu   sync.Mutex
	log  bytes.Buffer
	strs []string
}

var secrets collector

func (c *collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.Write(p)
}

// note records a string the suite shows (an error's text, a dump).
func (c *collector) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.strs) < 200_000 {
		c.strs = append(c.strs, s)
	}
}

// noteErr records err's text in every form a failure message would print.
func (c *collector) noteErr(err error) {
	if err == nil {
		return
	}
	c.note(err.Error())
	c.note(fmt.Sprintf("%+v", err))
	var e *memerr.Error
	if errors.As(err, &e) {
		c.note(e.Message)
		c.note(e.RequestID)
		c.note(string(e.Details))
	}
}

func (c *collector) logBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.Len()
}

func (c *collector) notes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.strs)
}

// leaks lists every captured line holding a forbidden string.
func (c *collector) leaks() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	check := func(where, s string) {
		for _, f := range forbidden {
			if strings.Contains(s, f) {
				out = append(out, fmt.Sprintf("%s holds %q: %.300s", where, f, s))
				return
			}
		}
	}
	for _, line := range strings.Split(c.log.String(), "\n") {
		check("log", line)
	}
	for _, s := range c.strs {
		check("error string", s)
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}

// captureLogger logs at Debug level into the suite's collector.
func captureLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&secrets, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newClient returns a memerr Client that logs into the collector, with
// opts applied after the suite's defaults. Its idle connections are closed
// when the test ends.
func newClient(t testing.TB, opts ...memerr.Option) *memerr.Client {
	t.Helper()
	defaults := append([]memerr.Option{memerr.WithLogger(captureLogger())}, instrumented(t)...)
	c := memerr.NewClient(append(defaults, opts...)...)
	t.Cleanup(c.Transport().CloseIdleConnections)
	return c
}

// newBase returns a base transport whose idle pool holds pool connections
// per host. Its idle connections are closed when the test ends.
func newBase(t testing.TB, pool int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = pool
	tr.MaxIdleConnsPerHost = pool
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// secretURL returns base+path carrying the suite's credentials in the user
// information and the query.
func secretURL(t testing.TB, base, path string) string {
	t.Helper()
	u, err := url.Parse(base + path)
	require.NoError(t, err)
	u.User = url.UserPassword(fakeUser, fakePassword)
	q := u.Query()
	q.Set("api_key", fakeKey)
	u.RawQuery = q.Encode()
	return u.String()
}

// newRequest builds a request to base+path with every credential set.
func newRequest(ctx context.Context, t testing.TB, method, base, path string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, secretURL(t, base, path), r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+fakeKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// do sends req through c, drains and closes a successful body, records the
// error's text in the collector and returns the status (0 on error).
func do(c *memerr.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		secrets.noteErr(err)
		return 0, err
	}
	_, rerr := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if rerr != nil {
		err = fmt.Errorf("reading body: %w", rerr)
		secrets.noteErr(err)
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// asError requires err to be a *memerr.Error and returns it.
func asError(t testing.TB, err error) *memerr.Error {
	t.Helper()
	var e *memerr.Error
	require.Truef(t, errors.As(err, &e), "want a *memerr.Error, got %T: %v", err, err)
	return e
}

// dumpRequests renders recorded requests the way a failure message of the
// suite prints them: method, path and connection only. It is noted in the
// collector, so a dump that leaked a credential would fail the suite.
func dumpRequests(reqs []memerrtest.Request) string {
	var b strings.Builder
	for i, r := range reqs {
		fmt.Fprintf(&b, "#%d %s %s from %s (%d body bytes)\n", i, r.Method, r.Path, r.RemoteAddr, len(r.Body))
	}
	secrets.note(b.String())
	return b.String()
}

// freePort returns a loopback address nobody listens on right now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// inCI reports whether the suite runs in CI, where a missing dependency is
// a failure rather than a skip.
func inCI() bool { return os.Getenv("CI") == "true" || os.Getenv("CI") == "1" }

// waitFor polls cond every 5ms until it holds or limit passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
