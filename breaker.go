package memerr

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrCircuitOpen is wrapped by the error a Transport returns when a scope's
// circuit breaker rejects a request without sending it. errors.As to
// *BreakerError gives the scope and the time left open.
var ErrCircuitOpen = errors.New("memerr: circuit open")

// CircuitState is the state of one circuit breaker.
type CircuitState uint8

// The breaker states. Values are never renumbered.
const (
	CircuitClosed   CircuitState = iota // requests pass; outcomes are counted
	CircuitHalfOpen                     // a few trial requests pass; their outcome closes or reopens it
	CircuitOpen                         // requests fail at once with ErrCircuitOpen
)

// String returns "closed", "half-open" or "open".
func (s CircuitState) String() string {
	switch s {
	case CircuitClosed:
		return "closed"
	case CircuitHalfOpen:
		return "half-open"
	case CircuitOpen:
		return "open"
	}
	return "CircuitState(" + strconv.Itoa(int(s)) + ")"
}

// circuitState converts gobreaker's state to memerr's.
func circuitState(s gobreaker.State) CircuitState {
	switch s {
	case gobreaker.StateHalfOpen:
		return CircuitHalfOpen
	case gobreaker.StateOpen:
		return CircuitOpen
	}
	return CircuitClosed
}

// BreakerError is returned (wrapped by the http.Client as a *url.Error) when
// a scope's breaker rejects a request. Use errors.As to reach it.
type BreakerError struct {
	Host      string        // the breaker scope: scheme://host:port unless WithBreakerScope says otherwise
	State     CircuitState  // CircuitOpen, or CircuitHalfOpen when its trial requests are all taken
	Remaining time.Duration // time left before the breaker lets a trial request through; 0 if half-open
}

// Error reads "memerr: circuit open for http://host:80 (half-open in 12s)".
func (e *BreakerError) Error() string {
	s := "memerr: circuit open for " + e.Host
	if e.State == CircuitHalfOpen {
		return s + " (half-open, trial requests in flight)"
	}
	return s + " (half-open in " + e.Remaining.Round(time.Millisecond).String() + ")"
}

// Unwrap gives ErrCircuitOpen and, for code written against gobreaker,
// gobreaker's matching error (ErrOpenState, or ErrTooManyRequests when
// half-open), so errors.Is matches either.
func (e *BreakerError) Unwrap() []error {
	if e.State == CircuitHalfOpen {
		return []error{ErrCircuitOpen, gobreaker.ErrTooManyRequests}
	}
	return []error{ErrCircuitOpen, gobreaker.ErrOpenState}
}

// BreakerSettings configures the circuit breakers, one per scope (per
// host unless WithBreakerScope narrows it). A zero field takes the default
// written beside it.
//
// A breaker counts as failures: network errors, attempt timeouts,
// KindUnavailable, KindInternal and any 5xx. It counts as successes: 2xx
// and 4xx other than 429 (the server answered and is healthy). Rate limits,
// the caller's cancelled or timed-out context and the caller's unreadable
// request body count as neither. It trips when, over the rolling Window, at
// least MinRequests counted requests saw a failure ratio of FailureRatio or
// more, or when ConsecutiveFailures failures come in a row. Open, it
// refuses every request for its open period, then lets HalfOpenRequests
// trial requests through: their success closes it, a failure opens it
// again. The open period starts at OpenTimeout and doubles with each
// opening that follows another without a closed spell of MaxOpenTimeout
// between them, up to MaxOpenTimeout, so a host that recovers at once is
// back within about a second and one that stays down is probed ever less
// often.
type BreakerSettings struct {
	Window              time.Duration // rolling window of the failure ratio; default 60s
	Buckets             int           // the window moves in Window/Buckets steps; default 10
	MinRequests         uint32        // counted requests in the window before the ratio can trip; default 20
	FailureRatio        float64       // failures / counted requests that trip; default 0.5
	ConsecutiveFailures uint32        // failures in a row that trip whatever the ratio; default 5
	OpenTimeout         time.Duration // first open period, before trial requests go through (half-open); default 1s
	MaxOpenTimeout      time.Duration // cap of the growing open period; default 60s (never below OpenTimeout)
	HalfOpenRequests    uint32        // trial requests allowed half-open, and successes needed to close; default 1
}

func (s BreakerSettings) withDefaults() BreakerSettings {
	if s.Window <= 0 {
		s.Window = 60 * time.Second
	}
	if s.Buckets <= 0 {
		s.Buckets = 10
	}
	if s.MinRequests == 0 {
		s.MinRequests = 20
	}
	if s.FailureRatio <= 0 || s.FailureRatio > 1 {
		s.FailureRatio = 0.5
	}
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = 5
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = time.Second
	}
	if s.MaxOpenTimeout <= 0 {
		s.MaxOpenTimeout = 60 * time.Second
	}
	s.MaxOpenTimeout = max(s.MaxOpenTimeout, s.OpenTimeout)
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	return s
}

// readyToTrip is gobreaker's ReadyToTrip: the trip conditions on the counts
// of the rolling window.
func (s *BreakerSettings) readyToTrip(c gobreaker.Counts) bool {
	if c.ConsecutiveFailures >= s.ConsecutiveFailures {
		return true
	}
	counted := c.TotalSuccesses + c.TotalFailures
	return counted >= s.MinRequests && float64(c.TotalFailures) >= s.FailureRatio*float64(counted)
}

// openPeriod is the open period of the breaker's trips-th opening in a row.
func (s *BreakerSettings) openPeriod(trips int) time.Duration {
	d := s.OpenTimeout
	for i := 1; i < trips && d < s.MaxOpenTimeout; i++ {
		d *= 2
	}
	return min(d, s.MaxOpenTimeout)
}

// reopenPeriod is the open period that follows a failed trial after an
// open period of length last (a fleet's, whose trips this replica did not
// count): twice as long, within OpenTimeout and MaxOpenTimeout.
func (s *BreakerSettings) reopenPeriod(last time.Duration) time.Duration {
	return min(max(2*min(last, s.MaxOpenTimeout), s.OpenTimeout), s.MaxOpenTimeout)
}

// Outcomes reported to gobreaker's done callback.
var (
	errBreakerFailure  = errors.New("memerr: breaker failure")
	errBreakerExcluded = errors.New("memerr: breaker excluded")
)

// breaker is the circuit breaker of one scope, on gobreaker's two-step
// breaker, which counts outcomes over its rolling window (BucketPeriod),
// trips on them (ReadyToTrip) and runs the half-open trials.
//
// The open period is memerr's: gobreaker's is fixed and read from the wall
// clock, while memerr's grows on repeated trips and is read from timeNow,
// the one clock of the package. So gobreaker's own open state lasts a
// nanosecond, and openUntil refuses requests, without calling gobreaker,
// until the period is over; the first request after it finds gobreaker
// half-open.
type breaker struct {
	key      string
	s        *BreakerSettings
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	onChange func(BreakerChange)

	openUntil atomic.Int64 // end of the open period in Unix ns of timeNow; 0 when not open
	npending  atomic.Int32 // len(pending), read without the lock

	mu         sync.Mutex
	trips      int       // openings in a row, for the open period
	closedAt   time.Time // when it last closed
	hiddenHalf bool      // gobreaker went half-open within the open period; not yet reported
	pending    []BreakerChange
	notifying  bool
}

func newBreaker(key string, s *BreakerSettings, onChange func(BreakerChange)) *breaker {
	b := &breaker{key: key, s: s, onChange: onChange}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          key,
		MaxRequests:   s.HalfOpenRequests,
		Interval:      s.Window,
		BucketPeriod:  max(s.Window/time.Duration(s.Buckets), 1),
		Timeout:       time.Nanosecond, // the open period is openUntil's
		ReadyToTrip:   s.readyToTrip,
		IsExcluded:    func(err error) bool { return err == errBreakerExcluded },
		OnStateChange: b.changed,
	})
	return b
}

// changed is gobreaker's OnStateChange, called with gobreaker's lock held:
// it starts or ends the open period and queues the change, which notify
// reports once the call into gobreaker has returned (so a hook may call
// Transport.BreakerState).
func (b *breaker) changed(_ string, from, to gobreaker.State) {
	now := timeNow()
	b.mu.Lock()
	defer b.mu.Unlock()
	var until time.Time
	switch to {
	case gobreaker.StateOpen:
		if from == gobreaker.StateClosed && now.Sub(b.closedAt) >= b.s.MaxOpenTimeout {
			b.trips = 0 // closed long enough: earlier trips are forgotten
		}
		b.trips++
		until = now.Add(b.s.openPeriod(b.trips))
		b.openUntil.Store(until.UnixNano())
	case gobreaker.StateClosed:
		b.closedAt = now
		b.openUntil.Store(0)
	case gobreaker.StateHalfOpen:
		if now.UnixNano() < b.openUntil.Load() {
			b.hiddenHalf = true // reported when the open period ends
			return
		}
	}
	b.queue(BreakerChange{Host: b.key, From: circuitState(from), To: circuitState(to), Until: until})
}

// queue adds a change for notify; b.mu is held.
func (b *breaker) queue(ch BreakerChange) {
	if b.onChange != nil {
		b.pending = append(b.pending, ch)
		b.npending.Add(1)
	}
}

// notify reports the pending state changes to onChange, in order.
func (b *breaker) notify() {
	if b.npending.Load() == 0 {
		return
	}
	b.mu.Lock()
	if b.notifying {
		b.mu.Unlock()
		return // the goroutine reporting will report these too
	}
	b.notifying = true
	for len(b.pending) > 0 {
		ch := b.pending[0]
		b.pending = b.pending[1:]
		b.npending.Add(-1)
		b.mu.Unlock()
		b.onChange(ch)
		b.mu.Lock()
	}
	b.pending = nil
	b.notifying = false
	b.mu.Unlock()
}

// period is the length of the breaker's current (or last) open period.
func (b *breaker) period() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s.openPeriod(b.trips)
}

// isOpen reports whether the breaker is in its open period at now.
func (b *breaker) isOpen(now time.Time) bool {
	until := b.openUntil.Load()
	return until != 0 && now.UnixNano() < until
}

// refusal is the *BreakerError of a request at now when the breaker is in
// its open period, else nil. It changes nothing: a request to a scope with
// a quota asks it before taking a place it would not use.
func (b *breaker) refusal(now time.Time) *BreakerError {
	if until := b.openUntil.Load(); until != 0 {
		if left := until - now.UnixNano(); left > 0 {
			return &BreakerError{Host: b.key, State: CircuitOpen, Remaining: time.Duration(left)}
		}
	}
	return nil
}

// allow lets a request through the breaker at now, returning gobreaker's
// done for its outcome, or refuses it with a *BreakerError.
func (b *breaker) allow(now time.Time) (func(error), error) {
	if be := b.refusal(now); be != nil {
		return nil, be
	}
	if b.openUntil.Load() != 0 {
		b.mu.Lock()
		if b.hiddenHalf {
			b.hiddenHalf = false
			b.queue(BreakerChange{Host: b.key, From: CircuitOpen, To: CircuitHalfOpen})
		}
		b.mu.Unlock()
	}
	done, err := b.cb.Allow()
	if err == nil && b.isOpen(now) {
		// Another request tripped the breaker after the check above, and
		// gobreaker, open for its nanosecond only, took this one for a
		// half-open trial: it is refused, and its trial slot given back.
		done(errBreakerExcluded)
		err = gobreaker.ErrOpenState
	}
	b.notify()
	if err == nil {
		return done, nil
	}
	be := &BreakerError{Host: b.key, State: CircuitOpen}
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		be.State = CircuitHalfOpen
	} else if until := b.openUntil.Load(); until != 0 {
		be.Remaining = max(0, time.Duration(until-now.UnixNano()))
	}
	return nil, be
}

// report hands an attempt's outcome to gobreaker's done: nil for a
// success, errBreakerFailure or errBreakerExcluded.
func (b *breaker) report(done func(error), outcome error) {
	done(outcome)
	b.notify()
}

// state is the breaker's state at now.
func (b *breaker) state(now time.Time) CircuitState {
	if b.isOpen(now) {
		return CircuitOpen
	}
	s := b.cb.State()
	b.notify()
	return circuitState(s)
}

// scope is what one breaker scope owns: its breaker and its retry budget.
type scope struct {
	key     string
	breaker *breaker     // nil when breakers are off
	budget  *RetryBudget // nil when the budget is off
	used    atomic.Bool  // used since the last sweep

	// vendor is the vendor detected for sure in a response of this scope
	// when the Transport was given none for its host: later responses are
	// read as that vendor's (see Transport.vendorOf).
	vendor atomic.Pointer[Vendor]

	// hold is the server's last "not before" for the scope (see
	// call.waitOutHold); nil when it never asked.
	hold atomic.Pointer[hold]

	quota *Quota // WithQuota's for this scope; nil when it has none
}

// hold is a server's request to leave a scope alone until a moment: a
// rate-limit or quota failure with a wait hint.
type hold struct {
	until  time.Time // on timeNow's clock
	kind   Kind      // KindRateLimited or KindQuotaExceeded; KindUnavailable for another replica's open circuit
	vendor Vendor
	code   string
	period time.Duration // an open circuit's open period (FleetHold.Period)
	trial  bool          // a fleet's open circuit that has ended: its trial is elected (call.probe)
}

// resting reports whether the scope is to be left alone at now: its
// breaker open, or a hold in force.
func (s *scope) resting(now time.Time) bool {
	if s.breaker != nil && s.breaker.isOpen(now) {
		return true
	}
	h := s.hold.Load()
	return h != nil && h.until.After(now)
}

// holdUntil records that the scope is held until h.until, keeping the
// later of two holds.
func (s *scope) holdUntil(h *hold) {
	for {
		cur := s.hold.Load()
		if cur != nil && !cur.until.Before(h.until) {
			return
		}
		if s.hold.CompareAndSwap(cur, h) {
			return
		}
	}
}

// HoldError is returned (wrapped by the http.Client as a *url.Error) when a
// request is not sent because the server asked, in an earlier response of
// the same scope (to this Transport or, with WithFleet, to another replica),
// to wait longer than the request can: past its context's deadline or
// MaxRetryWait; or, with WithFleet, because another replica's breaker for
// the scope is open (Code "circuit_open", Kind KindUnavailable: such a
// request fails at once, as one refused by a breaker here), or because its
// open period has ended and another replica sends the fleet's trial
// request (see FleetProber; Remaining is then 0). It unwraps to
// the Kind's sentinel (ErrRateLimited, ErrQuotaExceeded; ErrUnavailable and
// ErrCircuitOpen for an open circuit); Client.Do turns it into an *Error of
// that Kind with RetryAfter set. Use errors.As to reach it.
//
// A request over its scope's quota (WithQuota) that cannot wait its turn
// fails with a HoldError too: Code "quota", Kind KindRateLimited, Vendor
// the scope's (Generic when unknown), Remaining the wait it would need.
type HoldError struct {
	Scope     string        // the breaker scope: scheme://host:port by default
	Vendor    Vendor        // who asked, Generic when unknown
	Code      string        // the code of the failure that asked
	Kind      Kind          // KindRateLimited or KindQuotaExceeded; KindUnavailable for another replica's open circuit
	Remaining time.Duration // time left before the scope may be called; 0 while the fleet's trial request is in flight
}

// Error reads "memerr: rate limited: http://host:80 asked for a wait of 12s",
// "memerr: circuit open for http://host:80 on another replica (half-open
// in 800ms)", "memerr: circuit open for http://host:80 on another replica
// (half-open, the fleet's trial request in flight)" once the open period
// has ended and another replica sends the fleet's trial request, or
// "memerr: rate limited: quota of http://host:80 used up for 1.5s".
func (e *HoldError) Error() string {
	if e.Code == circuitOpenCode && e.Remaining <= 0 {
		return "memerr: circuit open for " + e.Scope + " on another replica (half-open, the fleet's trial request in flight)"
	}
	if e.Code == circuitOpenCode {
		return "memerr: circuit open for " + e.Scope + " on another replica (half-open in " + e.Remaining.Round(time.Millisecond).String() + ")"
	}
	if e.Code == quotaCode {
		return "memerr: rate limited: quota of " + e.Scope + " used up for " + e.Remaining.Round(time.Millisecond).String()
	}
	return "memerr: " + e.Kind.String() + ": " + e.Scope + " asked for a wait of " + e.Remaining.Round(time.Millisecond).String()
}

// Unwrap gives the Kind's sentinel, so errors.Is(err, ErrRateLimited)
// holds; for a circuit another replica has open, ErrUnavailable and
// ErrCircuitOpen.
func (e *HoldError) Unwrap() []error {
	if e.Code == circuitOpenCode {
		return []error{e.Kind.Err(), ErrCircuitOpen}
	}
	return []error{e.Kind.Err()}
}

// scopes holds the scopes of a Transport. Idle ones are swept away: when
// the map has grown to twice its size after the last sweep (and at least
// minSweep), every scope not used since that sweep is dropped, so the
// memory held stays proportional to the scopes in recent use, whatever
// the number of hosts a transport has seen.
type scopes struct {
	cfg      *config
	onChange func(BreakerChange)
	recent   atomic.Pointer[[]spelledScope] // host scopes of the last hosts seen, newest first

	mu      sync.Mutex
	m       map[string]*scope
	sweepAt int
}

// minSweep is the number of scopes below which none is swept.
const minSweep = 1024

// spelledScope is a host scope under the scheme and host a URL spelled.
type spelledScope struct {
	scheme, host string
	sc           *scope
}

// maxRecent is how many hosts recent remembers.
const maxRecent = 8

func newScopes(cfg *config, onChange func(BreakerChange)) *scopes {
	cfg.breaker = cfg.breaker.withDefaults()
	return &scopes{cfg: cfg, onChange: onChange, m: map[string]*scope{}, sweepAt: minSweep}
}

// forRequest returns r's scope. The host scope of one of the last few
// hosts seen is found without a lock or an allocation.
// scopeKey is r's scope when it is narrower than its host: what
// WithBreakerScope says, else the part of the host its vendor's profile
// names (Profile.Scope); "" for the host's own.
func (c *config) scopeKey(r *http.Request) string {
	if f := c.breakerScope; f != nil {
		return f(r)
	}
	if v := c.vendorFor(r.URL); v != Auto {
		if p := lookupProfile(v); p != nil && p.Scope != nil {
			if part := p.Scope(r); part != "" {
				return canonicalHost(r.URL) + part
			}
		}
	}
	return ""
}

func (ss *scopes) forRequest(r *http.Request) *scope {
	if key := ss.cfg.scopeKey(r); key != "" {
		return ss.get(key)
	}
	u := r.URL
	recent := ss.recent.Load()
	if recent != nil {
		for i := range *recent {
			if l := &(*recent)[i]; l.host == u.Host && l.scheme == u.Scheme {
				if !l.sc.used.Load() {
					l.sc.used.Store(true)
				}
				return l.sc
			}
		}
	}
	sc := ss.get(canonicalHost(u))
	next := []spelledScope{{scheme: u.Scheme, host: u.Host, sc: sc}}
	if recent != nil {
		next = append(next, (*recent)[:min(len(*recent), maxRecent-1)]...)
	}
	// Not over a sweep's reset: recent never holds a scope swept away.
	ss.recent.CompareAndSwap(recent, &next)
	return sc
}

// get returns the scope of key, made if new.
func (ss *scopes) get(key string) *scope {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sc, ok := ss.m[key]
	if !ok {
		if len(ss.m) >= ss.sweepAt {
			ss.sweep()
		}
		sc = &scope{key: key, budget: ss.cfg.budget, quota: ss.cfg.quotas[key]}
		if !ss.cfg.budgetSet {
			sc.budget = NewRetryBudget(0, 0)
		}
		if !ss.cfg.noBreaker {
			sc.breaker = newBreaker(key, &ss.cfg.breaker, ss.onChange)
		}
		ss.m[key] = sc
	}
	sc.used.Store(true)
	return sc
}

// sweep drops the scopes not used since the last sweep; ss.mu is held. A
// scope whose breaker is open or whose server's wait is in force is not
// idle: dropping it would forget that the host asked to be left alone.
func (ss *scopes) sweep() {
	now := timeNow()
	for k, sc := range ss.m {
		if !sc.used.Load() && !sc.resting(now) {
			delete(ss.m, k)
		} else {
			sc.used.Store(false)
		}
	}
	ss.recent.Store(nil)
	ss.sweepAt = max(minSweep, 2*len(ss.m))
}

// lookup returns the scope of key if there is one.
func (ss *scopes) lookup(key string) (*scope, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sc, ok := ss.m[key]
	return sc, ok
}

// len is the number of scopes held.
func (ss *scopes) len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// canonicalHost is scheme://host:port, lower-case, with the scheme's
// default port filled in.
func canonicalHost(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		default:
			port = "80"
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}

// BreakerState returns the state of the breaker that requests to rawURL
// ("https://api.coze.cn", or a full URL when WithBreakerScope keys by more
// than the host) go through, and false if the Transport has no breaker for
// it yet (or breakers are disabled).
func (t *Transport) BreakerState(rawURL string) (CircuitState, bool) {
	t.init()
	if t.cfg.noBreaker {
		return CircuitClosed, false
	}
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return CircuitClosed, false
	}
	key := t.cfg.scopeKey(req)
	if key == "" {
		key = canonicalHost(req.URL)
	}
	sc, ok := t.scopes.lookup(key)
	if !ok || sc.breaker == nil {
		return CircuitClosed, false
	}
	return sc.breaker.state(timeNow()), true
}
