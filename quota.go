package memerr

import (
	"math"
	"net/http"
	"sync"
	"time"
)

// Quota is a rate of requests a scope may receive: Requests per Per, sent
// evenly (one every Per/Requests) except for Burst requests at once after a
// quiet spell. The rate in force starts at Requests per Per; a throttle from
// the vendor (HTTP 429 or KindRateLimited) halves it, at most once per
// QuotaCooldown, never below Min; successes raise it back by Requests/60
// per second, so a client finds an undocumented limit lower than Requests
// by itself (AIMD). Limiters other than LocalLimiter follow the same rules.
type Quota struct {
	Requests int           // requests per Per; ≤ 0 means no quota
	Per      time.Duration // ≤ 0 means no quota
	Burst    int           // requests that may go at once after a quiet spell; default 1 (evenly spaced)
	Min      int           // the floor of the rate in force, per Per; default Requests/10, at least 1
}

// QuotaCooldown is the least time between two decreases of a quota's rate:
// the throttles of the requests already in flight at the first do not
// halve it again.
const QuotaCooldown = time.Second

// valid reports whether q limits anything.
func (q Quota) valid() bool { return q.Requests > 0 && q.Per > 0 }

// Bounds returns the ceiling and the floor of the rate in force, per Per,
// and the burst, with the defaults applied.
func (q Quota) Bounds() (ceiling, floor float64, burst int) {
	ceiling, floor, burst = float64(q.Requests), float64(q.Min), q.Burst
	if q.Min <= 0 {
		floor = ceiling / 10
	}
	floor = max(1, min(floor, ceiling))
	if burst <= 0 {
		burst = 1
	}
	return ceiling, floor, burst
}

// Limiter keeps the scopes that have a quota (WithQuota) under it. The
// Transport asks it before every attempt to such a scope, after the hold
// check, and tells it how each answered attempt ended.
//
// LocalLimiter keeps quotas in memory for one process; the nested module
// github.com/memerr/memerr/fleet keeps them for a whole fleet on Redis.
// Whatever a Limiter answers, the Transport never waits longer than
// maxWait.
type Limiter interface {
	// Take takes a place for one request to scope in q and returns the
	// wait before the request may be sent (0: now), when that wait is at
	// most maxWait. Otherwise it takes nothing and returns ok false with
	// the wait the request would need. It must return quickly (a
	// Limiter on a remote store bounds its I/O).
	Take(scope string, q Quota, maxWait time.Duration) (wait time.Duration, ok bool)
	// Observe tells how an attempt that got a response ended: throttled
	// (HTTP 429 or KindRateLimited), which lowers the rate in force, or a
	// success, which raises it back. It must not block. Server failures
	// and network errors are not observed.
	Observe(scope string, q Quota, throttled bool)
}

// QuotaCanceler is a Limiter that can give a place back. The Transport
// calls Cancel for a request that Take gave a place to but that was not
// sent after all (its context ended while it waited its turn, or its
// scope's breaker refused it), so that the requests after it do not wait
// behind a place nobody used. A Limiter without it keeps such places
// taken. LocalLimiter implements it.
type QuotaCanceler interface {
	// Cancel gives back one place in scope's quota q taken by Take. It
	// must not block.
	Cancel(scope string, q Quota)
}

// WithQuota keeps the requests to rawURL's scope under q: the scope
// requests to rawURL go through, as Transport.BreakerState names it
// (scheme://host:port by default, so "https://api.coze.com" is the whole
// host). Before each attempt to the scope, the Transport takes a place
// in the quota; a request over it waits its turn when that fits its
// deadline and MaxRetryWait, and otherwise fails at once, unsent, with a
// *HoldError of Kind KindRateLimited and Code "quota" (Client.Do: an *Error
// of KindRateLimited with RetryAfter set). May be given for several scopes;
// a q that limits nothing removes the scope's quota. Default: no quota, and
// the request path costs one nil check.
//
// The quota is kept by WithLimiter's Limiter; else by the fleet (WithFleet)
// when it is a Limiter, as memerrfleet's is, so the whole fleet respects
// it; else by a LocalLimiter of the Transport's own.
func WithQuota(rawURL string, q Quota) Option {
	return func(c *config) {
		if c.quotaURLs == nil {
			c.quotaURLs = map[string]Quota{}
		}
		c.quotaURLs[rawURL] = q
	}
}

// WithLimiter keeps the quotas of WithQuota in l; several Transports may
// share one. Default: see WithQuota.
func WithLimiter(l Limiter) Option { return func(c *config) { c.limiter = l } }

// quotaCode is the Code of the HoldError of a request over its quota.
const quotaCode = "quota"

// resolveQuotas keys the quotas of WithQuota by scope and picks their
// limiter; it runs once the options are all applied.
func (c *config) resolveQuotas() {
	c.quotas = nil
	for raw, q := range c.quotaURLs {
		if !q.valid() {
			continue
		}
		key := raw
		if req, err := http.NewRequest(http.MethodGet, raw, nil); err == nil && req.URL.Host != "" {
			if key = c.scopeKey(req); key == "" {
				key = canonicalHost(req.URL)
			}
		}
		if c.quotas == nil {
			c.quotas = map[string]*Quota{}
		}
		c.quotas[key] = &q
	}
	if c.quotas == nil || c.limiter != nil {
		return
	}
	if l, ok := c.fleet.(Limiter); ok {
		c.limiter = l
	} else {
		c.limiter = NewLocalLimiter()
	}
}

// takeQuota takes the attempt's place in its scope's quota, if it has
// one: the attempt waits its turn when that fits its deadline and
// MaxRetryWait (less what it waited for holds), and otherwise fails at
// once with a *HoldError; after its wait the holds are looked at again. An
// attempt that the scope's open breaker will refuse fails at once with its
// *BreakerError instead, taking no place and waiting no turn: else the
// requests of the open period would each wait to be refused, and push the
// trial that follows it behind places nobody used.
func (c *call) takeQuota(r *http.Request) error {
	q := c.scope.quota
	if q == nil {
		return nil
	}
	now := timeNow()
	if b := c.scope.breaker; b != nil {
		if be := b.refusal(now); be != nil {
			return be
		}
	}
	maxWait := c.t.cfg.maxRetryWait - c.waited
	if dl, ok := r.Context().Deadline(); ok {
		maxWait = min(maxWait, dl.Sub(now)-time.Millisecond)
	}
	maxWait = max(0, maxWait)
	wait, ok := c.t.cfg.limiter.Take(c.scope.key, *q, maxWait)
	if !ok || wait > maxWait {
		vendor := c.t.vendorOf(r.URL, c.scope)
		if vendor == Auto {
			vendor = Generic
		}
		return &HoldError{Scope: c.scope.key, Vendor: vendor, Code: quotaCode, Kind: KindRateLimited, Remaining: min(max(wait, 0), MaxHint)}
	}
	c.placed = true
	if wait <= 0 {
		return nil
	}
	err := c.waitBefore(r, wait)
	if err == nil {
		// A hold learned while the attempt waited its turn keeps it off too.
		err = c.waitOutHold(r)
	}
	if err != nil {
		c.cancelQuota() // not sent: its place goes back
	}
	return err
}

// cancelQuota gives back the place takeQuota took for an attempt that is
// not sent after all, when the limiter can (QuotaCanceler).
func (c *call) cancelQuota() {
	if !c.placed {
		return
	}
	c.placed = false
	if qc, ok := c.t.cfg.limiter.(QuotaCanceler); ok {
		qc.Cancel(c.scope.key, *c.scope.quota)
	}
}

// observeQuota tells the limiter how an answered attempt to a scope with
// a quota ended: outcome is breakerOutcome's (excluded: a rate limit).
func (c *call) observeQuota(outcome error) {
	q := c.scope.quota
	if q == nil || outcome == errBreakerFailure {
		return
	}
	c.t.cfg.limiter.Observe(c.scope.key, *q, outcome == errBreakerExcluded)
}

// sleep waits d (through the waitFor seam in tests), or until r's context
// is done.
func (t *Transport) sleep(r *http.Request, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if t.waitFor != nil {
		if d = t.waitFor(d); d <= 0 {
			return nil
		}
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-r.Context().Done():
		return r.Context().Err()
	case <-tm.C:
		return nil
	}
}

// LocalLimiter is a Limiter in memory, for one process: a GCRA (the
// generic cell rate algorithm, a token bucket kept as one moment per
// scope) whose rate follows the AIMD rules written on Quota. The zero
// value is not ready; use NewLocalLimiter. It is safe for concurrent use,
// and may be shared by several Transports.
type LocalLimiter struct {
	mu     sync.Mutex
	scopes map[string]*localQuota
}

// localQuota is one scope's state in a LocalLimiter.
type localQuota struct {
	tat      time.Time // the theoretical arrival time of the next request, on timeNow's clock
	rate     float64   // requests per Per in force; 0 until the first Take
	raised   time.Time // the last increase of rate
	lowered  time.Time // the last decrease of rate
	lastSeen time.Time
}

// NewLocalLimiter returns an empty LocalLimiter.
func NewLocalLimiter() *LocalLimiter { return &LocalLimiter{scopes: map[string]*localQuota{}} }

// Take implements Limiter.
func (l *LocalLimiter) Take(scope string, q Quota, maxWait time.Duration) (time.Duration, bool) {
	if !q.valid() {
		return 0, true
	}
	now := timeNow()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.get(scope, q, now)
	interval := time.Duration(float64(q.Per) / s.rate)
	_, _, burst := q.Bounds()
	tat := s.tat
	if tat.Before(now) {
		tat = now
	}
	// The request may go once now reaches tat less the burst's tolerance.
	wait := max(0, tat.Add(-time.Duration(burst-1)*interval).Sub(now))
	if wait > maxWait {
		return wait, false
	}
	s.tat = tat.Add(interval)
	return wait, true
}

// Cancel implements QuotaCanceler: the scope's next place comes one
// interval earlier, as if the cancelled request had never taken its own.
func (l *LocalLimiter) Cancel(scope string, q Quota) {
	if !q.valid() {
		return
	}
	now := timeNow()
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.scopes[scope]
	if !ok || !s.tat.After(now) {
		return // the place was in the past: nothing to give back
	}
	s.tat = s.tat.Add(-time.Duration(float64(q.Per) / s.rate))
}

// Observe implements Limiter.
func (l *LocalLimiter) Observe(scope string, q Quota, throttled bool) {
	if !q.valid() {
		return
	}
	now := timeNow()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.get(scope, q, now)
	hi, lo, _ := q.Bounds()
	s.rate = aimd(s.rate, hi, lo, throttled, now.Sub(s.raised), now.Sub(s.lowered))
	if throttled {
		if now.Sub(s.lowered) >= QuotaCooldown {
			s.lowered = now
		}
	} else {
		s.raised = now
	}
}

// get is scope's state, made when new, its rate within q's bounds; l.mu is
// held. States unused for an hour are dropped when a new scope comes.
func (l *LocalLimiter) get(scope string, q Quota, now time.Time) *localQuota {
	s, ok := l.scopes[scope]
	if !ok {
		for k, o := range l.scopes {
			if now.Sub(o.lastSeen) > time.Hour {
				delete(l.scopes, k)
			}
		}
		s = &localQuota{raised: now}
		l.scopes[scope] = s
	}
	s.lastSeen = now
	hi, lo, _ := q.Bounds()
	if s.rate == 0 || s.rate > hi {
		s.rate = hi
	}
	s.rate = max(s.rate, lo)
	return s
}

// aimd is the rate in force after one observation, following the rules
// written on Quota: rate, within [floor, ceiling], is halved on a throttle
// when sinceLowered is at least QuotaCooldown, and otherwise raised by
// ceiling/60 per second of sinceRaised (at most two seconds' worth at
// once, so a quiet spell does not count as successes).
func aimd(rate, ceiling, floor float64, throttled bool, sinceRaised, sinceLowered time.Duration) float64 {
	if math.IsNaN(rate) || rate <= 0 || rate > ceiling {
		rate = ceiling
	}
	if throttled {
		if sinceLowered >= QuotaCooldown {
			rate /= 2
		}
	} else if sinceRaised > 0 {
		rate += ceiling / 60 * min(sinceRaised.Seconds(), 2)
	}
	return max(floor, min(rate, ceiling))
}
