package memerr

import (
	"context"
	"net/http"
	"time"
)

// Fleet shares holds between the replicas of a service: when one replica
// learns that a scope must be left alone until a moment (a rate-limit or
// quota failure with a wait hint), the others learn it too and do not each
// collect their own refusal. The Transport consults it before every
// attempt, so neither method may block: Hold hands any I/O to another
// goroutine, and Held reads memory only.
//
// The nested module github.com/memerr/memerr/fleet implements it on Redis.
// A Fleet may return anything from Held: the Transport never waits longer
// than MaxRetryWait or the request's deadline for a fleet's hold (it fails
// at once with a *HoldError instead), and treats a hold of any other Kind
// than KindQuotaExceeded or KindUnavailable (a replica's open circuit) as a
// rate limit.
type Fleet interface {
	// Hold records that scope is held as h says, keeping the later of
	// two holds, and tells the other replicas. It must not block.
	Hold(scope string, h FleetHold)
	// Held is the hold known locally for scope, if any; ok is false
	// when there is none. It must not block.
	Held(scope string) (h FleetHold, ok bool)
}

// FleetHold is a hold shared through a Fleet: the scope may not be called
// before Until.
type FleetHold struct {
	Until  time.Time // wall-clock time
	Kind   Kind      // KindRateLimited or KindQuotaExceeded; KindUnavailable for a replica's open circuit
	Vendor Vendor    // who asked; empty for an open circuit
	Code   string    // the vendor's code of the failure that asked; "circuit_open" for an open circuit
	// Period is, for an open circuit, the length of the open period that
	// ends at Until; a failed trial of the fleet (see FleetProber) opens
	// the next one for twice as long. 0 when unknown.
	Period time.Duration
}

// FleetProber is implemented by a Fleet that also elects, when a shared
// open circuit ends, the one replica that sends the trial request: the
// fleet then sends one probe instead of one per replica. The Transport
// finds it on the Fleet given to WithFleet (a type assertion, once); with a
// Fleet that does not implement it, each replica probes on its own.
//
// For such a Fleet, Held keeps returning a circuit hold (Kind
// KindUnavailable, Code "circuit_open") after its Until until a verdict
// clears it. While it does, a request to the scope first asks Probe: the
// request Probe grants is sent as the fleet's trial, and its outcome is
// reported with Verdict; every other request fails at once with a
// *HoldError, as one refused by a half-open breaker. A trial that succeeds
// closes the circuit for every replica; one that fails is followed by a new
// circuit hold (Hold) for twice the Period, within the breaker's
// OpenTimeout and MaxOpenTimeout.
type FleetProber interface {
	// Probe asks for the lease of scope's trial. true: this request is
	// the trial, and Verdict must follow; false: another replica, or
	// another request of this one, holds the lease. It runs on the
	// request's goroutine: it may ask a store, but must return within a
	// short bound, and answer true when it cannot tell (the store is
	// away), so that each replica then probes for itself.
	Probe(ctx context.Context, scope string) bool
	// Verdict ends the trial Probe granted. closed: the server answered
	// (the circuit closes for every replica, which forget the ended
	// hold); otherwise the lease is given up, after a failure once the
	// Transport has recorded the new hold. It must not block.
	Verdict(scope string, closed bool)
}

// FleetTripper is implemented by a Fleet that also counts a scope's
// breaker failures across the fleet, so that the replicas trip together:
// without it, each replica's breaker spends its own ConsecutiveFailures
// before it opens and shares its open circuit, and a fleet of N replicas
// sends about N times the failures one replica does before it stops. The
// Transport finds it on the Fleet given to WithFleet (a type assertion,
// once) and, when its breakers are on, reports every attempt the breaker
// counts: a failure to Failed, a success to Succeeded.
//
// The fleet keeps one count of failures in a row per scope, for all
// replicas: a success on any replica starts it again from zero. When it
// reaches the breaker's ConsecutiveFailures, the fleet opens the scope's
// circuit for every replica: it records (Hold) a circuit hold (Kind
// KindUnavailable, Code "circuit_open") ending OpenTimeout later, with
// that Period, as a replica whose own breaker opens shares one. Each
// replica's breaker keeps counting for itself too (the failure ratio over
// its Window is its own), and decides alone when the fleet cannot count.
type FleetTripper interface {
	// Failed reports a breaker failure of scope on this replica; s are
	// the breaker's settings, defaults applied. It runs on the request's
	// goroutine and must not block: any I/O goes to another goroutine.
	Failed(scope string, s BreakerSettings)
	// Succeeded reports a breaker success of scope on this replica, which
	// starts the fleet's count again. It runs after every success and must
	// not block; it should do no I/O while the count is known to be zero.
	Succeeded(scope string)
}

// circuitOpenCode is the Code of the hold a replica shares while its
// breaker for a scope is open.
const circuitOpenCode = "circuit_open"

// WithFleet shares the transport's holds with the other replicas of a
// service through f (see Fleet), and waits out theirs: before each
// attempt, the later of the scope's own hold and the fleet's is waited out
// or fails at once, as a hold of its own would. Scopes are the breaker
// scopes' keys (scheme://host:port by default, see WithBreakerScope).
// When f is also a FleetProber, one replica of the fleet sends the trial
// request when a shared open circuit ends, and the others wait for its
// verdict; when f is a FleetTripper, the replicas' breaker failures are
// counted together, and the first ConsecutiveFailures in a row across the
// fleet open the circuit for every replica. Default: none; a Transport
// without a fleet holds its scopes alone.
func WithFleet(f Fleet) Option { return func(c *config) { c.fleet = f } }

// fleetHold is the later of h, the scope's own hold, and the fleet's hold
// for the scope. A fleet's hold is checked before it is trusted: a Kind
// other than a quota failure or an open circuit reads as a rate limit, and
// a wait is capped at MaxHint.
func (c *call) fleetHold(h *hold) *hold {
	fh, ok := c.t.cfg.fleet.Held(c.scope.key)
	if !ok || (h != nil && !fh.Until.After(h.until)) || (c.held != nil && !fh.Until.After(c.held.until)) {
		return h // the local hold is as late; or the fleet echoes this request's own
	}
	now := timeNow()
	if !fh.Until.After(now) {
		if c.t.prober != nil && fh.Kind == KindUnavailable && fh.Code == circuitOpenCode {
			// An open circuit that has ended without a verdict: the fleet
			// elects its trial (call.probe).
			return &hold{until: fh.Until, kind: KindUnavailable, vendor: Generic, code: circuitOpenCode, period: fh.Period, trial: true}
		}
		return h
	}
	if fh.Until.Sub(now) > MaxHint {
		fh.Until = now.Add(MaxHint)
	}
	if fh.Kind != KindQuotaExceeded && fh.Kind != KindUnavailable {
		fh.Kind = KindRateLimited
	}
	if fh.Vendor == Auto {
		fh.Vendor = Generic
	}
	return &hold{until: fh.Until, kind: fh.Kind, vendor: fh.Vendor, code: fh.Code}
}

// probe asks the fleet whether this attempt is the trial of the scope's
// shared open circuit, which has ended (h): the one attempt the fleet
// elects is sent and its outcome reported (endTrial); any other fails at
// once, as one refused by a half-open breaker.
func (c *call) probe(r *http.Request, h *hold) error {
	if !c.t.prober.Probe(r.Context(), c.scope.key) {
		return &HoldError{Scope: c.scope.key, Vendor: h.vendor, Code: circuitOpenCode, Kind: KindUnavailable}
	}
	c.trial = h
	return nil
}

// endTrial reports the outcome of the fleet's trial (see probe): a success
// closes the circuit for every replica; a failure opens it again for
// twice the last period, as a breaker's next opening does; anything else
// (a rate limit, the caller's cancellation) gives the trial up to the next
// request.
func (c *call) endTrial(outcome error) {
	h, f := c.trial, c.t.cfg.fleet
	c.trial = nil
	switch outcome {
	case nil:
		c.t.prober.Verdict(c.scope.key, true)
		return
	case errBreakerFailure:
		p := c.t.cfg.breaker.reopenPeriod(h.period)
		f.Hold(c.scope.key, FleetHold{Until: timeNow().Add(p), Kind: KindUnavailable, Code: circuitOpenCode, Period: p})
	}
	c.t.prober.Verdict(c.scope.key, false)
}
