package memerr

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// ErrCircuitOpen is wrapped by the error a Transport returns when a host's
// circuit breaker rejects a request without sending it. errors.Is(err,
// gobreaker.ErrOpenState) holds too; errors.As to *BreakerError gives the
// host and the time left open.
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
// a host's breaker rejects a request. Use errors.As to reach it.
type BreakerError struct {
	Host      string        // scheme://host:port
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

// Unwrap gives ErrCircuitOpen and gobreaker's own error, so errors.Is
// matches either.
func (e *BreakerError) Unwrap() []error {
	if e.State == CircuitHalfOpen {
		return []error{ErrCircuitOpen, gobreaker.ErrTooManyRequests}
	}
	return []error{ErrCircuitOpen, gobreaker.ErrOpenState}
}

// BreakerSettings configures the per-host circuit breakers. A zero field
// takes the default written beside it.
//
// A breaker counts as failures: network errors, KindUnavailable,
// KindInternal and any 5xx. It counts as successes: 2xx and 4xx other than
// 429 (the server answered and is healthy). Rate limits and cancelled or
// timed-out contexts count as neither. It trips when, over the rolling
// Window, at least MinRequests counted requests saw a failure ratio of
// FailureRatio or more, or when ConsecutiveFailures failures come in a row
// within the Window. Outcomes of requests sent before the breaker last
// changed state are not counted, and a breaker that closes starts its
// counts afresh.
type BreakerSettings struct {
	Window              time.Duration // rolling window of the failure ratio; default 60s
	Buckets             int           // the window moves in Window/Buckets steps; default 10
	MinRequests         uint32        // counted requests in the window before the ratio can trip; default 20
	FailureRatio        float64       // failures / counted requests that trip; default 0.5
	ConsecutiveFailures uint32        // failures in a row that trip whatever the ratio; default 5
	OpenTimeout         time.Duration // time open before trial requests go through (half-open); default 10s
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
		s.OpenTimeout = 10 * time.Second
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	return s
}

// Outcomes reported to gobreaker's done callback.
var (
	errBreakerFailure  = errors.New("memerr: breaker failure")
	errBreakerExcluded = errors.New("memerr: breaker excluded")
)

// hostBreaker is the breaker of one scheme://host:port.
//
// gobreaker's two-step breaker holds its state: it opens, waits
// OpenTimeout, lets HalfOpenRequests trial requests through, and closes or
// opens again on their outcome. While it is closed, which is nearly always,
// requests do not call into it: they read the state from mirror, count
// their outcomes in win without a lock, and call gobreaker only to trip it
// when win's counts say so. Through gobreaker, a request made two calls,
// each through its one mutex and each reading the clock; on a busy
// transport that was most of memerr's cost on the success path
// (BENCHMARKS.md).
type hostBreaker struct {
	key      string
	settings *BreakerSettings
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	onChange func(host string, from, to gobreaker.State)

	// mirror is gobreaker's state as the closed path sees it: the number
	// of its state changes so far, times two, plus one while it is closed.
	// One load tells a request whether it may pass without gobreaker, and
	// whether its outcome still belongs to the state it passed in.
	mirror atomic.Uint64
	win    *window // the counts of the current closed state

	npending atomic.Int32 // len(pending), read without the lock

	mu        sync.Mutex
	openedAt  time.Time
	pending   []stateChange // changes not yet reported to onChange
	notifying bool          // a goroutine is reporting pending changes
}

type stateChange struct{ from, to gobreaker.State }

// notify reports the pending state changes to onChange, in order. gobreaker
// calls OnStateChange while it holds its lock, so the change is only queued
// there and reported here, after the call into gobreaker has returned: a
// hook or logger may then call Transport.BreakerState without deadlocking.
func (hb *hostBreaker) notify() {
	if hb.npending.Load() == 0 {
		return
	}
	hb.mu.Lock()
	if hb.notifying {
		hb.mu.Unlock()
		return // the goroutine reporting will report these too
	}
	hb.notifying = true
	for len(hb.pending) > 0 {
		c := hb.pending[0]
		hb.pending = hb.pending[1:]
		hb.npending.Add(-1)
		hb.mu.Unlock()
		hb.onChange(hb.key, c.from, c.to)
		hb.mu.Lock()
	}
	hb.pending = nil
	hb.notifying = false
	hb.mu.Unlock()
}

// state is the breaker's state; it reports a change the reading caused
// (open to half-open when the timeout has passed).
func (hb *hostBreaker) state() gobreaker.State {
	s := hb.cb.State()
	hb.notify()
	return s
}

// pass is a request's leave from its breaker, for report.
type pass struct {
	state uint64      // hb.mirror when a closed breaker let the request through
	done  func(error) // gobreaker's, when it let the request through; nil when closed
}

// report counts the outcome of a request that pass let through: nil for a
// success, errBreakerFailure or errBreakerExcluded. An outcome of a request
// let through before the breaker last changed state is dropped, as
// gobreaker drops it.
func (hb *hostBreaker) report(p pass, outcome error) {
	if p.done != nil {
		// Let through by gobreaker (open or half-open when it asked):
		// gobreaker counts it. Had the breaker closed since, gobreaker
		// drops it by generation, and win never sees it.
		p.done(outcome)
		hb.notify()
		return
	}
	if hb.mirror.Load() != p.state {
		return
	}
	switch outcome {
	case nil:
		hb.win.success()
	case errBreakerFailure:
		if hb.win.failure(hb.settings) {
			hb.trip(p.state)
		}
	}
}

// trip opens a breaker that is still in the closed state st, through
// gobreaker: a failure reported to it while closed calls ReadyToTrip, which
// reads win and so agrees.
func (hb *hostBreaker) trip(st uint64) {
	done, err := hb.cb.Allow()
	if err == nil {
		if hb.mirror.Load() == st {
			done(errBreakerFailure)
		} else {
			done(errBreakerExcluded) // it changed state meanwhile; not this request's to judge
		}
	}
	hb.notify()
}

// breakers holds one hostBreaker per scheme://host:port.
type breakers struct {
	settings BreakerSettings
	onChange func(host string, from, to gobreaker.State)

	byURL sync.Map // hostKey -> *urlBreaker, keyed as the URL spells it
	last  atomic.Pointer[urlBreaker]
	mu    sync.Mutex
	byKey map[string]*hostBreaker // canonical key -> breaker
}

type hostKey struct{ scheme, host string }

// urlBreaker is a breaker under the scheme and host a URL spells it with.
type urlBreaker struct {
	hostKey
	hb *hostBreaker
}

func newBreakers(s BreakerSettings, onChange func(string, gobreaker.State, gobreaker.State)) *breakers {
	return &breakers{settings: s.withDefaults(), onChange: onChange, byKey: map[string]*hostBreaker{}}
}

// forURL returns the breaker of u's scheme://host:port. The common case, a
// transport that calls one host, compares two strings with the last host
// seen; then one sync.Map load; neither allocates.
func (b *breakers) forURL(u *url.URL) *hostBreaker {
	if l := b.last.Load(); l != nil && l.host == u.Host && l.scheme == u.Scheme {
		return l.hb
	}
	k := hostKey{u.Scheme, u.Host}
	if e, ok := b.byURL.Load(k); ok {
		ub := e.(*urlBreaker)
		b.last.Store(ub)
		return ub.hb
	}
	canon := canonicalHost(u)
	b.mu.Lock()
	hb, ok := b.byKey[canon]
	if !ok {
		hb = b.newHostBreaker(canon)
		b.byKey[canon] = hb
	}
	b.mu.Unlock()
	ub := &urlBreaker{k, hb}
	b.byURL.Store(k, ub)
	b.last.Store(ub)
	return hb
}

// canonicalHost is scheme://host:port with the scheme's default port filled in.
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

func (b *breakers) newHostBreaker(key string) *hostBreaker {
	s := &b.settings
	hb := &hostBreaker{key: key, settings: s, onChange: b.onChange, win: newWindow(s.Window, s.Buckets)}
	hb.mirror.Store(1) // no changes yet; closed
	hb.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        key,
		MaxRequests: s.HalfOpenRequests,
		Timeout:     s.OpenTimeout,
		// No Interval: gobreaker keeps no counts of its own that matter.
		// Closed, it is only called to trip (or by a request that asked
		// it as it closed), and its ReadyToTrip reads win.
		ReadyToTrip: func(gobreaker.Counts) bool { return hb.win.trips(s, hb.win.age()) },
		IsExcluded:  func(err error) bool { return err == errBreakerExcluded },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			// Called with gobreaker's lock held, so changes come one at a
			// time. A closed state starts with empty counts.
			next := (hb.mirror.Load()>>1 + 1) << 1
			if to == gobreaker.StateClosed {
				hb.win.reset()
				next |= 1
			}
			hb.mirror.Store(next)
			// Queue the change for onChange, reported in notify.
			hb.mu.Lock()
			if to == gobreaker.StateOpen {
				hb.openedAt = time.Now()
			}
			if hb.onChange != nil {
				hb.pending = append(hb.pending, stateChange{from, to})
				hb.npending.Add(1)
			}
			hb.mu.Unlock()
		},
	})
	return hb
}

// allow lets a request through the breaker, or returns a *BreakerError.
// A closed breaker lets it through with one atomic load; otherwise
// gobreaker decides.
func (hb *hostBreaker) allow(timeout time.Duration) (pass, error) {
	if st := hb.mirror.Load(); st&1 != 0 {
		return pass{state: st}, nil
	}
	done, err := hb.cb.Allow()
	hb.notify()
	if err == nil {
		return pass{done: done}, nil
	}
	be := &BreakerError{Host: hb.key, State: CircuitOpen}
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		be.State = CircuitHalfOpen
	} else {
		hb.mu.Lock()
		be.Remaining = max(0, timeout-time.Since(hb.openedAt))
		hb.mu.Unlock()
	}
	return pass{}, be
}

// BreakerState returns the state of the breaker of the host of rawURL
// ("https://api.coze.cn"), and false if the Transport has no breaker for it
// yet (or breakers are disabled).
func (t *Transport) BreakerState(rawURL string) (CircuitState, bool) {
	if t.breakers == nil {
		return CircuitClosed, false
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return CircuitClosed, false
	}
	t.breakers.mu.Lock()
	hb, ok := t.breakers.byKey[canonicalHost(u)]
	t.breakers.mu.Unlock()
	if !ok {
		return CircuitClosed, false
	}
	return circuitState(hb.state()), true
}
