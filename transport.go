package memerr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Transport is an http.RoundTripper that retries failed requests and breaks
// circuits per host (or per the scope WithBreakerScope chooses). Put it in
// any http.Client:
//
//	hc := &http.Client{Transport: memerr.NewTransport(nil, memerr.WithVendor(memerr.Coze))}
//
// It follows the RoundTripper contract: a response from the server comes
// back with a nil error and its body unread, whatever its status (after the
// retries, the last response); an error only when no response was obtained
// (network failure, open breaker, the caller's context done or its request
// body unreadable). It follows no redirects.
//
// Every attempt passes its scope's circuit breaker (gobreaker's two-step
// breaker). The retry loop is go-retryablehttp's, with memerr's policy
// (retry.go): retry network errors, attempt timeouts and failures of
// KindRateLimited, KindUnavailable and KindInternal — including errors
// inside an HTTP 200, found by reading ahead JSON bodies of at most
// PeekLimit bytes — waiting for the server's hint or an exponential
// backoff, within the context's deadline, MaxRetryWait and the scope's
// retry budget. POST and PATCH are retried only when the server certainly
// did not act, unless they were marked with Idempotent or carry an
// Idempotency-Key for a vendor whose profile honours one (none of the five
// built-in vendors does; see Idempotent).
//
// The zero Transport works as NewTransport(nil) does. A Transport is safe
// for concurrent use.
type Transport struct {
	once   sync.Once
	ready  atomic.Bool
	base   http.RoundTripper
	cfg    config
	scopes *scopes
	prober FleetProber // cfg.fleet, when it elects the fleet's trial requests
	// tripper is cfg.fleet, when it counts breaker failures across the
	// fleet and the breakers are on.
	tripper FleetTripper

	// Seams for tests: the random source of jitter, and the time
	// go-retryablehttp sleeps for a decided wait (nil: the wait itself).
	rand    func(n int64) int64
	waitFor func(time.Duration) time.Duration
}

// NewTransport returns a Transport sending each attempt through base (nil:
// a clone of http.DefaultTransport keeping up to
// DefaultMaxIdleConnsPerHost idle connections per host).
func NewTransport(base http.RoundTripper, opts ...Option) *Transport {
	t := &Transport{}
	t.setup(base, newConfig(opts))
	return t
}

// setup configures t once; a zero Transport is set up by its first use.
func (t *Transport) setup(base http.RoundTripper, cfg config) {
	t.once.Do(func() {
		if base == nil {
			base = cfg.base
		}
		if base == nil {
			dt := http.DefaultTransport.(*http.Transport).Clone()
			// net/http keeps 2 idle connections per host; a client of one
			// API host sending in parallel would open and close
			// connections all the time.
			dt.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
			base = dt
		}
		t.base, t.cfg = base, cfg
		t.prober, _ = cfg.fleet.(FleetProber)
		if !cfg.noBreaker {
			t.tripper, _ = cfg.fleet.(FleetTripper)
		}
		t.scopes = newScopes(&t.cfg, t.breakerChanged)
		t.ready.Store(true)
	})
}

// init sets up a zero Transport on its first use.
func (t *Transport) init() {
	if !t.ready.Load() {
		t.setup(nil, newConfig(nil))
	}
}

// RoundTrip sends req with retries and circuit breaking; see Transport.
// The caller's request is never modified.
//
// The request goes through go-retryablehttp's loop once: each attempt is
// sent by call.RoundTrip (breaker, base transport, read-ahead), after which
// CheckRetry (call.checkRetry) decides whether to go again and how long to
// wait, Backoff returns that wait, and PrepareRetry gives the next attempt
// its rewound body.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("memerr: request has no URL")
	}
	c, err := t.newCall(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.rc.Do(&c.rr)
	resp, err = c.finish(resp, err)
	c.release()
	return resp, err
}

// call is the state of one RoundTrip, and the go-retryablehttp client that
// runs its loop: the loop's hooks receive no request state, so they are the
// call's methods. Calls are recycled (calls) so that binding the hooks costs
// nothing per request; nothing keeps a call once RoundTrip has returned.
type call struct {
	callState
	rr retryablehttp.Request
	rc retryablehttp.Client
	hc http.Client // sends each attempt through the call's RoundTrip
}

// callState is what one request sets in its call.
type callState struct {
	t       *Transport
	req     *http.Request // the caller's
	out     *http.Request // as sent: req itself, or a copy with its own body
	scope   *scope
	getBody func() (io.ReadCloser, error) // a fresh copy of the body; nil when there is none or it cannot be replayed
	hasBody bool
	replay  bool // the body, if any, can be sent again

	attempts int
	waited   time.Duration // the current attempt's waits for holds and its quota's turn, before it was sent: within MaxRetryWait in all
	body     *sentBody     // the current attempt's body, which notes the caller's read error
	verdict  *Error        // the last response's decoded failure; nil for success
	wait     time.Duration // decided by checkRetry, returned by backoff
	next     io.ReadCloser // the next attempt's body, rewound by checkRetry
	spent    int64         // budget tokens spent on this request's retries
	held     *hold         // the hold this request's own response set, which its retry waits out itself
	trial    *hold         // the fleet's ended open circuit whose trial this attempt is (call.probe); nil if none
	location []string      // the Location of the attempt's 3xx, kept from the inner client until finish
	placed   bool          // the attempt took a place in its scope's quota (takeQuota)
}

var calls = sync.Pool{New: func() any {
	c := new(call)
	c.hc = http.Client{
		Transport:     c,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.rc = retryablehttp.Client{
		HTTPClient:   &c.hc,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		PrepareRetry: c.prepareRetry,
		ErrorHandler: lastResponse,
	}
	return c
}}

// newCall prepares req's call: its scope, and a body that can be sent
// again. A request without body is sent as it is: neither net/http's
// client nor go-retryablehttp modifies it (a retry is sent on a copy).
func (t *Transport) newCall(req *http.Request) (*call, error) {
	c := calls.Get().(*call)
	c.callState = callState{t: t, req: req, out: req, scope: t.scopes.forRequest(req), replay: true}
	c.rc.RetryMax = t.cfg.maxRetries
	if req.RequestURI != "" || (req.Body != nil && req.Body != http.NoBody) {
		out := *req
		out.RequestURI = ""
		c.out = &out
	}
	if req.Body != nil && req.Body != http.NoBody {
		c.hasBody = true
		body := req.Body
		switch {
		case req.GetBody != nil:
			c.getBody = req.GetBody
		case t.cfg.maxRetries > 0:
			var err error
			if body, err = c.bufferBody(req.Context(), req.Body, t.cfg.maxReplayBody); err != nil {
				c.release()
				return nil, err
			}
		default:
			c.replay = false
		}
		c.out.Body = c.track(body)
	}
	c.rr = retryablehttp.Request{Request: c.out}
	return c, nil
}

// release gives the call back for reuse.
func (c *call) release() {
	c.callState = callState{}
	c.rr = retryablehttp.Request{}
	calls.Put(c)
}

// bufferBody reads a body without GetBody so it can be replayed, up to limit
// bytes; a longer body is sent once as it is. A read error is the caller's.
// A context that can end is watched while the body is read: when it ends
// first, the body is closed (which ends the read of a pipe, as net/http's
// transport ends its own write of a body) and its error returned.
func (c *call) bufferBody(ctx context.Context, orig io.ReadCloser, limit int64) (io.ReadCloser, error) {
	limit = min(limit, math.MaxInt64-1)
	read := func() ([]byte, error) { return io.ReadAll(io.LimitReader(orig, limit+1)) }
	var buf []byte
	var err error
	if ctx.Done() == nil {
		buf, err = read()
	} else {
		type result struct {
			buf []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			b, err := read()
			done <- result{b, err}
		}()
		select {
		case r := <-done:
			buf, err = r.buf, r.err
		case <-ctx.Done():
			orig.Close()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		orig.Close()
		return nil, &BodyError{Err: err}
	}
	if int64(len(buf)) > limit {
		c.replay = false
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), orig), orig}, nil
	}
	orig.Close()
	c.getBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return c.getBody()
}

// track wraps an attempt's body so that the caller's read error is known.
func (c *call) track(body io.ReadCloser) io.ReadCloser {
	c.body = &sentBody{ReadCloser: body}
	return c.body
}

// RoundTrip sends one attempt; the call is the transport of its own
// http.Client, through which go-retryablehttp sends. It passes the scope's
// breaker, sends r through the base transport under the attempt timeout,
// reads ahead a failure status or a small JSON body to decode the verdict,
// and reports the outcome to the breaker and the budget.
func (c *call) RoundTrip(r *http.Request) (*http.Response, error) {
	t := c.t
	c.attempts++
	c.verdict, c.location, c.placed, c.waited = nil, nil, false, 0
	err := c.waitOutHold(r)
	if err == nil {
		err = c.takeQuota(r)
	}
	if err != nil {
		closeBody(r)
		c.report(nil, errBreakerExcluded) // a trial elected but over the quota is given up
		c.attempted(r, timeNow(), nil, err)
		return nil, err
	}
	start := timeNow()
	b := c.scope.breaker
	var done func(error)
	if b != nil {
		var err error
		if done, err = b.allow(start); err != nil {
			c.cancelQuota()
			closeBody(r)
			c.report(nil, errBreakerExcluded)
			c.attempted(r, start, nil, err)
			return nil, err
		}
	}
	r, stop := c.withAttemptTimeout(r)
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		if stop != nil {
			stop(false)
		}
		err = c.attemptError(r, err)
		c.report(done, c.breakerOutcomeOf(err))
		c.attempted(r, start, nil, err)
		return nil, err
	}
	if resp.Request == nil {
		resp.Request = r // as net/http's transport sets it; the read-ahead scrubs its credentials from the verdict
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && len(resp.Header["Location"]) > 0 {
		// The inner http.Client acts on a redirect before its CheckRedirect
		// declines it: it fails on a Location it cannot parse, dropping the
		// response, and opens a body for a 307 or 308 through GetBody that
		// nobody closes. A 3xx without Location it hands back as it is;
		// finish puts the Location back.
		c.location = resp.Header["Location"]
		delete(resp.Header, "Location")
	}
	vendor, learned := t.vendorFor(r.URL), t.vendorOf(r.URL, c.scope)
	if resp.StatusCode >= 400 || (sendsErrorsIn2xx(learned) && wantsPeek(resp)) {
		ib := new(inspectedBody)
		v := ib.readAhead(resp, vendor, learned, t.cfg.maxErrorBody, true)
		if ib.cut != nil {
			// The body broke while it was read ahead. A success's body is
			// lost: the attempt failed as one cut before its headers does,
			// and is retried as such (a GET, say; a POST the server acted
			// on is not). So did any attempt that timed out meanwhile. A
			// failure status keeps its verdict, decoded from what came.
			err := c.attemptError(r, ib.cut)
			if resp.StatusCode < 400 || errors.As(err, new(*AttemptTimeoutError)) {
				ib.Close()
				if stop != nil {
					stop(false)
				}
				c.report(done, c.breakerOutcomeOf(err))
				c.attempted(r, start, nil, err)
				return nil, err
			}
		}
		if v != nil {
			v.Attempts = c.attempts
			c.verdict = v
		}
		if ib.vendor != "" {
			c.scope.vendor.Store(&ib.vendor)
		}
	}
	if v := c.verdict; v != nil && v.RetryAfter > 0 && (v.Kind == KindRateLimited || v.Kind == KindQuotaExceeded) {
		c.held = &hold{until: timeNow().Add(v.RetryAfter), kind: v.Kind, vendor: v.Vendor, code: v.Code}
		c.scope.holdUntil(c.held)
		if f := t.cfg.fleet; f != nil {
			f.Hold(c.scope.key, FleetHold{Until: c.held.until, Kind: c.held.kind, Vendor: c.held.vendor, Code: c.held.code})
		}
	}
	if stop != nil {
		// The attempt has its answer: the timeout stops, and the attempt's
		// context lives until the body is closed.
		stop(true)
		release := func() { stop(false) }
		if ib, ok := resp.Body.(*inspectedBody); !ok {
			resp.Body = releaseOnClose(resp.Body, release)
		} else if ib.rest != nil {
			ib.rest = releaseOnClose(ib.rest, release)
		} else {
			release() // read to its end already
		}
	}
	outcome := breakerOutcome(resp.StatusCode, c.verdict)
	c.report(done, outcome)
	c.observeQuota(outcome)
	if c.verdict == nil && c.scope.budget != nil {
		c.scope.budget.refund(1 + c.spent)
		c.spent = 0
	}
	c.attempted(r, start, resp, nil)
	return resp, nil
}

// waitOutHold keeps an attempt away from a scope whose server asked for a
// wait (a rate-limit or quota failure with a hint, in an earlier response
// of any request): the attempt waits the hold out, plus a little jitter,
// when that fits the request's deadline and MaxRetryWait, and otherwise is
// not sent and fails at once with a *HoldError. So after a Retry-After: 20
// the other requests to the host do not each collect their own refusal.
// With WithFleet, the hold is the later of the scope's and the fleet's;
// a fleet's open circuit that has ended sends only the trial the fleet
// elects (call.probe). After a wait it looks again: a later hold learned
// meanwhile (another request's 429, another replica's) is waited out or
// fails the attempt as well, within MaxRetryWait in all.
func (c *call) waitOutHold(r *http.Request) error {
	for {
		h := c.scope.hold.Load()
		if c.t.cfg.fleet != nil {
			h = c.fleetHold(h)
		}
		if h == nil || h == c.held {
			return nil // none, or this request's own, which its retry wait covers
		}
		if h.trial {
			if c.trial != nil {
				return nil // this attempt is the trial already
			}
			return c.probe(r, h)
		}
		now := timeNow()
		left := h.until.Sub(now)
		if left <= 0 {
			return nil
		}
		wait := left + c.t.hintJitter(left)
		dl, hasDeadline := r.Context().Deadline()
		// A circuit open on another replica fails at once, as an open breaker
		// here does; a wait hint is waited out when it fits.
		if h.code == circuitOpenCode || wait > c.t.cfg.maxRetryWait-c.waited || hasDeadline && dl.Sub(now) <= wait {
			return &HoldError{Scope: c.scope.key, Vendor: h.vendor, Code: h.code, Kind: h.kind, Remaining: left}
		}
		if err := c.waitBefore(r, wait); err != nil {
			return err
		}
	}
}

// waitBefore sleeps d before an attempt (for a hold or the quota), within r's
// context, and adds it to the attempt's waited: for MaxRetryWait, and for
// the attempt's hook.
func (c *call) waitBefore(r *http.Request, d time.Duration) error {
	err := c.t.sleep(r, d)
	if err == nil && d > 0 {
		c.waited += d
	}
	return err
}

// report tells how an attempt ended (its breaker outcome) to those that
// count outcomes: the scope's breaker (done, from allow; nil when the
// attempt did not pass it), the fleet's count of failures in a row, and the
// fleet's trial when this attempt is it.
func (c *call) report(done func(error), outcome error) {
	if done != nil {
		c.scope.breaker.report(done, outcome)
	}
	if c.t.tripper != nil {
		c.countInFleet(outcome)
	}
	if c.trial != nil {
		c.endTrial(outcome)
	}
}

// countInFleet reports an attempt's breaker outcome to the fleet's count of
// failures in a row (FleetTripper): a failure counts, a success starts it
// again, anything else (a rate limit, the caller's cancellation) neither.
func (c *call) countInFleet(outcome error) {
	switch outcome {
	case nil:
		c.t.tripper.Succeeded(c.scope.key)
	case errBreakerFailure:
		c.t.tripper.Failed(c.scope.key, c.t.cfg.breaker)
	}
}

// attemptError names the cause of an attempt that got no response: the
// caller's request body (unreadable, or of another length than its
// ContentLength), the attempt timeout, or the network.
func (c *call) attemptError(r *http.Request, err error) error {
	if c.body != nil && c.body.failed() != nil {
		return &BodyError{Err: c.body.failed()}
	}
	if c.body != nil && c.body.mismatched(r.ContentLength) {
		return &BodyError{Err: err}
	}
	if d := c.t.cfg.attemptTimeout; d > 0 && c.req.Context().Err() == nil && r.Context().Err() != nil {
		return &AttemptTimeoutError{Timeout: d, Err: err}
	}
	return err
}

// breakerOutcomeOf classifies an attempt without response for the breaker:
// the caller's own cancellation and body errors count as neither; network
// errors and attempt timeouts are failures.
func (c *call) breakerOutcomeOf(err error) error {
	var be *BodyError
	if c.req.Context().Err() != nil || errors.As(err, &be) {
		return errBreakerExcluded
	}
	return errBreakerFailure
}

// withAttemptTimeout gives r the attempt timeout, if one is set (else stop
// is nil). stop ends it: kept says a response was obtained, whose body then
// stays readable until it is closed.
func (c *call) withAttemptTimeout(r *http.Request) (_ *http.Request, stop func(kept bool)) {
	d := c.t.cfg.attemptTimeout
	if d <= 0 {
		return r, nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	timer := time.AfterFunc(d, cancel)
	return r.WithContext(ctx), func(kept bool) {
		timer.Stop()
		if !kept {
			cancel()
		}
	}
}

// releaseOnClose runs release when body is closed; an upgraded connection
// (101) stays writable.
func releaseOnClose(body io.ReadCloser, release func()) io.ReadCloser {
	if rw, ok := body.(io.ReadWriteCloser); ok {
		return &releaseRW{ReadWriteCloser: rw, release: release}
	}
	return &releaseBody{ReadCloser: body, release: release}
}

type releaseBody struct {
	io.ReadCloser
	release func()
}

func (b *releaseBody) Close() error { err := b.ReadCloser.Close(); b.release(); return err }

type releaseRW struct {
	io.ReadWriteCloser
	release func()
}

func (b *releaseRW) Close() error { err := b.ReadWriteCloser.Close(); b.release(); return err }

// checkRetry is go-retryablehttp's CheckRetry: it decides whether the last
// attempt is retried and how long to wait (kept for backoff), and rewinds
// the body for the next attempt. It does not wait.
func (c *call) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err == nil && c.verdict == nil {
		return false, nil // success, or a response with nothing to retry
	}
	if err != nil {
		err = withoutURL(err) // the log and OnRetry get the cause only
	}
	d := c.t.decide(c, err)
	var cost int64
	if b := c.scope.budget; d.retry && b != nil {
		if cost = b.costOf(d.network); b.take(cost) {
			c.spent += cost
		} else {
			d = retryDecision{why: "retry budget exhausted"}
		}
	}
	if d.retry && c.getBody != nil {
		next, gerr := c.getBody()
		if gerr != nil {
			d = retryDecision{why: "request body cannot be rewound: " + gerr.Error()}
			if b := c.scope.budget; b != nil && cost > 0 {
				b.refund(cost) // not spent after all
				c.spent -= cost
			}
		}
		c.next = next
	}
	if !d.retry {
		if l := c.t.cfg.logger; l != nil {
			attrs := []slog.Attr{slog.String("method", c.req.Method), slog.String("url", safeURL(c.req.URL)),
				slog.Int("attempt", c.attempts), slog.String("reason", d.why)}
			if v := c.verdict; v != nil && v.RequestID != "" {
				attrs = append(attrs, slog.String("request_id", v.RequestID))
			}
			l.LogAttrs(ctx, slog.LevelDebug, "memerr: not retrying", attrs...)
		}
		return false, nil
	}
	c.wait = d.wait
	c.retrying(ctx, resp, err, d.wait)
	return true, nil
}

// backoff is go-retryablehttp's Backoff: the wait checkRetry decided.
func (c *call) backoff(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	if c.t.waitFor != nil {
		return c.t.waitFor(c.wait)
	}
	return c.wait
}

// prepareRetry is go-retryablehttp's PrepareRetry: the next attempt gets the
// body checkRetry rewound.
func (c *call) prepareRetry(r *http.Request) error {
	if c.next != nil {
		r.Body = c.track(c.next)
		c.next = nil
	}
	return nil
}

// lastResponse is go-retryablehttp's ErrorHandler: it hands back the last
// response, which go-retryablehttp would otherwise drop, or the error.
func lastResponse(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err != nil {
		if resp != nil {
			discard(resp.Body)
		}
		return nil, err
	}
	return resp, nil
}

// finish turns the loop's result into RoundTrip's.
func (c *call) finish(resp *http.Response, err error) (*http.Response, error) {
	if c.next != nil {
		c.next.Close() // rewound for a retry the context cut short
	}
	if err != nil {
		// Without the inner client's wrapping (the caller's client wraps
		// again), and without the credentials a malformed response may
		// have echoed into net/http's error.
		err = safeError(withoutURL(err), c.req)
		if c.attempts > 1 {
			err = &attemptsError{err: err, attempts: c.attempts}
		}
		return nil, err
	}
	if ib, read := resp.Body.(*inspectedBody); read && c.attempts > 1 {
		ib.attempts = c.attempts // for a 2xx body larger than the read-ahead, judged by DoJSON
	} else if !read && c.attempts > 1 && resp.StatusCode != http.StatusSwitchingProtocols &&
		resp.Body != nil && resp.Body != http.NoBody {
		// A 2xx body not read ahead may still hold an error that Client.Do
		// finds later; it needs the count of the attempts made.
		resp.Body = &attemptsBody{ReadCloser: resp.Body, attempts: c.attempts}
	}
	if c.location != nil {
		resp.Header["Location"] = c.location
	}
	resp.Request = c.req // the caller's request, as sent by the caller
	return resp, nil
}

// attemptsBody carries the number of attempts behind a response whose body
// was not read ahead, when there were several, for Client.Do.
type attemptsBody struct {
	io.ReadCloser
	attempts int
}

// sentBody is an attempt's request body; it keeps the caller's read error
// and how many bytes it gave before its end.
type sentBody struct {
	io.ReadCloser
	mu  sync.Mutex
	err error
	n   int64 // bytes read
	eof bool  // read to its end
}

func (b *sentBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	b.n += int64(n)
	if err == io.EOF {
		b.eof = true
	} else if err != nil {
		b.err = err
	}
	b.mu.Unlock()
	return n, err
}

func (b *sentBody) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// mismatched reports whether the body ended at a length other than the
// request's declared ContentLength, which net/http refuses to send.
func (b *sentBody) mismatched(contentLength int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return contentLength > 0 && b.eof && b.n != contentLength
}

// BodyError is the error of a request whose own body could not be read: the
// caller's fault, never retried and never counted by a breaker. Unwrap
// gives the reader's error.
type BodyError struct {
	Err error // the error the request body's reader returned
}

// Error reads "memerr: reading request body: <the read error>".
func (e *BodyError) Error() string { return "memerr: reading request body: " + e.Err.Error() }

// Unwrap gives the read error.
func (e *BodyError) Unwrap() error { return e.Err }

// AttemptTimeoutError is the error of an attempt cut by WithAttemptTimeout.
// It counts as a breaker failure and is retried like a network error.
// errors.Is(err, context.DeadlineExceeded) holds.
type AttemptTimeoutError struct {
	Timeout time.Duration // the attempt timeout
	Err     error         // the transport's own error for the cut attempt
}

// Error reads "memerr: attempt timed out after 2s".
func (e *AttemptTimeoutError) Error() string {
	return "memerr: attempt timed out after " + e.Timeout.String()
}

// Unwrap gives context.DeadlineExceeded.
func (e *AttemptTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// attempted runs the OnAttempt hook, if any, for one attempt.
func (c *call) attempted(r *http.Request, start time.Time, resp *http.Response, err error) {
	h := c.t.cfg.hooks.OnAttempt
	if h == nil {
		return
	}
	ev := AttemptEvent{Method: r.Method, URL: safeURL(r.URL), Host: c.scope.key, Attempt: c.attempts, Duration: timeNow().Sub(start), Waited: c.waited,
		Vendor: c.t.vendorOf(r.URL, c.scope), Context: r.Context()}
	if resp != nil {
		ev.StatusCode = resp.StatusCode
	}
	switch {
	case c.verdict != nil:
		ev.Err = c.verdict
		ev.RequestID = c.verdict.RequestID // scrubbed with the verdict
	case err != nil:
		ev.Err = safeError(withoutURL(err), r)
	case resp != nil:
		if id := requestID(nil, resp.Header, nil, nil); id != "" {
			ev.RequestID = scrubRequest(id, r) // a server may echo the request's key
		}
	}
	defer c.t.recoverHook("OnAttempt")
	h(ev)
}

// retrying logs a retry and runs the OnRetry hook.
func (c *call) retrying(ctx context.Context, resp *http.Response, err error, wait time.Duration) {
	t := c.t
	if t.cfg.logger == nil && t.cfg.hooks.OnRetry == nil {
		return
	}
	ev := RetryEvent{Method: c.req.Method, URL: safeURL(c.req.URL), Attempt: c.attempts, Wait: wait, Context: ctx}
	if resp != nil {
		ev.StatusCode = resp.StatusCode
	}
	if c.verdict != nil {
		ev.Err = c.verdict
	} else {
		ev.Err = safeError(err, c.req)
	}
	if h := t.cfg.hooks.OnRetry; h != nil {
		t.runRetryHook(h, ev)
	}
	if l := t.cfg.logger; l != nil {
		attrs := []slog.Attr{
			slog.String("method", ev.Method),
			slog.String("url", ev.URL),
			slog.Int("attempt", ev.Attempt),
			slog.Duration("wait", wait),
		}
		if v := c.verdict; v != nil {
			attrs = append(attrs, slog.Int("status", v.StatusCode), slog.String("vendor", string(v.Vendor)),
				slog.String("code", v.Code), slog.String("kind", v.Kind.String()))
			if v.RequestID != "" { // what the vendor's support asks for; scrubbed like the rest of v
				attrs = append(attrs, slog.String("request_id", v.RequestID))
			}
		} else {
			attrs = append(attrs, slog.String("error", ev.Err.Error()))
		}
		l.LogAttrs(ctx, slog.LevelInfo, "memerr: retrying request", attrs...)
	}
}

// breakerChanged logs a breaker's change and runs the OnBreakerChange hook.
func (t *Transport) breakerChanged(ch BreakerChange) {
	if l := t.cfg.logger; l != nil {
		l.LogAttrs(context.Background(), slog.LevelWarn, "memerr: circuit breaker "+ch.To.String(),
			slog.String("host", ch.Host), slog.String("from", ch.From.String()), slog.String("to", ch.To.String()))
	}
	if h := t.cfg.hooks.OnBreakerChange; h != nil {
		t.runBreakerHook(h, ch)
	}
	if f := t.cfg.fleet; f != nil && ch.To == CircuitOpen {
		// The other replicas leave the scope alone while it is open here.
		if sc, ok := t.scopes.lookup(ch.Host); ok && sc.breaker != nil {
			if until := sc.breaker.openUntil.Load(); until > 0 {
				f.Hold(ch.Host, FleetHold{Until: time.Unix(0, until), Kind: KindUnavailable, Code: circuitOpenCode,
					Period: sc.breaker.period()})
			}
		}
	}
}

// runRetryHook runs an OnRetry hook; a panic in it is recovered.
func (t *Transport) runRetryHook(h func(RetryEvent), ev RetryEvent) {
	defer t.recoverHook("OnRetry")
	h(ev)
}

// runBreakerHook runs an OnBreakerChange hook; a panic in it is recovered.
func (t *Transport) runBreakerHook(h func(BreakerChange), ch BreakerChange) {
	defer t.recoverHook("OnBreakerChange")
	h(ch)
}

// recoverHook, deferred by the caller of a hook, recovers the hook's panic
// and logs it at Error level: a broken hook must neither fail the request,
// leaving its response unclosed and its budget unrefunded, nor stop the
// breaker from reporting its later changes. The panic's text is scrubbed
// and cut as an error's is.
func (t *Transport) recoverHook(hook string) {
	p := recover()
	if p == nil {
		return
	}
	if l := t.cfg.logger; l != nil {
		l.LogAttrs(context.Background(), slog.LevelError, "memerr: hook panicked",
			slog.String("hook", hook), slog.String("panic", redact(cutWords(fmt.Sprint(p)))))
	}
}

// CloseIdleConnections closes the idle connections of the base transport.
func (t *Transport) CloseIdleConnections() {
	t.init()
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// vendorFor is the vendor hint for a host.
func (t *Transport) vendorFor(u *url.URL) Vendor { return t.cfg.vendorFor(u) }

// vendorOf is the vendor of a response of u in scope s, for the success
// path: the one configured for the host (WithVendor, WithHostVendor), else
// the one last detected for sure in a response of the scope, else Auto.
// Remembering it lets the success path skip reading ahead a vendor that
// never reports errors inside a 2xx, or confirm a body from its first or
// last member; failures are still decoded as under Auto (decodeBody).
func (t *Transport) vendorOf(u *url.URL, s *scope) Vendor {
	v := t.vendorFor(u)
	if v == Auto {
		if d := s.vendor.Load(); d != nil {
			return *d
		}
	}
	return v
}

// vendorForRequest is vendorOf for r's scope.
func (t *Transport) vendorForRequest(r *http.Request) Vendor {
	if v := t.vendorFor(r.URL); v != Auto || t.scopes == nil {
		return v
	}
	return t.vendorOf(r.URL, t.scopes.forRequest(r))
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

// safeError is err with anything credential-like removed from its text
// (redact) and the credentials req carries replaced, which a server may
// echo in a malformed response that net/http's errors quote; a text of
// more than a few KiB (a garbage header line of megabytes, quoted) is cut.
// The errors its Unwrap chain reaches are scrubbed too, since error
// reporters print each of them; errors.Is and errors.As still find the
// original causes.
func safeError(err error, req *http.Request) error {
	if err == nil {
		return nil
	}
	return scrubbedError(err, requestSecrets(req))
}

// scrubbedError is safeError with the request's credentials known: err
// itself when neither its text nor its chain's holds anything to remove.
func scrubbedError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	inner := errors.Unwrap(err)
	next := scrubbedError(inner, secrets)
	text := err.Error()
	msg := scrub(redact(cutWords(text)), secrets)
	if msg == text && next == inner {
		return err
	}
	return &redactedError{msg: msg, err: err, next: next}
}

// redactedError shows an error whose text held a credential: its text
// scrubbed, its chain scrubbed, while Is, As and Timeout answer for the
// original.
type redactedError struct {
	msg  string
	err  error // the original
	next error // what the original unwraps to, scrubbed
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Unwrap() error        { return e.next }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
func (e *redactedError) As(target any) bool   { return errors.As(e.err, target) }

// Timeout answers for the original, as net/http's *url.Error asks its
// cause directly.
func (e *redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
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

// withoutURL unwraps net/http's and net/url's *url.Error, whose text quotes
// the request URL with its query, to the cause.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
