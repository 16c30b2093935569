package memerr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"
)

// Transport is an http.RoundTripper that retries failed requests and breaks
// circuits per host. Put it in any http.Client:
//
//	hc := &http.Client{Transport: memerr.NewTransport(nil, memerr.WithVendor(memerr.Coze))}
//
// It follows the RoundTripper contract: a response from the server comes
// back with a nil error and its body unread, whatever its status (after the
// retries, the last response); an error only when no response was obtained
// (network failure, open breaker, context done). It follows no redirects.
//
// Each attempt passes the host's circuit breaker (on gobreaker's two-step
// breaker); the retry loop is go-retryablehttp's, with memerr's policy:
// retry network errors and failures of KindRateLimited, KindUnavailable and
// KindInternal — including errors inside an HTTP 200, found by reading
// ahead JSON bodies of at most PeekLimit bytes — waiting for the server's
// hint or an exponential backoff, within the context's deadline,
// MaxRetryWait and the retry budget. POST and PATCH are retried only when
// the server certainly did not act, unless they carry an Idempotency-Key
// or were marked with Idempotent.
//
// A Transport is safe for concurrent use.
type Transport struct {
	base     http.RoundTripper
	cfg      config
	rc       *retryablehttp.Client
	breakers *breakers

	// Seams for tests: the random source of jitter and the wait between
	// attempts.
	rand  func(n int64) int64
	sleep func(ctx context.Context, d time.Duration) bool
}

// NewTransport returns a Transport sending each attempt through base (nil:
// a clone of http.DefaultTransport keeping up to
// DefaultMaxIdleConnsPerHost idle connections per host).
func NewTransport(base http.RoundTripper, opts ...Option) *Transport {
	cfg := newConfig(opts)
	if base == nil {
		base = cfg.base
	}
	if base == nil {
		dt := http.DefaultTransport.(*http.Transport).Clone()
		// net/http keeps 2 idle connections per host; a client of one API
		// host sending in parallel would open and close connections all
		// the time.
		dt.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
		base = dt
	}
	t := &Transport{base: base, cfg: cfg, sleep: sleepCtx}
	if !cfg.noBreaker {
		t.breakers = newBreakers(cfg.breaker, t.breakerChanged)
	}
	t.rc = &retryablehttp.Client{
		// The attempt transport does not implement CloseIdleConnections,
		// so go-retryablehttp's habit of closing the pool on giving up
		// does nothing; redirects are left to the caller's client.
		HTTPClient: &http.Client{
			Transport:     attempter{t},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		RetryMax:     cfg.maxRetries,
		RetryWaitMin: cfg.backoffMin,
		RetryWaitMax: cfg.backoffMax,
		CheckRetry:   t.checkRetry,
		Backoff:      waitedInCheckRetry,
		ErrorHandler: passThrough,
		PrepareRetry: prepareRetry,
	}
	return t
}

// reqState is the per-request state of the retry loop. It is the request's
// context, so every hook of the loop reaches it without a context lookup.
type reqState struct {
	context.Context // the caller's

	req        *http.Request // the transport's copy of the caller's request
	rr         retryablehttp.Request
	getBody    func() (io.ReadCloser, error)
	replayable bool
	attempts   int
	spent      int64 // budget tokens spent on retries
	breaker    *hostBreaker
	verdict    *Error // the last attempt's decoded failure
}

type stateKey struct{}

// Value answers the state key with the state and forwards the rest.
func (s *reqState) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	return s.Context.Value(key)
}

func stateOf(ctx context.Context) *reqState {
	if st, ok := ctx.(*reqState); ok {
		return st
	}
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// RoundTrip sends req with retries and circuit breaking; see Transport.
// The caller's request is never modified.
//
// The first attempt is sent as it is, with no per-request state: a request
// that succeeds at once costs a breaker check and, for a small JSON body,
// one read-ahead buffer. Only a failure builds the state of the retry loop.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("memerr: request has no URL")
	}
	var hb *hostBreaker
	if t.breakers != nil {
		hb = t.breakers.forURL(req.URL)
	}
	var st *reqState
	first := req
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil && t.cfg.maxRetries > 0 {
		// A body that cannot be read twice is buffered before it is sent.
		st = t.newState(req, hb)
		if err := st.bufferBody(st.req, t.cfg.maxReplayBody); err != nil {
			return nil, err
		}
		first = st.req
	}
	resp, v, err := t.send(first, hb, 1)
	if err == nil && v == nil {
		if b := t.cfg.budget; b != nil {
			b.refund(1)
		}
		resp.Request = req
		return resp, nil
	}
	if st == nil {
		st = t.newState(req, hb)
	}
	st.attempts, st.verdict = 1, v
	if retry, _ := t.checkRetry(st, resp, err); !retry {
		if err != nil {
			return nil, err
		}
		resp.Request = req
		return resp, nil
	}
	if resp != nil {
		discard(resp.Body)
	}
	// The rest of the attempts run in go-retryablehttp's loop, on a copy
	// of the request whose body is rewound for each attempt.
	next := *st.req
	if err := prepareRetry(&next); err != nil {
		return nil, err
	}
	st.rr.Request = &next
	resp, err = t.rc.Do(&st.rr)
	if err != nil {
		err = withoutURL(err) // the inner client's wrapping; the caller's client wraps again
		if st.attempts > 1 {
			err = &attemptsError{err: err, attempts: st.attempts}
		}
		return nil, err
	}
	if _, read := resp.Body.(*inspectedBody); !read && resp.Body != nil && resp.Body != http.NoBody {
		// A 2xx body not read ahead may still hold an error that Client.Do
		// finds later; it needs the count of the attempts made.
		resp.Body = &attemptsBody{ReadCloser: resp.Body, attempts: st.attempts}
	}
	resp.Request = req // the caller's request, as sent by the caller
	return resp, nil
}

// attemptsBody carries the number of attempts behind a response whose body
// was not read ahead, when there were several, for Client.Do.
type attemptsBody struct {
	io.ReadCloser
	attempts int
}

// newState builds the retry loop's state and its copy of req.
func (t *Transport) newState(req *http.Request, hb *hostBreaker) *reqState {
	st := &reqState{Context: req.Context(), breaker: hb, getBody: req.GetBody}
	st.replayable = req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	r := req.WithContext(st)
	r.RequestURI = ""
	if r.Host == r.URL.Host {
		// The same Host header (an empty Host means URL.Host), and the
		// inner http.Client then need not copy the URL for its cookie jar.
		r.Host = ""
	}
	st.req = r
	return st
}

// bufferBody reads a body without GetBody so it can be replayed, up to
// limit bytes; a longer body is sent once as it is.
func (st *reqState) bufferBody(r *http.Request, limit int64) error {
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, limit+1))
	if err != nil {
		orig.Close()
		return fmt.Errorf("memerr: reading request body: %w", err)
	}
	if int64(len(buf)) > limit {
		st.replayable = false
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return nil
	}
	orig.Close()
	st.replayable = true
	st.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	r.Body, _ = st.getBody()
	return nil
}

// CloseIdleConnections closes the idle connections of the base transport.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// vendorFor is the vendor hint for a host.
func (t *Transport) vendorFor(u *url.URL) Vendor {
	if len(t.cfg.hostVendors) > 0 {
		if v, ok := t.cfg.hostVendors[u.Host]; ok {
			return v
		}
		if v, ok := t.cfg.hostVendors[u.Hostname()]; ok {
			return v
		}
	}
	return t.cfg.vendor
}

// attempter sends the attempts after the first, inside go-retryablehttp's
// loop. It does not implement CloseIdleConnections, so the loop's habit of
// closing the whole pool on giving up does nothing.
type attempter struct{ t *Transport }

func (a attempter) RoundTrip(r *http.Request) (*http.Response, error) {
	t := a.t
	st := stateOf(r.Context())
	if st == nil {
		return nil, errors.New("memerr: internal error: request state missing")
	}
	st.attempts++
	resp, v, err := t.send(r, st.breaker, st.attempts)
	st.verdict = v
	if err == nil && v == nil && t.cfg.budget != nil {
		t.cfg.budget.refund(1 + st.spent)
		st.spent = 0
	}
	return resp, err
}

// send makes one attempt: it passes the host's breaker (hb, nil when
// breakers are off), sends r through the base transport and, for a failure
// status or a small JSON body, reads ahead to decode the verdict, whose
// Attempts is attempt. It reports the outcome to the breaker.
func (t *Transport) send(r *http.Request, hb *hostBreaker, attempt int) (*http.Response, *Error, error) {
	var start time.Time
	if t.cfg.hooks.OnAttempt != nil {
		start = time.Now()
	}
	var p pass
	if hb != nil {
		var err error
		if p, err = hb.allow(t.cfg.breaker.OpenTimeout); err != nil {
			closeBody(r)
			t.attempted(r, hb, attempt, start, nil, nil, err)
			return nil, nil, err
		}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		if hb != nil {
			outcome := errBreakerFailure
			if r.Context().Err() != nil {
				outcome = errBreakerExcluded
			}
			hb.report(p, outcome)
		}
		t.attempted(r, hb, attempt, start, nil, nil, err)
		return nil, nil, err
	}
	var v *Error
	vendor := t.vendorFor(r.URL)
	if resp.StatusCode >= 400 || (sendsErrorsIn2xx(vendor) && wantsPeek(resp)) {
		ib := new(inspectedBody)
		if v = ib.readAhead(resp, vendor, t.cfg.maxErrorBody); v != nil {
			v.Attempts = attempt
			scrubError(v, requestSecrets(r))
		}
	}
	if hb != nil {
		hb.report(p, breakerOutcome(resp.StatusCode, v))
	}
	t.attempted(r, hb, attempt, start, resp, v, nil)
	return resp, v, nil
}

// attempted runs the OnAttempt hook, if any, for one attempt.
func (t *Transport) attempted(r *http.Request, hb *hostBreaker, attempt int, start time.Time, resp *http.Response, v *Error, err error) {
	h := t.cfg.hooks.OnAttempt
	if h == nil {
		return
	}
	ev := AttemptEvent{Method: r.Method, URL: safeURL(r.URL), Attempt: attempt, Duration: time.Since(start), Vendor: t.vendorFor(r.URL), Context: r.Context()}
	if hb != nil {
		ev.Host = hb.key
	} else {
		ev.Host = canonicalHost(r.URL)
	}
	if resp != nil {
		ev.StatusCode = resp.StatusCode
		ev.RequestID = headerRequestID(resp.Header)
	}
	if v != nil {
		ev.Err = v
		ev.RequestID = v.RequestID
	} else if err != nil {
		ev.Err = safeError(withoutURL(err), r)
	}
	h(ev)
}

// sendsErrorsIn2xx reports whether responses of v may carry an error in a
// 2xx body and so are worth reading ahead: the vendor's profile says so
// (ErrorsIn2xx), and an undetected vendor might. (Client.Do and Decode
// still check a small 2xx body of any vendor; only the retry of such an
// error needs the read-ahead.)
func sendsErrorsIn2xx(v Vendor) bool {
	p := lookupProfile(v)
	return p == nil || p.Vendor == Generic || p.ErrorsIn2xx
}

// breakerOutcome classifies a response for the breaker: failures are 5xx,
// KindUnavailable and KindInternal; rate limits are neither; the rest
// (2xx, other 4xx) are successes.
func breakerOutcome(status int, v *Error) error {
	switch {
	case v != nil && v.Kind == KindRateLimited, status == http.StatusTooManyRequests:
		return errBreakerExcluded
	case status >= 500, v != nil && (v.Kind == KindUnavailable || v.Kind == KindInternal):
		return errBreakerFailure
	}
	return nil
}

// checkRetry is go-retryablehttp's CheckRetry: it decides, logs, and waits.
// The wait happens here rather than in Backoff because only here are the
// context (for its deadline) and the decoded response both at hand.
func (t *Transport) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	st := stateOf(ctx)
	if st == nil {
		return false, nil
	}
	if err == nil && st.verdict == nil {
		return false, nil // success, or a response with nothing to retry
	}
	verdict := st.verdict
	if err != nil {
		verdict = nil
		err = withoutURL(err) // the log and OnRetry get the cause only
	}
	d := t.decide(st, verdict, err)
	if !d.retry {
		if l := t.cfg.logger; l != nil {
			l.LogAttrs(st.Context, slog.LevelDebug, "memerr: not retrying",
				slog.String("method", st.req.Method), slog.String("url", safeURL(st.req.URL)),
				slog.Int("attempt", st.attempts), slog.String("reason", d.why))
		}
		return false, nil
	}
	t.retrying(st, resp, verdict, err, d.wait)
	if resp != nil {
		// Give the connection back to the pool before waiting; the bytes
		// read stay replayable in case the wait is cut short.
		if ib, ok := resp.Body.(*inspectedBody); ok {
			ib.release()
		}
	}
	if !t.sleep(st.Context, d.wait) {
		if b := t.cfg.budget; b != nil {
			b.refund(st.spent)
			st.spent = 0
		}
		return false, nil
	}
	return true, nil
}

// release closes the original body but keeps the bytes read for replay.
func (b *inspectedBody) release() {
	b.mu.Lock()
	rest := b.rest
	b.rest = nil
	b.mu.Unlock()
	if rest != nil {
		discard(rest)
	}
}

// retrying logs a retry and runs the OnRetry hook.
func (t *Transport) retrying(st *reqState, resp *http.Response, verdict *Error, err error, wait time.Duration) {
	if t.cfg.logger == nil && t.cfg.hooks.OnRetry == nil {
		return
	}
	ev := RetryEvent{Method: st.req.Method, URL: safeURL(st.req.URL), Attempt: st.attempts, Wait: wait, Context: st.Context}
	if resp != nil {
		ev.StatusCode = resp.StatusCode
	}
	if verdict != nil {
		ev.Err = verdict
	} else {
		ev.Err = safeError(err, st.req)
	}
	if h := t.cfg.hooks.OnRetry; h != nil {
		h(ev)
	}
	if l := t.cfg.logger; l != nil {
		attrs := []slog.Attr{
			slog.String("method", ev.Method),
			slog.String("url", ev.URL),
			slog.Int("attempt", ev.Attempt),
			slog.Duration("wait", wait),
		}
		if verdict != nil {
			attrs = append(attrs, slog.Int("status", verdict.StatusCode), slog.String("vendor", string(verdict.Vendor)),
				slog.String("code", verdict.Code), slog.String("kind", verdict.Kind.String()))
		} else {
			attrs = append(attrs, slog.String("error", ev.Err.Error()))
		}
		l.LogAttrs(st.Context, slog.LevelInfo, "memerr: retrying request", attrs...)
	}
}

func (t *Transport) breakerChanged(host string, from, to gobreaker.State) {
	if l := t.cfg.logger; l != nil {
		l.LogAttrs(context.Background(), slog.LevelWarn, "memerr: circuit breaker "+to.String(),
			slog.String("host", host), slog.String("from", from.String()), slog.String("to", to.String()))
	}
	if h := t.cfg.hooks.OnBreakerChange; h != nil {
		h(BreakerChange{Host: host, From: circuitState(from), To: circuitState(to)})
	}
}

// safeError is err with anything credential-like removed from its text.
func safeError(err error, req *http.Request) error {
	if err == nil {
		return nil
	}
	msg := scrub(redact(err.Error()), requestSecrets(req))
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func waitedInCheckRetry(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return 0 }

// passThrough is go-retryablehttp's ErrorHandler: it returns the final
// response (which go-retryablehttp would otherwise drop) or the error.
func passThrough(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err != nil {
		if resp != nil {
			discard(resp.Body)
		}
		return nil, err
	}
	return resp, nil
}

// prepareRetry rewinds the request body for the next attempt.
func prepareRetry(r *http.Request) error {
	st := stateOf(r.Context())
	if st == nil || st.getBody == nil {
		return nil
	}
	body, err := st.getBody()
	if err != nil {
		return fmt.Errorf("memerr: rewinding request body: %w", err)
	}
	r.Body = body
	return nil
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// attemptsError wraps the error of the last of several attempts.
type attemptsError struct {
	err      error
	attempts int
}

func (e *attemptsError) Error() string {
	return "memerr: giving up after " + strconv.Itoa(e.attempts) + " attempts: " + e.err.Error()
}
func (e *attemptsError) Unwrap() error { return e.err }

// Client sends requests through a Transport and turns every failure into a
// *Error. Its HTTPClient can be handed to any SDK that accepts an
// *http.Client.
type Client struct {
	t      *Transport
	hc     *http.Client
	header http.Header
}

// NewClient returns a Client whose http.Client uses NewTransport(nil, opts...)
// (WithBaseTransport sets the transport under it).
func NewClient(opts ...Option) *Client {
	t := NewTransport(nil, opts...)
	return &Client{t: t, hc: &http.Client{Transport: t}, header: t.cfg.header}
}

// HTTPClient returns the client's *http.Client, whose Transport is the
// client's *Transport. It follows redirects like any http.Client.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Transport returns the client's Transport.
func (c *Client) Transport() *Transport { return c.t }

// Do sends req. On success it returns the response, its body unread. On any
// failure it returns a nil response and a *Error carrying Attempts: the
// vendor's decoded error for a failed response (its body read and closed),
// or, when no response was obtained, an *Error of Vendor Generic whose
// Unwrap gives the cause — the network error, ErrCircuitOpen (with a
// *BreakerError), or the context's error — with KindUnavailable, or
// KindUnknown when the request's own context was cancelled or timed out. Its message never contains the
// request's URL, query or credentials.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.failure(req, err)
	}
	body := resp.Body
	if err := (Decoder{Vendor: c.t.vendorFor(resp.Request.URL), MaxErrorBody: c.t.cfg.maxErrorBody}).Decode(resp); err != nil {
		if e, ok := err.(*Error); ok && e.Attempts == 0 {
			// A 2xx error of a vendor the transport does not read ahead,
			// found here: one attempt, unless the retry loop said more.
			e.Attempts = 1
			if ab, ok := body.(*attemptsBody); ok {
				e.Attempts = ab.attempts
			}
		}
		return nil, err
	}
	return resp, nil
}

// failure turns an error without response into a *Error.
func (c *Client) failure(req *http.Request, err error) *Error {
	err = withoutURL(err)
	e := &Error{Vendor: Generic, Attempts: 1, Kind: KindUnavailable}
	var ae *attemptsError
	if errors.As(err, &ae) {
		e.Attempts = ae.attempts
		err = ae.err
	}
	var be *BreakerError
	if errors.As(err, &be) {
		e.Vendor = c.t.vendorFor(req.URL)
		if e.Vendor == Auto {
			e.Vendor = Generic
		}
	}
	if req.Context().Err() != nil {
		// The caller's own context ended (cancelled or past its
		// deadline): nothing is known of the server.
		e.Kind = KindUnknown
	}
	e.Message = strings.TrimPrefix(scrub(redact(err.Error()), requestSecrets(req)), "memerr: ")
	e.cause = err
	return e
}

// MaxJSONBody bounds the success body DoJSON reads: 64 MiB.
const MaxJSONBody = 64 << 20

// DoJSON sends a request with in marshalled as its JSON body (no body when
// in is nil) and decodes the vendor's data payload of a successful response
// into out (nothing when out is nil): the "data" member of every vendor's
// success envelope, or the whole body when it has no envelope. Failures are
// *Error as from Do; a body that cannot be decoded into out gives an error
// wrapping the json error.
func (c *Client) DoJSON(ctx context.Context, method, rawURL string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("memerr: encoding request body: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return fmt.Errorf("memerr: building request: %w", withoutURL(err))
	}
	for k, vs := range c.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxJSONBody+1))
	if err != nil {
		return c.failure(req, err)
	}
	if len(data) > MaxJSONBody {
		return fmt.Errorf("memerr: response body larger than %d bytes", MaxJSONBody)
	}
	if out == nil {
		return nil
	}
	payload := successData(c.t.vendorFor(req.URL), resp.Header, data)
	if len(bytes.TrimSpace(payload)) == 0 || string(payload) == "null" {
		return nil
	}
	if err := json.Unmarshal(payload, out); err != nil {
		return fmt.Errorf("memerr: decoding response data: %w", err)
	}
	return nil
}

// withoutURL unwraps net/http's and net/url's *url.Error, whose text quotes
// the request URL with its query, to the cause.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
