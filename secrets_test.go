package memerr

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretBodies are error bodies that echo a credential, written as each
// vendor's envelope; SECRET stands for the key the request sent.
var secretBodies = []struct {
	status int
	body   string
}{
	{200, `{"code":4100,"msg":"invalid token SECRET","detail":{"logid":"SECRET"}}`},
	{401, `{"success":false,"error":{"code":"INVALID_API_KEY","message":"key SECRET is not valid","details":{"key":"SECRET"}},"meta":{"request_id":"SECRET"}}`},
	{400, `{"error":{"code":"SECRET","message":"x"},"meta":{"request_id":"req_1"}}`},
	{200, `{"code":40132,"message":"Authorization: Token SECRET rejected","data":null}`},
	{401, `{"code":401,"msg":"SECRET","data":null}`},
	{200, `{"error_code":"unauthorized","error_message":"credentials SECRET","error":""}`},
	{401, `{"detail":"Invalid API key SECRET"}`},
	{502, `<html><title>bad key SECRET</title></html>`},
	{500, "key SECRET\nstack trace"},
	{200, `{"code":0,"data":{"status":"failed","last_error":{"code":4100,"msg":"SECRET"}}}`},
}

// checkNoSecret fails when any field, the message or a formatting of e
// holds secret.
func checkNoSecret(t *testing.T, e *Error, secret string) {
	t.Helper()
	for name, s := range map[string]string{
		"Message": e.Message, "Code": e.Code, "RequestID": e.RequestID, "Details": string(e.Details),
		"Error()": e.Error(), "%+v": fmt.Sprintf("%+v", e), "%#v": fmt.Sprintf("%#v", e),
	} {
		if strings.Contains(s, secret) {
			t.Fatalf("%s holds the secret %q: %q", name, secret, s)
		}
	}
}

// secretRequest sends secret in the Authorization header, the URL's user
// information and a query value.
func secretRequest(secret string) *http.Request {
	u := &url.URL{Scheme: "http", Host: "api.example", Path: "/v1/memories", User: url.UserPassword("user", secret),
		RawQuery: "api_key=" + url.QueryEscape(secret)}
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	return req
}

// bodyRT answers every request with one response.
type bodyRT struct {
	status int
	body   string
}

func (b bodyRT) RoundTrip(r *http.Request) (*http.Response, error) {
	ct := "application/json"
	if !strings.HasPrefix(b.body, "{") {
		ct = "text/html"
	}
	return &http.Response{StatusCode: b.status, Header: http.Header{"Content-Type": {ct}, "X-Tt-Logid": {"log-1"}},
		Body: io.NopCloser(strings.NewReader(b.body)), ContentLength: int64(len(b.body))}, nil // no Request, as some RoundTrippers leave it
}

func TestNoSecretInAnyField(t *testing.T) {
	for _, secret := range []string{"sk-live-4f9a8b7c6d5e", "Zx81KqPl02mN", "krlk_" + strings.Repeat("a1", 32)} {
		for _, b := range secretBodies {
			checkSecretPaths(t, secret, b.status, strings.ReplaceAll(b.body, "SECRET", secret))
		}
	}
}

// checkSecretPaths decodes one body on every path that builds an Error:
// Parse (no request known: only what looks like a key goes), Decode of a
// response to the request, the Transport (with its hooks) and Client.Do.
func checkSecretPaths(t *testing.T, secret string, status int, body string) {
	t.Helper()
	req := secretRequest(secret)
	if e, ok := Parse(Auto, status, nil, []byte(body)).(*Error); ok && Redact(secret) != secret {
		checkNoSecret(t, e, secret) // Parse knows no request: only a key-shaped secret is known as one
	}
	resp, _ := bodyRT{status, body}.RoundTrip(req)
	resp.Request = req // as an http.Client sets it
	if e, ok := Decode(resp).(*Error); ok {
		checkNoSecret(t, e, secret)
	}
	ctx := context.WithValue(context.Background(), bodyKey{}, bodyRT{status, body})
	if _, err := secretClient.Do(secretRequest(secret).WithContext(ctx)); err != nil {
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("Client.Do returned %T", err)
		}
		checkNoSecret(t, e, secret)
	}
	secretSeen.Lock()
	secretSeen.all = secretSeen.all[:0]
	secretSeen.Unlock()
	if resp, err := secretTransport.RoundTrip(secretRequest(secret).WithContext(ctx)); err == nil {
		if e, ok := Decode(resp).(*Error); ok {
			checkNoSecret(t, e, secret)
		}
	}
	secretSeen.Lock()
	defer secretSeen.Unlock()
	for _, s := range secretSeen.all {
		if strings.Contains(s, secret) {
			t.Fatalf("a hook saw the secret: %q", s)
		}
	}
}

// bodyKey carries the bodyRT a request is to be answered with, so that one
// Transport serves every fuzz input.
type bodyKey struct{}

type ctxBodyRT struct{}

func (ctxBodyRT) RoundTrip(r *http.Request) (*http.Response, error) {
	return r.Context().Value(bodyKey{}).(bodyRT).RoundTrip(r)
}

var (
	secretSeen struct {
		sync.Mutex
		all []string
	}
	secretClient    = NewClient(WithBaseTransport(ctxBodyRT{}), WithMaxRetries(0), WithoutBreaker())
	secretTransport = NewTransport(ctxBodyRT{}, WithMaxRetries(1), WithBackoff(0, 0), WithoutBreaker(),
		WithHooks(Hooks{
			OnRetry: func(ev RetryEvent) { seen(ev.URL, fmt.Sprint(ev.Err)) },
			OnAttempt: func(ev AttemptEvent) {
				seen(ev.URL, ev.RequestID, fmt.Sprint(ev.Err))
			},
		}))
)

func seen(s ...string) {
	secretSeen.Lock()
	secretSeen.all = append(secretSeen.all, s...)
	secretSeen.Unlock()
}

func TestRedactKnowsMemOSKeys(t *testing.T) {
	key := "krlk_" + strings.Repeat("0f", 32)
	for _, s := range []string{
		"Authorization: Token " + key,
		"authorization: token " + key,
		"bad key " + key,
		"key mpg-AbCdEf0123456789+/xyz",
		"Authorization: Token Zx81KqPl02mN", // the scheme, whatever the key looks like
	} {
		got := Redact(s)
		assert.NotContains(t, got, key, s)
		assert.NotContains(t, got, "Zx81KqPl02mN", s)
		assert.NotContains(t, got, "AbCdEf0123456789", s)
		assert.Contains(t, got, "[redacted]", s)
	}
	// The word "token" alone does not eat the next word.
	assert.Equal(t, "access token expired", Redact("access token expired"))
}

func FuzzSecrets(f *testing.F) {
	for i := range secretBodies {
		f.Add(uint8(i), "sk-live-4f9a8b7c6d5e", "")
		f.Add(uint8(i), "Zx81KqPl02mN", " and more")
	}
	f.Fuzz(func(t *testing.T, shape uint8, secret, extra string) {
		// A key: 12 to 64 characters of letters, digits and -_.~, with a
		// letter and a digit, so that it is no word memerr writes itself.
		if len(secret) < 12 || len(secret) > 64 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~") != "" ||
			!strings.ContainsAny(secret, "0123456789") || !strings.ContainsAny(strings.ToLower(secret), "abcdefghijklmnopqrstuvwxyz") {
			return
		}
		b := secretBodies[int(shape)%len(secretBodies)]
		body := strings.ReplaceAll(b.body, "SECRET", secret+jsonSafe(extra))
		checkSecretPaths(t, secret, b.status, body)
	})
}

// jsonSafe keeps the letters, digits and spaces of s, so it can sit in a
// JSON string.
func jsonSafe(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		if r == ' ' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// echoServer is a loopback server that answers every request with
// respond(the request's Authorization header): raw bytes, so that the
// response can be malformed in ways net/http's server never writes.
func echoServer(t *testing.T, respond func(auth string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := textproto.NewReader(bufio.NewReader(c))
				if _, err := r.ReadLine(); err != nil {
					return
				}
				h, _ := r.ReadMIMEHeader()
				io.WriteString(c, respond(h.Get("Authorization")))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// checkErrorChain fails when the text of err, or of any error its Unwrap
// chain reaches (as error reporters that walk the chain print them),
// holds secret.
func checkErrorChain(t *testing.T, err error, secret string) {
	t.Helper()
	for e, depth := err, 0; e != nil; e, depth = errors.Unwrap(e), depth+1 {
		for _, s := range []string{e.Error(), fmt.Sprintf("%+v", e)} {
			if strings.Contains(s, secret) {
				t.Fatalf("error %d of the chain of %q holds the secret: %q", depth, err, s)
			}
		}
	}
}

// A server that echoes the request's credential in a malformed response
// makes net/http's transport fail with an error quoting the bad line, and
// its client with one quoting a bad Location: the error RoundTrip returns
// (which an http.Client hands on, wrapped), and everything its chain
// unwraps to, must not hold the credential, nor may Client.Do's *Error or
// what it unwraps to.
func TestNetworkErrorHoldsNoSecret(t *testing.T) {
	const key = "Zx81KqPl02mN" // shaped like no known key prefix: only the request tells it is one
	for _, tc := range []struct {
		name      string
		respond   func(auth string) string
		redirects bool // RoundTrip returns the response; the http.Client fails following it
	}{
		{"status line", func(auth string) string { return auth + "\r\n\r\n" }, false},
		{"header line", func(auth string) string { return "HTTP/1.1 200 OK\r\n" + auth + "\r\n\r\n" }, false},
		{"content length", func(auth string) string { return "HTTP/1.1 200 OK\r\nContent-Length: " + auth + "\r\n\r\n" }, false},
		{"location", func(auth string) string {
			return "HTTP/1.1 302 Found\r\nLocation: :" + auth + "\r\nContent-Length: 0\r\n\r\n"
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := echoServer(t, tc.respond)
			for _, retries := range []int{0, 1} {
				req, err := http.NewRequest(http.MethodGet, u+"/v1/memories", nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", "Bearer "+key)
				tr := NewTransport(nil, WithMaxRetries(retries), WithBackoff(time.Millisecond, time.Millisecond), WithoutBreaker())
				if !tc.redirects {
					_, err = tr.RoundTrip(req)
					require.Error(t, err)
					checkErrorChain(t, err, key)

					_, err = (&http.Client{Transport: tr}).Do(req)
					require.Error(t, err)
					checkErrorChain(t, err, key)
				}

				c := NewClient(WithMaxRetries(retries), WithBackoff(time.Millisecond, time.Millisecond), WithoutBreaker())
				_, err = c.Do(req)
				var e *Error
				require.ErrorAs(t, err, &e)
				checkNoSecret(t, e, key)
				checkErrorChain(t, err, key)
			}
		})
	}
}

// Scrubbing a network error's text keeps what callers test it for:
// errors.Is and errors.As still find the causes underneath.
func TestScrubbedErrorKeepsItsCauses(t *testing.T) {
	const key = "Zx81KqPl02mN"
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, fmt.Errorf("proxy said %q: %w", r.Header.Get("Authorization"), opErr)
	})
	req, err := http.NewRequest(http.MethodGet, "http://api.example/v1/memories", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	_, err = NewTransport(base, WithMaxRetries(1), WithBackoff(time.Millisecond, time.Millisecond), WithoutBreaker()).RoundTrip(req)
	require.Error(t, err)
	checkErrorChain(t, err, key)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	var got *net.OpError
	require.ErrorAs(t, err, &got)
	assert.Same(t, opErr, got)
	var ne net.Error
	assert.ErrorAs(t, err, &ne)
}

// A server that echoes the request's credential in its request id header
// must not get it into the OnAttempt hook (which the OpenTelemetry module
// puts on spans), on a success as on a failure.
func TestHookRequestIDHoldsNoSecret(t *testing.T) {
	const key = "Zx81KqPl02mN"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		io.WriteString(w, `{"code":0,"data":{}}`)
	}))
	defer srv.Close()
	var ids []string
	tr := NewTransport(nil, WithMaxRetries(0), WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) { ids = append(ids, ev.RequestID) }}))
	for _, path := range []string{"/ok", "/fail"} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := tr.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.Len(t, ids, 2)
	for _, id := range ids {
		assert.NotContains(t, id, key)
		assert.NotEmpty(t, id, "the id is still reported, scrubbed")
	}
}

// A key with a known prefix inside a URL's path ("/v1/sk-live-…/memories",
// as APIs that take the key in the path have it) is redacted in what
// memerr shows of the URL (hooks, logs) and in a server message quoting it.
func TestKeyInURLPathRedacted(t *testing.T) {
	const key = "sk-live-4f9a8b7c6d5e"
	for _, s := range []string{
		"/v1/" + key + "/memories",
		"bad path /v1/" + key,
		"see https://api.example/v1/keys/" + key + "/memories?x=1",
		"see https://bob:hunter2@api.example/v1/" + key,
		"key mpg-AbCdEf0123456789+/4f9a8b7c6d5e", // a base64 key holding a '/'
		"key mpg-Ab/4f9a8b7c6d5e",                // ...early
	} {
		got := Redact(s)
		assert.NotContains(t, got, "4f9a8b7c6d5e", s)
		assert.Contains(t, got, "[redacted]", s)
		checkQuickTest(t, s)
	}
	for _, s := range []string{"/v1/memories/search", "/v1/sk-/x", "https://api.example/v1/tk_1/items"} {
		assert.Equal(t, s, Redact(s), "nothing to remove")
	}

	var urls []string
	tr := NewTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	}), WithMaxRetries(1), WithBackoff(time.Millisecond, time.Millisecond), WithoutBreaker(),
		WithHooks(Hooks{OnAttempt: func(ev AttemptEvent) { urls = append(urls, ev.URL) }, OnRetry: func(ev RetryEvent) { urls = append(urls, ev.URL) }}))
	req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/"+key+"/memories", nil)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Len(t, urls, 3)
	for _, u := range urls {
		assert.Equal(t, "https://api.example/v1/[redacted]", u)
	}
}

// Credentials a request carries in a cookie, in a header named for a key
// or token other than the usual few, or in a query parameter named for a
// secret are scrubbed from a server's error that echoes them.
func TestEchoedCredentialsOfAnyHeaderScrubbed(t *testing.T) {
	const key = "Zx81KqPl02mN" // shaped like no known key prefix: only the request tells it is one
	for _, tc := range []struct {
		name string
		set  func(r *http.Request)
		echo func(r *http.Request) string
	}{
		{"cookie", func(r *http.Request) { r.Header.Set("Cookie", "lang=en; session="+key) },
			func(r *http.Request) string { c, _ := r.Cookie("session"); return "unknown session " + c.Value }},
		{"access token header", func(r *http.Request) { r.Header.Set("X-Access-Token", key) },
			func(r *http.Request) string { return "unknown credential " + r.Header.Get("X-Access-Token") }},
		{"vendor key header", func(r *http.Request) { r.Header.Set("X-Memories-Api-Key", key) },
			func(r *http.Request) string { return "unknown credential " + r.Header.Get("X-Memories-Api-Key") }},
		{"client secret query", func(r *http.Request) { r.URL.RawQuery = "client_id=app&client_secret=" + key },
			func(r *http.Request) string { return "unknown client " + r.URL.Query().Get("client_secret") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Request-Id", tc.echo(r))
				w.WriteHeader(http.StatusUnauthorized)
				json.NewEncoder(w).Encode(map[string]any{"code": 401, "msg": tc.echo(r), "data": nil})
			}))
			defer srv.Close()
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil)
			require.NoError(t, err)
			tc.set(req)
			_, err = NewClient(WithMaxRetries(0)).Do(req)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, KindUnauthenticated, e.Kind)
			checkNoSecret(t, e, key)
			assert.Contains(t, e.Message, "[redacted]")
		})
	}
}

// A server may echo a key in another form than it was sent: escaped into
// a URL it quotes, or with '/' escaped in JSON it returns as details
// (PHP's json_encode writes "\/"). A base64 key holds '/', '+' and '='.
// Each form is scrubbed, on every path that decodes an error.
func TestEchoedCredentialsInEscapedFormsScrubbed(t *testing.T) {
	const key = "Qx9ab/cd+ef=gh12345"
	for _, tc := range []struct{ name, body string }{
		{"JSON-escaped in details", `{"error":{"code":"BAD","message":"no","details":{"echo":"Qx9ab\/cd+ef=gh12345"}},"meta":{"request_id":"r1"}}`},
		{"query-escaped in the message", `{"error":{"code":"BAD","message":"bad url /v1?q=Qx9ab%2Fcd%2Bef%3Dgh12345"},"meta":{"request_id":"r1"}}`},
		{"path-escaped in the message", `{"error":{"code":"BAD","message":"no route /v1/keys/Qx9ab%2Fcd+ef=gh12345"},"meta":{"request_id":"r1"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/memories", nil)
			require.NoError(t, err)
			req.Header.Set("X-Api-Key", key)
			_, err = NewClient(WithMaxRetries(0), WithVendor(MemoryOS)).Do(req)
			var e *Error
			require.ErrorAs(t, err, &e)
			all := strings.Join([]string{e.Message, string(e.Details), e.Error(), fmt.Sprintf("%+v", e)}, " ")
			for _, form := range []string{`Qx9ab\/cd`, "Qx9ab%2Fcd", "cd%2Bef", "Qx9ab/cd"} {
				assert.NotContains(t, all, form)
			}
			assert.Contains(t, e.Message+string(e.Details), "[redacted]")
		})
	}
}

// Scrubbing the request id the hooks report for a success costs no
// allocation when there is nothing to remove, credentials, cookie and
// query notwithstanding: it runs on every successful request with hooks.
func TestScrubRequestIDAllocatesNothing(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://api.example/v1/memories?limit=10&api_key=Zx81KqPl02mN", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer Zx81KqPl02mN")
	req.Header.Set("Cookie", "lang=en; session=Qw73JpLm55aB")
	assert.Equal(t, "req_0123456789abcdef", scrubRequest("req_0123456789abcdef", req))
	assert.Zero(t, testing.AllocsPerRun(100, func() { scrubRequest("req_0123456789abcdef", req) }))
	assert.Equal(t, "echo [redacted] and [redacted]", scrubRequest("echo Qw73JpLm55aB and Zx81KqPl02mN", req))
}
