package memerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// RetryBudget is a token bucket shared by the requests of one breaker scope
// (a host by default), like the AWS SDK's standard retryer: every retry
// spends tokens and every successful response refunds one, so a long outage
// stops retries once the bucket is empty instead of multiplying the load on
// a struggling server, and an outage at one host spends no other host's
// retries. It is safe for concurrent use.
type RetryBudget struct {
	tokens   atomic.Int64
	capacity int64
	cost     int64 // per retry after a response
	netCost  int64 // per retry after a network error or timeout
}

// NewRetryBudget returns a full bucket of capacity tokens in which a retry
// after an error response costs cost tokens and a retry after a network
// error costs twice that. capacity ≤ 0 means 500, cost ≤ 0 means 5 (so a
// transport that sees nothing but failures retries about 100 times before
// it sends each request once only).
func NewRetryBudget(capacity, cost int) *RetryBudget {
	if capacity <= 0 {
		capacity = 500
	}
	if cost <= 0 {
		cost = 5
	}
	b := &RetryBudget{capacity: int64(capacity), cost: int64(cost), netCost: 2 * int64(cost)}
	b.tokens.Store(int64(capacity))
	return b
}

// Tokens returns the tokens left.
func (b *RetryBudget) Tokens() int { return int(b.tokens.Load()) }

// costOf is the tokens one retry spends: after a network error, twice the
// cost of a retry after an error response.
func (b *RetryBudget) costOf(network bool) int64 {
	if network {
		return b.netCost
	}
	return b.cost
}

// take spends n tokens if there are that many.
func (b *RetryBudget) take(n int64) bool {
	for {
		t := b.tokens.Load()
		if t < n {
			return false
		}
		if b.tokens.CompareAndSwap(t, t-n) {
			return true
		}
	}
}

// refund returns n tokens, up to the capacity. A full bucket (the common
// case) costs one atomic load.
func (b *RetryBudget) refund(n int64) {
	for {
		t := b.tokens.Load()
		if t >= b.capacity {
			return
		}
		if b.tokens.CompareAndSwap(t, min(b.capacity, t+n)) {
			return
		}
	}
}

type idempotentKey struct{}

// Idempotent returns a shallow copy of req marked as safe to retry after any
// failure, as GET is. Use it for a POST or PATCH that the server
// deduplicates by itself. A request with an Idempotency-Key or
// X-Idempotency-Key header needs no mark when its vendor's profile says it
// honours such keys (Profile.IdempotencyKeys: none of the five built-in
// vendors documents it; Generic and undetected vendors are assumed to).
func Idempotent(req *http.Request) *http.Request {
	return req.WithContext(IdempotentContext(req.Context()))
}

// IdempotentContext returns a copy of ctx that marks every request made
// with it as Idempotent does one: for Client.DoJSON, which makes its
// request from the context it is given.
func IdempotentContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// isIdempotent reports whether repeating r, sent to vendor v, cannot apply
// it twice.
func isIdempotent(r *http.Request, v Vendor) bool {
	switch r.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if (len(r.Header["Idempotency-Key"]) > 0 || len(r.Header["X-Idempotency-Key"]) > 0) && honoursIdempotencyKeys(v) {
		return true
	}
	marked, _ := r.Context().Value(idempotentKey{}).(bool)
	return marked
}

// notSent reports whether a network error certainly happened before the
// request reached the server: the dial failed.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// permanentNetErr reports network errors a retry cannot cure: certificate
// failures and names that do not exist.
func permanentNetErr(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var dns *net.DNSError
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) {
		return true
	}
	return errors.As(err, &dns) && dns.IsNotFound
}

// retryDecision is the retry policy's answer about one attempt.
type retryDecision struct {
	retry   bool
	wait    time.Duration
	network bool   // after a network error or timeout: the budget charges more
	why     string // when not retrying a failure: the reason, for the log
}

// decide applies the retry policy to the last attempt of c: its decoded
// failure (c.verdict), or netErr, the error of an attempt that got no
// response. It neither waits nor spends.
func (t *Transport) decide(c *call, netErr error) retryDecision {
	ctx := c.req.Context()
	if ctx.Err() != nil {
		return retryDecision{why: "context done"}
	}
	var be *BreakerError
	var bodyErr *BodyError
	var he *HoldError
	switch {
	case errors.As(netErr, &be):
		return retryDecision{why: "circuit open"}
	case errors.As(netErr, &he):
		return retryDecision{why: "the server asked for a longer wait"}
	case errors.As(netErr, &bodyErr):
		return retryDecision{why: "the request body could not be read"}
	case c.attempts > t.cfg.maxRetries:
		return retryDecision{why: "retries exhausted"}
	case c.hasBody && !c.replay:
		return retryDecision{why: "request body cannot be replayed"}
	}
	verdict := c.verdict
	vendor := t.vendorFor(c.req.URL)
	if verdict != nil {
		vendor = verdict.Vendor
	}
	idem := isIdempotent(c.req, vendor)
	network := netErr != nil
	switch {
	case network:
		if permanentNetErr(netErr) {
			return retryDecision{why: "permanent network error"}
		}
		if !idem && !notSent(netErr) {
			return retryDecision{why: "non-idempotent request may have been applied"}
		}
	case !verdict.Kind.Retryable():
		return retryDecision{why: "not retryable: " + verdict.Kind.String()}
	case !idem && !serverDidNotAct(verdict):
		return retryDecision{why: "non-idempotent request may have been applied"}
	}
	now := timeNow()
	if b := c.scope.breaker; b != nil && b.isOpen(now) {
		return retryDecision{why: "circuit opened"}
	}

	var wait time.Duration
	if verdict != nil && verdict.RetryAfter > 0 {
		if verdict.RetryAfter > t.cfg.maxRetryWait {
			return retryDecision{why: "server asks for a wait longer than MaxRetryWait"}
		}
		wait = verdict.RetryAfter + t.hintJitter(verdict.RetryAfter)
	} else {
		wait = t.backoff(c.attempts)
	}
	if dl, ok := ctx.Deadline(); ok && dl.Sub(now) <= wait {
		return retryDecision{why: "wait would pass the context deadline"}
	}
	return retryDecision{retry: true, wait: wait, network: network}
}

// serverDidNotAct reports failures after which a non-idempotent request is
// known not to have been applied: an HTTP 503, whatever code its body
// carries; rate limits; and unavailability that is not a gateway's (502
// and 504 may come after the upstream acted).
func serverDidNotAct(e *Error) bool {
	if e.StatusCode == http.StatusServiceUnavailable {
		return true
	}
	switch e.Kind {
	case KindRateLimited:
		return true
	case KindUnavailable:
		return e.StatusCode != http.StatusBadGateway && e.StatusCode != http.StatusGatewayTimeout
	}
	return false
}

// backoff is exponential with full jitter: the wait after the attempt-th
// attempt (before retry number attempt) is random between min and
// min·2^attempt, capped at max. The first retry is spread too, so clients
// that failed together do not all come back together.
func (t *Transport) backoff(attempt int) time.Duration {
	lo, hi := t.cfg.backoffMin, t.cfg.backoffMin
	for i := 0; i < attempt && hi < t.cfg.backoffMax; i++ {
		hi *= 2
	}
	hi = min(hi, t.cfg.backoffMax)
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(t.randN(int64(hi-lo)+1))
}

// hintJitter is the small positive spread added to a server's wait hint so
// that clients told the same moment do not return in the same instant: up
// to 10% of the hint, at most 250ms, at least 1ms.
func (t *Transport) hintJitter(hint time.Duration) time.Duration {
	j := min(hint/10, 250*time.Millisecond)
	if j < time.Millisecond {
		j = time.Millisecond
	}
	return time.Duration(t.randN(int64(j))) + 1
}

func (t *Transport) randN(n int64) int64 {
	if t.rand != nil {
		return t.rand(n)
	}
	return rand.Int64N(n)
}

// drainLimit bounds how much of an unread body is drained before a retry so
// that its connection can be reused; a longer body costs a new connection.
const drainLimit = 256 << 10

// discard drains (bounded) and closes a response body.
func discard(body io.ReadCloser) {
	if body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, drainLimit)
	_ = body.Close()
}
